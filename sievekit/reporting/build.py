"""``report``: what a set of shards holds and what a run did to it.

Always: rows, bytes, fields and text lengths per shard and in total. With an output of
``select``/``score``/``dedupe`` (a directory, or a single file with its manifest beside it): the run's counts in
and out per shard (from its manifest). With scores
(sidecars of ``score``, a numeric field, or the method of the run that wrote the inputs): per score,
quantiles, a histogram and Spearman(score, length). With ``--by FIELD``: the mix of that field's values.
With a target: the length distribution of the inputs next to the target's. With a pool (the inputs of the
run that wrote them, or ``raw``): the pool's mix beside the inputs', and each score's histogram over the
pool split into selected and not, with the selection's cut-off. Memory: a few numbers per document
(length, scores, a digest of the inputs' texts), never text.

The report as JSON (``sievekit report --json``), format version 1; keys in brackets appear when asked
for or found::

    format_version  1 (a change that breaks readers bumps it)
    shards          [{name, path, format, rows, bytes, text_bytes, skipped{reason: n}, fields{name: n},
                      text_length{count, mean, p0, p10, p25, p50, p75, p90, p99, p100}}]
    total           {shards, rows, bytes, text_bytes, skipped, fields, text_length, [length_histogram]}
    [run]           {command, sievekit_version, inputs[{path, name, rows}], rows_in, rows_out,
                     shards[{name, input, rows_in, rows_out, bytes_in, skipped}], [rule{kind, value, stratify}],
                     [score{kind: method|field|sidecars, name, [directory]}], [method],
                     [target_share{recorded, kept, [estimate, boundary, pool_docs, pool_above, kept_above]}]
                     (the classifier's label-free estimate of the pool's target-like share and its score
                     boundary, from select: ``selectors.share``; recorded false: a run from before it),
                     [dedupe{counts, threshold, bands, rows, verify, cluster_sizes{size: n},
                             s_curve{jaccard[], p_candidate[]}}]}
    [scores]        {name: {summary{count, [non_finite], mean, p0 … p100}, spearman_length,
                     histogram{scale: linear|symlog, edges[], counts[], [linthresh]}}}
    [by]            {field, counts{value: n}, [pool{rows, counts{value: n}}]}
    [pool]          {inputs[], rows, selected (pool documents found among the inputs), [unavailable{name: why}]}
    [selection]     {name: {histogram{scale, edges[], selected[], not_selected[], non_finite, [linthresh]},
                     cutoff (null when the rule has none), run_score (bool: the score the run selected by)}}
    [target]        {text_length{...}, length_histogram{edges[] (log10(1 + characters)), counts[], log10}}
    [kl]            {kl_target_pool, kl_target_selected, kl_reduction (null where a side has no n-grams), buckets,
                     pool[], [unavailable (why some are null)]}

Histogram edges are in the values' own units; ``symlog`` bins are equal-width on
sign(x)·log10(1 + |x|/linthresh), chosen when the values are heavy-tailed (``stats.tail_scale``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from sievekit.errors import ConfigError, InputError, option
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, iter_texts, notices, resolve_inputs
from sievekit.io.streams import STDIO
from sievekit.reporting import pool as pools
from sievekit.reporting import stats
from sievekit.reporting.kl import kl_section
from sievekit.reporting.untrusted import clean
from sievekit.run.layout import Layout
from sievekit.run.writeback import IdDigest
from sievekit.scoring.sidecars import read_sidecars
from sievekit.selectors.share import SELECTORS as SHARE_SELECTORS

FORMAT_VERSION = 1


def length_summary(lengths: np.ndarray) -> dict[str, Any]:
    """Count, mean and quantiles (p0 … p100) of text lengths in characters."""
    return stats.summary(lengths, integer=True)


def report(inputs: Sequence[str], opts: ReadOptions = ReadOptions(), *, scores: str | None = None,
           score_fields: Sequence[str] = (), by: str | None = None, target: Sequence[str] | None = None,
           raw: Sequence[str] | None = None) -> dict[str, Any]:
    """Stats of every shard and of the whole input set, plus the optional sections above.

    Args:
        raw: the pool the inputs were selected from; None: the inputs of the run that wrote them, if any;
            empty: no pool (no comparison, no KL reduction).

    Returns:
        The report as a JSON-safe dict (the schema is in this module's docstring).

    Raises:
        ConfigError: ``by`` or a ``score_fields`` entry names a field no record has (the message lists the
            fields there are), ``raw`` or ``scores`` does not exist.

    Example:
        >>> report(["tests/data/pool.jsonl"], ReadOptions())["total"]["rows"]  # doctest: +SKIP
        20
    """
    shards = resolve_inputs(inputs)
    _check_paths(scores, raw)
    run = _run_section(inputs)
    specs = pools.pool_specs(raw, run)
    entries, lengths, mix, field_values, digests, ids = _scan(shards, opts, by, score_fields, bool(specs),
                                                             want_ids=bool(scores))
    out: dict[str, Any] = {"format_version": FORMAT_VERSION, "shards": entries, "total": _total(entries, lengths)}
    _check_fields(out["total"], by, score_fields)
    if run:
        out["run"] = {k: v for k, v in run.items() if k != "selector_state"}
    scan = _pool_scan(specs, opts, digests, by, score_fields, run) if specs else None
    columns = dict(field_values)
    if scores:
        columns.update(_sidecar_columns(scores, shards, len(lengths), ids, scan))
    _score_sections(out, columns, lengths, scan, run)
    if by:
        out["by"] = {"field": by, "counts": dict(mix.most_common())}
        if scan is not None:
            out["by"]["pool"] = {"rows": scan.rows, "counts": dict(scan.mix.most_common())}
    if target:
        target_lengths = np.fromiter((len(t) for t in iter_texts(resolve_inputs(target), opts)), dtype=np.int64)
        edges = stats.shared_log_edges(lengths.astype(float), target_lengths.astype(float))
        out["target"] = {"text_length": length_summary(target_lengths),
                         "length_histogram": stats.histogram(target_lengths.astype(float), edges, log=True)}
        out["total"]["length_histogram"] = stats.histogram(lengths.astype(float), edges, log=True)
        if specs:
            out["kl"] = kl_section(target, specs, inputs, opts)
    return out


def _check_paths(scores: str | None, raw: Sequence[str] | None) -> None:
    if scores and not fs.isdir(scores):
        raise ConfigError(f"{option('sidecars')} {clean(scores)}: no such directory (pass the output directory of "
                          "`sievekit score`)")
    if raw:
        try:
            resolve_inputs(list(raw))
        except InputError as exc:
            raise ConfigError(f"{option('raw')}: {clean(exc.message)}") from exc


def _check_fields(total: dict[str, Any], by: str | None, score_fields: Sequence[str]) -> None:
    """A named field that no record has is a typo, not an empty mix (there must be records to tell)."""
    fields = total["fields"]
    if not total["rows"]:
        return
    for opt, name in [("by", by), *(("score_field", f) for f in score_fields)]:
        if name is not None and name not in fields:
            names = sorted(fields)
            listed = ", ".join(clean(f) for f in names[:40]) + (f", … ({len(names) - 40} more)" if len(names) > 40
                                                                 else "")
            raise ConfigError(f'{option(opt)} "{clean(name)}": no record has this field (fields: {listed})')


def _scan(shards: Sequence[Shard], opts: ReadOptions, by: str | None, score_fields: Sequence[str],
          want_digests: bool, want_ids: bool = False) -> tuple[list[dict[str, Any]], np.ndarray, Counter[str],
                                                                dict[str, np.ndarray], np.ndarray, list[IdDigest]]:
    """One pass over every shard: per-shard stats, every length, the --by mix, numeric score fields, (for
    a comparison with the pool) a digest of every text and (for sidecars: ``want_ids``) each shard's ids."""
    entries = []
    ids = []
    all_lengths = []
    all_digests = []
    mix: Counter[str] = Counter()
    numbers: dict[str, list[np.ndarray]] = {f: [] for f in score_fields}
    for shard in shards:
        shard_stats = ShardStats()
        fields: Counter[str] = Counter()
        lens = []
        shard_ids = IdDigest()
        for batch in iter_batches(shard, opts, shard_stats, all_columns=True):
            if want_ids:
                shard_ids.update(batch.ids or [None] * len(batch))
            lens.append(np.fromiter(map(len, batch.texts), dtype=np.int64, count=len(batch)))
            if want_digests:
                all_digests.append(pools.digests(batch.texts, batch.ids))
            fields.update(batch.field_counts())
            if by:
                mix.update("(missing)" if v is None else str(v) for v in batch.column(by))
            for name in score_fields:
                numbers[name].append(np.array([pools.as_float(v) for v in batch.column(name)], dtype=np.float64))
        shard_lengths = np.concatenate(lens) if lens else np.empty(0, dtype=np.int64)
        all_lengths.append(shard_lengths)
        ids.append(shard_ids)
        entries.append({"name": shard.name, "path": shard.label, "format": shard.format, **shard_stats.as_dict(),
                        "fields": dict(sorted(fields.items())), "text_length": length_summary(shard_lengths)})
    lengths = np.concatenate(all_lengths) if all_lengths else np.empty(0, dtype=np.int64)
    columns = {name: np.concatenate(parts) if parts else np.empty(0) for name, parts in numbers.items()}
    digests = np.concatenate(all_digests) if all_digests else np.empty(0, dtype=np.uint64)
    return entries, lengths, mix, columns, digests, ids


def _pool_scan(specs: list[str], opts: ReadOptions, digests: np.ndarray, by: str | None,
               score_fields: Sequence[str], run: dict[str, Any] | None) -> pools.PoolScan:
    """The pool's pass, with the run's own score: its field, or its method re-scored from the saved state."""
    score = (run or {}).get("score", {})
    fields = list(score_fields) + ([score["name"]] if score.get("kind") == "field" else [])
    selector, why = pools.run_selector(run)
    scan = pools.scan_pool(specs, opts, digests, by=by, fields=list(dict.fromkeys(fields)), selector=selector)
    if why:
        scan.unavailable[score.get("name", "run")] = why
    if score.get("kind") == "sidecars" and score.get("directory") and fs.isdir(score["directory"]):
        try:
            pools.add_sidecars(scan, _read_columns(score["directory"], resolve_inputs(specs), [score["name"]])[0])
        except InputError as exc:
            scan.unavailable[score["name"]] = clean(exc.message)
    return scan


def _score_sections(out: dict[str, Any], columns: dict[str, np.ndarray], lengths: np.ndarray,
                    scan: pools.PoolScan | None, run: dict[str, Any] | None) -> None:
    """``scores`` of the inputs and, with a pool, ``pool`` and the ``selection`` histograms."""
    sections = {name: _score_section(values, lengths) for name, values in columns.items()
                if len(values) == len(lengths)}
    if scan is not None:
        run_score = (run or {}).get("score", {}).get("name")
        rule = (run or {}).get("rule")
        out["pool"] = {"inputs": scan.specs, "rows": scan.rows, "selected": int(scan.selected.sum()),
                       **({"unavailable": scan.unavailable} if scan.unavailable else {})}
        selection = {}
        for name, values in scan.columns.items():
            if name not in sections:
                sections[name] = _score_section(values[scan.selected], scan.lengths[scan.selected])
            selection[name] = {"histogram": stats.split_histogram(values, scan.selected),
                               "cutoff": pools.cutoff(values, scan.selected, rule) if name == run_score else None,
                               "run_score": name == run_score}
        if selection:
            out["selection"] = selection
    if sections:
        out["scores"] = sections


def _total(entries: list[dict[str, Any]], lengths: np.ndarray) -> dict[str, Any]:
    skipped: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    for e in entries:
        skipped.update(e["skipped"])
        fields.update(e["fields"])
    return {"shards": len(entries), "rows": sum(e["rows"] for e in entries),
            "bytes": sum(e["bytes"] for e in entries), "text_bytes": sum(e["text_bytes"] for e in entries),
            "skipped": dict(skipped), "fields": dict(sorted(fields.items())), "text_length": length_summary(lengths)}


def _run_manifest(spec: str) -> dict[str, Any] | None:
    """The manifest of the run that wrote ``spec`` (an output directory, or a single output file, whose
    records lie beside it), found where the run contract keeps it (``Layout.records_at``)."""
    if spec == STDIO or not (fs.isdir(spec) or fs.isfile(spec)):
        return None  # stdin, a pattern: no one run wrote it
    where = Layout(spec)
    if where.kind == "dir" and not fs.isdir(spec):
        return None  # a file whose format does not concatenate (Parquet): never a run's single output
    try:
        manifest = where.load_manifest()
    except ConfigError as exc:  # a damaged record: the records are still worth a report (there is no --overwrite)
        notices.warn_once(f"run record {spec}", f"{clean(exc.message)}; reporting the records without it")
        return None
    if manifest and where.kind == "file" and fs.split(where.output)[1] not in manifest.get("written", [None]):
        return None  # records of another file (renamed by hand, or a run before 'written'): not this file's
    return manifest


def _run_section(inputs: Sequence[str]) -> dict[str, Any] | None:
    """What the run that wrote an input directory or file did, from its manifest (``selector_state``, the
    fitted state to re-score the pool with, stays out of the report)."""
    for spec in inputs:
        manifest = _run_manifest(spec)
        if manifest:
            _check_not_sidecars(spec, manifest)
            keep = ("name", "input", "rows_in", "rows_out", "bytes_in", "skipped")
            run = {"command": manifest.get("command"), "sievekit_version": manifest.get("sievekit_version"),
                   "inputs": manifest.get("inputs", []),
                   "rows_in": manifest.get("rows_in"), "rows_out": manifest.get("rows_out"),
                   "shards": [{k: s.get(k) for k in keep if k in s} for s in manifest.get("shards", [])],
                   **({"method": manifest["method"]} if "method" in manifest else {})}
            job = manifest.get("job")
            rule = job.get("rule") if isinstance(job, dict) else None
            if isinstance(rule, dict):
                run["rule"] = {k: rule.get(k) for k in ("kind", "value", "stratify")}
            run.update(_run_score(manifest))
            share = _target_share(manifest)
            if share is not None:
                run["target_share"] = share
            if "dedupe" in manifest:
                run["dedupe"] = _dedupe_section(manifest["dedupe"])
            return run
    return None


def _check_not_sidecars(spec: str, manifest: dict[str, Any]) -> None:
    """The output of ``score`` (without ``--inline``) holds scores, not records: read as shards, every line would
    lack the text field."""
    job = manifest.get("job")
    if manifest.get("command") != "score" or not isinstance(job, dict) or job.get("inline"):
        return
    pool = " ".join(clean(str(i.get("path"))) for i in manifest.get("inputs", []) if isinstance(i, dict)) or "POOL"
    raise ConfigError(f"{clean(spec)} holds the scores of `sievekit score`, not records: report on the pool it "
                      f"scored and pass them with {option('sidecars')}",
                      hint=f"sievekit report {pool} {option('sidecars')} {clean(spec)}")


def _run_score(manifest: dict[str, Any]) -> dict[str, Any]:
    """The score a ``select`` run ranked by: a method (with its fitted state), a field, or sidecars."""
    state = manifest.get("selector")
    if isinstance(state, dict) and state.get("name"):
        return {"score": {"kind": "method", "name": str(state["name"])}, "selector_state": state}
    if manifest.get("score_field"):
        return {"score": {"kind": "field", "name": str(manifest["score_field"])}}
    if manifest.get("scores_from") and manifest.get("method"):
        return {"score": {"kind": "sidecars", "name": str(manifest["method"]),
                          "directory": str(manifest["scores_from"])}}
    return {}


def _target_share(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The classifier's estimate of the pool's target-like share beside the selection, as ``select`` recorded
    it; ``{"recorded": False}`` for a classifier run that recorded none (an older sievekit)."""
    share = manifest.get("target_share")
    if isinstance(share, dict):
        return share
    state = manifest.get("selector")
    if isinstance(state, dict) and state.get("name") in SHARE_SELECTORS:
        return {"recorded": False, "kept": manifest.get("rows_out")}
    return None


def _dedupe_section(summary: dict[str, Any]) -> dict[str, Any]:
    """Dedupe's counts and cluster sizes, and its S-curve: the chance that a pair of a given Jaccard
    similarity becomes a candidate, 1 - (1 - s^rows)^bands."""
    from sievekit.duplicates.options import DedupeConfig

    cfg = summary.get("config", {})
    known = {k: v for k, v in cfg.items() if k in DedupeConfig.__dataclass_fields__}
    banding = DedupeConfig(**known).banding
    grid = np.round(np.linspace(0.0, 1.0, 21), 2)
    curve = 1.0 - (1.0 - grid ** banding.rows) ** banding.bands
    counts = {k: summary.get(k) for k in ("documents_in", "documents_out", "exact_duplicates", "near_duplicates",
                                          "seen_before", "clusters")}
    return {**counts, "threshold": cfg.get("threshold"), "bands": banding.bands, "rows": banding.rows,
            "verify": cfg.get("verify"), "cluster_sizes": summary.get("cluster_sizes", {}),
            "s_curve": {"jaccard": grid.tolist(), "p_candidate": [round(float(p), 4) for p in curve]}}


def _sidecar_columns(directory: str, shards: Sequence[Shard], rows: int, ids: Sequence[IdDigest],
                     scan: pools.PoolScan | None) -> dict[str, np.ndarray]:
    """Every score column of the sidecars in ``directory``, aligned with the input shards (``ids``: each one's
    ids, which the sidecars must carry in that order). Sidecars of the pool instead (a selection keeps the names
    of the pool's shards) go to ``scan``.

    Raises:
        InputError: the sidecars align with neither the inputs nor the pool.
    """
    try:
        columns, digests = _read_columns(directory, shards)
    except InputError:
        if scan is None:
            raise
        columns, digests = {}, []
    counts = {len(v) for v in columns.values()}
    if columns and counts == {rows}:
        differ = [s for s, mine, theirs in zip(shards, ids, digests) if mine.hexdigest() != theirs]
        if not differ:
            return columns
        if scan is None:  # as many scores as documents, of other documents: another pool of the same shape
            raise InputError(Layout(directory).sidecar(differ[0]), f"the ids differ from those of "
                             f"{differ[0].label}: these are the scores of other documents",
                             hint="pass the sidecars of `sievekit score` on these inputs")
    if scan is not None:
        if counts != {scan.rows}:
            columns = _read_columns(directory, resolve_inputs(scan.specs))[0]
        pools.add_sidecars(scan, columns)
        return {}
    raise InputError(directory, f"the sidecars hold {', '.join(map(str, sorted(counts)))} scores, the inputs "
                     f"{rows:,} documents", hint="pass the sidecars of `sievekit score` on these inputs")


def _read_columns(directory: str, shards: Sequence[Shard],
                  names: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    names = names or _columns_of(Layout(directory).sidecar(shards[0]))
    columns: dict[str, np.ndarray] = {}
    digests: list[str] = []  # of each shard's ids: every column's sidecar carries the same
    for name in names:
        read = read_sidecars(directory, shards, name)
        columns[name] = np.concatenate([r[1] for r in read])
        digests = [r[2] for r in read]
    return columns, digests


def _columns_of(path: str) -> list[str]:
    from sievekit.io import iter_decoded_chunks
    from sievekit.io.jsonl import loads, split_lines

    if not fs.exists(path):
        raise InputError(path, "no sidecar for this shard", hint="run `sievekit score` on the same inputs first")
    for lines in split_lines(iter_decoded_chunks(path)):
        return sorted(set(loads(lines[0])) - {"shard", "row", "id"})
    return []


def _score_section(values: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    rho = stats.spearman(values, lengths.astype(np.float64)) if len(values) == len(lengths) else None
    return {"summary": stats.summary(values), "histogram": stats.scaled_histogram(values),
            "spearman_length": None if rho is None else round(rho, 4)}
