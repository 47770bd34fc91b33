"""Reports as tables (shared by the terminal and Markdown), and as one self-contained HTML page with inline
SVG charts (``svg``): no scripts, no downloads.

Values from the data (field values, shard names, record keys) pass through ``untrusted.clean`` in every
format, and are HTML-escaped in the page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from sievekit.reporting import svg
from sievekit.reporting.untrusted import clean

LENGTH_COLUMNS = ("p10", "p50", "p90", "p100")
MIX_BARS = 20


def fmt(value: Any) -> str:
    """A table cell: - for none, thousands separators, four significant digits; never a control character."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return clean(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(fmt(h).replace("|", "\\|") for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


Section = tuple[str, Sequence[str], list[list[Any]]]


def sections(data: dict[str, Any]) -> list[Section]:
    """The report as (title, header, rows) tables, shared by every renderer (titles and cells may hold
    untrusted text: renderers must not read them as markup)."""
    out: list[Section] = [_shards_table(data)]
    run = data.get("run")
    if run:
        rows = [[s.get("name"), s.get("rows_in"), s.get("rows_out")] for s in run["shards"]]
        rows.append(["TOTAL", run.get("rows_in"), run.get("rows_out")])
        out.append((f"Run: sievekit {run.get('command')}{_rule_text(run)}", ["shard", "rows in", "rows out"], rows))
    if run and "target_share" in run:
        out.append(_share_table(run["target_share"]))
    dedupe = (run or {}).get("dedupe")
    if dedupe:
        out += _dedupe_tables(dedupe)
    if "scores" in data:
        rows = [[name, s["summary"].get("count"), s["summary"].get("non_finite", 0), s["summary"].get("p10"),
                 s["summary"].get("p50"), s["summary"].get("p90"), s["spearman_length"]]
                for name, s in data["scores"].items()]
        out.append(("Scores", ["method", "scored", "never selected", "p10", "p50", "p90", "Spearman vs length"], rows))
    if "pool" in data:
        out.append(_selection_table(data))
    if "by" in data:
        out.append(_mix_table(data["by"]))
    if "target" in data:
        rows = [["inputs", *(data["total"]["text_length"].get(q) for q in LENGTH_COLUMNS)],
                ["target", *(data["target"]["text_length"].get(q) for q in LENGTH_COLUMNS)]]
        out.append(("Text length (characters): inputs vs target", ["set", "p10", "p50", "p90", "max"], rows))
    if "kl" in data:
        kl = data["kl"]
        rows = [["KL(target || pool)", kl["kl_target_pool"]], ["KL(target || selection)", kl["kl_target_selected"]],
                ["KL reduction", kl["kl_reduction"]]]
        why = f"; - where not defined: {kl['unavailable']}" if kl.get("unavailable") else ""
        out.append((f"KL reduction toward the target (hashed uni+bigrams, {kl['buckets']:,} buckets{why})",
                    ["", "nats"], rows))
    for title, header, extra_rows in data.get("extra_tables", []):
        out.append((title, header, extra_rows))
    return out


def _shards_table(data: dict[str, Any]) -> Section:
    skips = bool(data["total"]["skipped"])
    rows = [[e["name"], e["rows"], round(e["bytes"] / 1e6, 2), *(e["text_length"].get(q) for q in LENGTH_COLUMNS)]
            + ([", ".join(f"{k} {v}" for k, v in e["skipped"].items()) or "-"] if skips else [])
            for e in data["shards"] + [{"name": "TOTAL", **data["total"]}]]
    header = ["shard", "rows", "MB", "len p10", "len p50", "len p90", "len max"] + (["skipped"] if skips else [])
    return "Shards", header, rows


def _rule_text(run: dict[str, Any]) -> str:
    rule, score = run.get("rule"), run.get("score")
    if not rule:
        return ""
    by = f" by {score['name']}" if score else ""
    return f" ({rule['kind'].replace('_', '-')} {fmt(rule['value'])}{by})"


