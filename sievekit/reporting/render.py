"""Reports as Markdown and as one self-contained HTML page with SVG charts (no scripts, no downloads)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

LENGTH_COLUMNS = ("p10", "p50", "p90", "p100")


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


Section = tuple[str, Sequence[str], list[list[Any]]]


def sections(data: dict[str, Any]) -> list[Section]:
    """The report as (title, header, rows) tables, shared by every renderer."""
    out: list[Section] = []
    skips = bool(data["total"]["skipped"])
    rows = [[e["name"], e["rows"], round(e["bytes"] / 1e6, 2), *(e["text_length"].get(q) for q in LENGTH_COLUMNS)]
            + ([", ".join(f"{k} {v}" for k, v in e["skipped"].items()) or "-"] if skips else [])
            for e in data["shards"] + [{"name": "TOTAL", **data["total"]}]]
    header = ["shard", "rows", "MB", "len p10", "len p50", "len p90", "len max"] + (["skipped"] if skips else [])
    out.append(("Shards", header, rows))
    if "run" in data:
        run = data["run"]
        rows = [[s.get("name"), s.get("rows_in"), s.get("rows_out")] for s in run["shards"]]
        rows.append(["TOTAL", run.get("rows_in"), run.get("rows_out")])
        out.append((f"Run: sievekit {run.get('command')}", ["shard", "rows in", "rows out"], rows))
    dedupe = data.get("run", {}).get("dedupe")
    if dedupe:
        rows = [[k.replace("_", " "), dedupe.get(k)] for k in ("documents_in", "documents_out", "exact_duplicates",
                                                               "near_duplicates", "seen_before", "clusters")]
        rows.append(["LSH", f"{dedupe['bands']} bands x {dedupe['rows']} rows at Jaccard {dedupe['threshold']}, "
                            f"verify {dedupe['verify']}"])
        out.append(("Dedupe", ["", "value"], rows))
        sizes = [[k, v] for k, v in dedupe["cluster_sizes"].items()]
        out.append(("Dedupe cluster sizes", ["size", "clusters"], sizes))
    if "scores" in data:
        rows = [[name, s["summary"].get("count"), s["summary"].get("non_finite", 0), s["summary"].get("p10"),
                 s["summary"].get("p50"), s["summary"].get("p90"), s["spearman_length"]]
                for name, s in data["scores"].items()]
        out.append(("Scores", ["method", "scored", "never selected", "p10", "p50", "p90", "Spearman vs length"], rows))
    if "by" in data:
        total = sum(data["by"]["counts"].values()) or 1
        rows = [[k, v, f"{100 * v / total:.1f}%"] for k, v in data["by"]["counts"].items()]
        out.append((f"Mix by {data['by']['field']}", [data["by"]["field"], "documents", "share"], rows))
    if "target" in data:
        rows = [["inputs", *(data["total"]["text_length"].get(q) for q in LENGTH_COLUMNS)],
                ["target", *(data["target"]["text_length"].get(q) for q in LENGTH_COLUMNS)]]
        out.append(("Text length (characters): inputs vs target", ["set", "p10", "p50", "p90", "max"], rows))
    if "kl" in data:
        kl = data["kl"]
        rows = [["KL(target || pool)", kl["kl_target_pool"]], ["KL(target || selection)", kl["kl_target_selected"]],
                ["KL reduction", kl["kl_reduction"]]]
        out.append((f"KL reduction toward the target (hashed uni+bigrams, {kl['buckets']:,} buckets)", ["", "nats"],
                    rows))
    for title, header, extra_rows in data.get("extra_tables", []):
        out.append((title, header, extra_rows))
    return out


def to_markdown(data: dict[str, Any]) -> str:
    parts = ["# sievekit report", ""]
    for title, header, rows in sections(data):
        parts += [f"## {title}", "", _md_table(header, rows), ""]
    fields = data["total"]["fields"]
    parts.append("Fields: " + ", ".join(f"`{k}` ({v:,})" for k, v in fields.items()))
    return "\n".join(parts) + "\n"


# -- HTML ------------------------------------------------------------------------------------------------
_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child{text-align:left}h2{margin-top:2rem}.charts{display:flex;
flex-wrap:wrap;gap:1.5rem}figure{margin:0}figcaption{font-size:12px;color:#555}"""
_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str,
              width: int = 520, height: int = 220) -> str:
    """A grouped bar chart as inline SVG; ``series`` are (name, values) aligned with ``labels``."""
    top = max((v for _, values in series for v in values), default=0) or 1
    n, k = max(len(labels), 1), max(len(series), 1)
    plot_w, plot_h, left, bottom = width - 50, height - 60, 40, height - 40
    slot = plot_w / n
    bars = []
    for j, (name, values) in enumerate(series):
        for i, value in enumerate(values):
            h = plot_h * value / top
            x = left + i * slot + j * slot / k + 1
            bars.append(f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{max(slot / k - 2, 1):.1f}" '
                        f'height="{h:.1f}" fill="{_COLORS[j % len(_COLORS)]}"><title>{html.escape(name)} '
                        f'{html.escape(str(labels[i]))}: {fmt(value)}</title></rect>')
    step = max(1, n // 10)
    ticks = [f'<text x="{left + i * slot + slot / 2:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">'
             f'{html.escape(str(labels[i]))[:12]}</text>' for i in range(0, len(labels), step)]
    legend = [f'<text x="{left + 110 * j}" y="12" font-size="11" fill="{_COLORS[j % len(_COLORS)]}">■ '
              f'{html.escape(name)}</text>' for j, (name, _) in enumerate(series)] if len(series) > 1 else []
    axis = (f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#999"/>'
            f'<text x="4" y="{bottom - plot_h + 4}" font-size="10">{fmt(top)}</text>')
    return (f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
            f'{axis}{"".join(bars)}{"".join(ticks)}{"".join(legend)}</svg>'
            f'<figcaption>{html.escape(title)}</figcaption></figure>')


def _histogram_labels(edges: Sequence[float], log: bool) -> list[str]:
    return [_tick((10 ** e - 1) if log else e) for e in edges[:-1]]


def _tick(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.3g}"


def charts(data: dict[str, Any]) -> list[str]:
    out = [bar_chart([e["name"] for e in data["shards"]], [("rows", [e["rows"] for e in data["shards"]])],
                     "Documents per shard")]
    if "run" in data:
        shards = data["run"]["shards"]
        out.append(bar_chart([s.get("name") for s in shards], [("in", [s.get("rows_in") or 0 for s in shards]),
                                                                ("out", [s.get("rows_out") or 0 for s in shards])],
                             "Documents in and out per shard"))
    dedupe = data.get("run", {}).get("dedupe")
    if dedupe:
        sizes = dedupe["cluster_sizes"]
        out.append(bar_chart(list(sizes), [("clusters", list(sizes.values()))], "Duplicate clusters by size"))
        curve = dedupe["s_curve"]
        out.append(bar_chart([f"{j:.2f}" for j in curve["jaccard"]], [("P(candidate)", curve["p_candidate"])],
                             f"S-curve: chance a pair becomes a candidate, by Jaccard ({dedupe['bands']} bands x "
                             f"{dedupe['rows']} rows; threshold {dedupe['threshold']})"))
    for name, section in data.get("scores", {}).items():
        hist = section["histogram"]
        if hist["counts"]:
            rho = fmt(section["spearman_length"])
            out.append(bar_chart(_histogram_labels(hist["edges"], False), [(name, hist["counts"])],
                                 f"Score distribution: {name} (Spearman vs length: {rho})"))
    if "by" in data:
        items = list(data["by"]["counts"].items())[:20]
        out.append(bar_chart([k for k, _ in items], [("documents", [v for _, v in items])],
                             f"Mix by {data['by']['field']}"))
    if "target" in data and data["total"].get("length_histogram", {}).get("counts"):
        mine, theirs = data["total"]["length_histogram"], data["target"]["length_histogram"]
        share = [c / (sum(mine["counts"]) or 1) for c in mine["counts"]]
        tshare = [c / (sum(theirs["counts"]) or 1) for c in theirs["counts"]]
        out.append(bar_chart(_histogram_labels(mine["edges"], True), [("inputs", share), ("target", tshare)],
                             "Text length (characters, log bins): share of documents, inputs vs target"))
    out += data.get("extra_charts", [])
    return out


def to_html(data: dict[str, Any]) -> str:
    body = ['<h1>sievekit report</h1><div class="charts">', *charts(data), "</div>"]
    for title, header, rows in sections(data):
        body.append(f"<h2>{html.escape(title)}</h2><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                    + "</tr>" + "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>"
                                        for row in rows) + "</table>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sievekit report</title>'
            f'<style>{_CSS}</style></head><body>{"".join(body)}</body></html>\n')