def _share_table(share: dict[str, Any]) -> Section:
    """The classifier's estimate of the pool's target-like share, and how much of the selection lies past it."""
    title = "Target-like share of the pool (the classifier's label-free estimate)"
    if not share.get("recorded"):
        return title, ["", "value"], [["estimate", "not recorded (fitted before sievekit recorded it)"],
                                      ["kept", share.get("kept")]]
    past = share["kept"] > share["pool_above"]
    rows = [["estimated share", f"{100 * share['estimate']:.2f}%"], ["pool documents it implies", share["pool_above"]],
            ["lowest score among them", "–" if share["boundary"] is None else share["boundary"]],
            ["kept", share["kept"]], ["kept among them", share["kept_above"]],
            ["budget past the estimate", "yes: the selection reaches past what the pool holds" if past else "no"]]
    return title, ["", "value"], rows


def _dedupe_tables(dedupe: dict[str, Any]) -> list[Section]:
    rows = [[k.replace("_", " "), dedupe.get(k)] for k in ("documents_in", "documents_out", "exact_duplicates",
                                                           "near_duplicates", "seen_before", "clusters")]
    rows.append(["LSH", f"{dedupe['bands']} bands x {dedupe['rows']} rows at Jaccard {dedupe['threshold']}, "
                        f"verify {dedupe['verify']}"])
    sizes = [[k, v] for k, v in dedupe["cluster_sizes"].items()]
    return [("Dedupe", ["", "value"], rows), ("Dedupe cluster sizes", ["size", "clusters"], sizes)]


def _selection_table(data: dict[str, Any]) -> Section:
    pool = data["pool"]
    rows: list[list[Any]] = []
    for name, sel in data.get("selection", {}).items():
        hist = sel["histogram"]
        rows.append([name, sum(hist["selected"]) + sum(hist["not_selected"]), sum(hist["selected"]),
                     sel["cutoff"], hist["scale"]])
    for name, why in pool.get("unavailable", {}).items():
        rows.append([name, "-", "-", why, "-"])
    title = (f"Pool vs selection: {pool['rows']:,} pool documents, {pool['selected']:,} of them among the inputs "
             f"({data['total']['rows']:,} documents)")
    return title, ["score", "pool scored", "selected", "cut-off", "bins"], rows


def _mix_table(by: dict[str, Any]) -> Section:
    field, counts = by["field"], by["counts"]
    total = sum(counts.values()) or 1
    if "pool" not in by:
        rows = [[k, v, f"{100 * v / total:.1f}%"] for k, v in counts.items()]
        return f"Mix by {field}", [field, "documents", "share"], rows
    pool = by["pool"]["counts"]
    pool_total = sum(pool.values()) or 1
    keys = list(pool) + [k for k in counts if k not in pool]
    rows = [[k, pool.get(k, 0), f"{100 * pool.get(k, 0) / pool_total:.1f}%", counts.get(k, 0),
             f"{100 * counts.get(k, 0) / total:.1f}%"] for k in keys]
    return f"Mix by {field}: pool vs selection", [field, "pool", "pool share", "selection", "selection share"], rows


def to_markdown(data: dict[str, Any]) -> str:
    parts = ["# sievekit report", ""]
    for title, header, rows in sections(data):
        parts += [f"## {clean(title)}", "", _md_table(header, rows), ""]
    fields = data["total"]["fields"]
    parts.append("Fields: " + ", ".join(f"`{clean(k)}` ({v:,})" for k, v in fields.items()))
    return "\n".join(parts) + "\n"


# -- HTML ------------------------------------------------------------------------------------------------
_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1180px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child{text-align:left}h2{margin-top:2rem;font-size:1.15rem}
.charts{display:flex;flex-wrap:wrap;gap:1.25rem 1.5rem}figure{margin:0;border:1px solid #eee;padding:4px}
figcaption{font-size:12px;color:#555;max-width:560px}svg text{font-family:system-ui,sans-serif;fill:#333}
.lead{color:#555}"""


def _share(counts: Sequence[float]) -> list[float]:
    total = sum(counts) or 1
    return [100 * c / total for c in counts]


def _figure(chart: str, caption: str = "") -> str:
    return f"<figure>{chart}" + (f"<figcaption>{html.escape(clean(caption))}</figcaption>" if caption else "") \
        + "</figure>"


def _wide(values: Sequence[float]) -> bool:
    """Counts spanning two orders of magnitude or more read better on a log axis."""
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) >= 100 * min(positive)


def _run_charts(run: dict[str, Any]) -> list[str]:
    shards = run["shards"]
    out = [_figure(svg.bar_chart(
        [s.get("name") for s in shards],
        [svg.Series("in", [s.get("rows_in") or 0 for s in shards]), svg.Series("out", [s.get("rows_out") or 0
                                                                                      for s in shards])],
        title=f"Documents in and out per shard: sievekit {run.get('command')}", x_title="shard",
        y_title="documents"))]
    dedupe = run.get("dedupe")
    if dedupe:
        sizes = dedupe["cluster_sizes"]
        counts = list(sizes.values())
        log = _wide(counts)
        out.append(_figure(svg.bar_chart(list(sizes), [svg.Series("clusters", counts)],
                                         title="Duplicate clusters by size", x_title="documents in the cluster",
                                         y_title="clusters" + (" (log scale)" if log else ""), y_log=log)))
        curve = dedupe["s_curve"]
        out.append(_figure(svg.line_chart(
            curve["jaccard"], curve["p_candidate"], title="S-curve: the chance a pair becomes a candidate",
            x_title="Jaccard similarity of the pair", y_title="P(candidate)",
            marker=(dedupe["threshold"], f"threshold {dedupe['threshold']}") if dedupe.get("threshold") else None),
            f"{dedupe['bands']} bands x {dedupe['rows']} rows: 1 - (1 - s^{dedupe['rows']})^{dedupe['bands']}"))
    return out


def _ticks(hist: dict[str, Any], scale: str | None = None) -> list[tuple[float, str]]:
    edges = hist["edges"]
    return svg.axis_ticks(edges[0], edges[-1], len(edges) - 1, scale or hist.get("scale", "linear"),
                          hist.get("linthresh", 1.0))


def _bin_labels(edges: Sequence[float]) -> list[str]:
    return [f"{svg.number(a)} to {svg.number(b)}" for a, b in zip(edges, edges[1:])]


def _selection_chart(name: str, sel: dict[str, Any], rule: dict[str, Any] | None) -> str:
    hist = sel["histogram"]
    edges = hist["edges"]
    cut = sel.get("cutoff")
    at = svg.position(edges, cut) if cut is not None else None
    scale = " (symlog bins: log-spaced in both tails)" if hist["scale"] == "symlog" else ""
    rule_text = f"; {rule['kind'].replace('_', '-')} {fmt(rule['value'])}" if rule and sel.get("run_score") else ""
    chart = svg.bar_chart(
        _bin_labels(edges), [svg.Series("selected", hist["selected"], svg.COLORS[2]),
                             svg.Series("not selected", hist["not_selected"], "#bab0ac")],
        title=f"{name} over the pool: selected vs not", x_title=f"{name} score{scale}", y_title="documents",
        stacked=True, x_ticks=_ticks(hist), marker=None if at is None else (at, f"cut-off {svg.number(cut or 0)}"))
    never = f"; {hist['non_finite']:,} never selectable (no score)" if hist.get("non_finite") else ""
    picked, scored = sum(hist["selected"]), sum(hist["selected"]) + sum(hist["not_selected"])
    return _figure(chart, f"{picked:,} selected of {scored:,} scored pool documents{rule_text}{never}")


def _score_chart(name: str, section: dict[str, Any]) -> str:
    hist = section["histogram"]
    scale = " (symlog bins)" if hist.get("scale") == "symlog" else ""
    log = _wide(hist["counts"])
    return _figure(svg.bar_chart(_bin_labels(hist["edges"]), [svg.Series(name, hist["counts"])],
                                 title=f"Score distribution: {name}", x_title=f"{name} score{scale}",
                                 y_title="documents" + (" (log scale)" if log else ""), y_log=log,
                                 x_ticks=_ticks(hist)),
                   f"Spearman vs length: {fmt(section['spearman_length'])}")


def _mix_chart(by: dict[str, Any], kept: str = "selection") -> str:
    field, counts = by["field"], by["counts"]
    if "pool" not in by:
        items = list(counts.items())[:MIX_BARS]
        return _figure(svg.bar_chart([k for k, _ in items], [svg.Series("documents", [v for _, v in items])],
                                     title=f"Mix by {field}", x_title=field, y_title="documents"),
                       f"{len(counts):,} values" + (f"; the {MIX_BARS} most common shown" if len(counts) > MIX_BARS
                                                    else ""))
    pool = by["pool"]["counts"]
    pool_share = dict(zip(pool, _share(list(pool.values()))))
    mine = dict(zip(counts, _share(list(counts.values()))))
    keys = sorted(set(pool) | set(mine), key=lambda k: -max(pool_share.get(k, 0), mine.get(k, 0)))[:MIX_BARS]
    return _figure(svg.bar_chart(keys, [svg.Series("pool", [pool_share.get(k, 0.0) for k in keys]),
                                        svg.Series(kept, [mine.get(k, 0.0) for k in keys])],
                                 title=f"Mix by {field}: pool vs {kept}", x_title=field,
                                 y_title="share of documents (%)"),
                   f"{len(set(pool) | set(mine)):,} values" + (f"; the {MIX_BARS} largest shares shown"
                                                               if len(set(pool) | set(mine)) > MIX_BARS else ""))


def _length_chart(data: dict[str, Any]) -> str:
    mine, theirs = data["total"]["length_histogram"], data["target"]["length_histogram"]
    edges = [10 ** e - 1 for e in mine["edges"]]
    return _figure(svg.bar_chart(_bin_labels(edges), [svg.Series("inputs", _share(mine["counts"])),
                                                      svg.Series("target", _share(theirs["counts"]))],
                                 title="Text length: inputs vs target", x_title="characters (log bins)",
                                 y_title="share of documents (%)", x_ticks=_ticks({"edges": edges}, "log1p")))


def charts(data: dict[str, Any]) -> list[str]:
    names = [e["name"] for e in data["shards"]]
    out = [_figure(svg.bar_chart(names, [svg.Series("documents", [e["rows"] for e in data["shards"]])],
                                 title="Documents per shard", x_title="shard", y_title="documents"))]
    if "run" in data:
        out += _run_charts(data["run"])
    selection = data.get("selection", {})
    for name, sel in selection.items():
        if sel["histogram"]["edges"]:
            out.append(_selection_chart(name, sel, data.get("run", {}).get("rule")))
    for name, section in data.get("scores", {}).items():
        if section["histogram"]["counts"] and name not in selection:
            out.append(_score_chart(name, section))
    if "by" in data:
        out.append(_mix_chart(data["by"], "kept" if data.get("run", {}).get("command") == "dedupe" else "selection"))
    if "target" in data and data["total"].get("length_histogram", {}).get("counts"):
        out.append(_length_chart(data))
    out += data.get("extra_charts", [])
    return out


def _lead(data: dict[str, Any]) -> str:
    total = data["total"]
    text = f"{total['rows']:,} documents in {total['shards']:,} shard(s), {total['bytes'] / 1e6:.2f} MB."
    run = data.get("run")
    if run:
        text += (f" Written by sievekit {run.get('command')}{_rule_text(run)} from {run.get('rows_in') or 0:,} "
                 "documents.")
    return f'<p class="lead">{html.escape(clean(text))} Hover a bar or a label for its exact value or full name.</p>'


def to_html(data: dict[str, Any]) -> str:
    body = ["<h1>sievekit report</h1>", _lead(data), '<div class="charts">', *charts(data), "</div>"]
    for title, header, rows in sections(data):
        body.append(f"<h2>{html.escape(clean(title))}</h2><table><tr>"
                    + "".join(f"<th>{html.escape(fmt(h))}</th>" for h in header) + "</tr>"
                    + "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>"
                              for row in rows) + "</table>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sievekit report</title>'
            f'<style>{_CSS}</style></head><body>{"".join(body)}</body></html>\n')
