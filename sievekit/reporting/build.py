"""``report``: what a set of shards holds and what a run did to it.

Always: rows, bytes, fields and text lengths per shard and in total. With an output directory of
``select``/``score``: the run's counts in and out per shard (from its manifest). With scores (sidecars
of ``score``, or a numeric field): per method, quantiles, a histogram and Spearman(score, length).
With ``--by FIELD``: the mix of that field's values. With a target: the length distribution of the
inputs next to the target's. Memory: a few numbers per document (length, scores), never text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, iter_texts, resolve_inputs
from sievekit.reporting import stats
from sievekit.run import contract
from sievekit.run.layout import Layout
from sievekit.scoring.sidecars import read_sidecars


def length_summary(lengths: np.ndarray) -> dict[str, Any]:
    """Count, mean and quantiles (p0 … p100) of text lengths in characters."""
    return stats.summary(lengths, integer=True)


def report(inputs: Sequence[str], opts: ReadOptions = ReadOptions(), *, scores: str | None = None,
           score_fields: Sequence[str] = (), by: str | None = None, target: Sequence[str] | None = None,
           raw: Sequence[str] | None = None) -> dict[str, Any]:
    """Stats of every shard and of the whole input set, plus the optional sections above.

    Returns:
        ``{"shards": [...], "total": {...}}`` and, where asked or found, ``"run"``, ``"scores"``, ``"by"``,
        ``"target"`` and ``"kl"`` (DSIR's KL reduction of the inputs, as a selection from ``raw`` or from the
        pool their run read, toward the target).

    Example:
        >>> report(["tests/data/pool.jsonl"], ReadOptions())["total"]["rows"]  # doctest: +SKIP
        20
    """
    shards = resolve_inputs(inputs)
    entries, lengths, mix, field_values = _scan(shards, opts, by, score_fields)
    out: dict[str, Any] = {"shards": entries, "total": _total(entries, lengths)}
    run = _run_section(inputs)
    if run:
        out["run"] = run
    columns = dict(field_values)
    if scores:
        columns.update(_sidecar_columns(scores, shards))
    if columns:
        out["scores"] = {name: _score_section(values, lengths) for name, values in columns.items()}
    if by:
        out["by"] = {"field": by, "counts": dict(mix.most_common())}
    if target:
        target_lengths = np.fromiter((len(t) for t in iter_texts(resolve_inputs(target), opts)), dtype=np.int64)
        edges = stats.shared_log_edges(lengths.astype(float), target_lengths.astype(float))
        out["target"] = {"text_length": length_summary(target_lengths),
                         "length_histogram": stats.histogram(target_lengths.astype(float), edges, log=True)}
        out["total"]["length_histogram"] = stats.histogram(lengths.astype(float), edges, log=True)
        pool = list(raw) if raw else [i["path"] for i in (run or {}).get("inputs", []) if fs.exists(i["path"])]
        if pool:
            out["kl"] = kl_section(target, pool, inputs, opts)
    return out


def kl_section(target: Sequence[str], pool: Sequence[str], selected: Sequence[str], opts: ReadOptions,
               buckets: int = 10000) -> dict[str, Any]:
    """DSIR's KL reduction, KL(target || pool) - KL(target || selected), over hashed uni- and bigrams (fast
    hash, ``buckets`` buckets). Positive: the selection moved toward the target."""
    from sievekit.selectors.kl import hashed_counts, kl_divergence
    from sievekit.selectors.ngrams import NgramFeaturizer

    featurizer = NgramFeaturizer(buckets=buckets, order=2, hash="fast")
    t, p, s = (hashed_counts(iter_texts(resolve_inputs(list(specs)), opts), featurizer)
               for specs in (target, pool, selected))
    before, after = kl_divergence(t, p), kl_divergence(t, s)
    return {"kl_target_pool": round(before, 6), "kl_target_selected": round(after, 6),
            "kl_reduction": round(before - after, 6), "buckets": buckets, "pool": list(pool)}


def _scan(shards: Sequence[Shard], opts: ReadOptions, by: str | None, score_fields: Sequence[str]) -> tuple[
        list[dict[str, Any]], np.ndarray, Counter[str], dict[str, np.ndarray]]:
    """One pass over every shard: per-shard stats, every length, the --by mix and numeric score fields."""
    entries = []
    all_lengths = []
    mix: Counter[str] = Counter()
    numbers: dict[str, list[np.ndarray]] = {f: [] for f in score_fields}
    for shard in shards:
        shard_stats = ShardStats()
        fields: Counter[str] = Counter()
        lens = []
        for batch in iter_batches(shard, opts, shard_stats, all_columns=True):
            lens.append(np.fromiter(map(len, batch.texts), dtype=np.int64, count=len(batch)))
            if isinstance(batch.payload, list):
                for rec in batch.records():
                    fields.update(rec.keys())
            else:
                fields.update({name: len(batch) for name in batch.payload.schema.names})
            if by:
                mix.update("(missing)" if v is None else str(v) for v in batch.column(by))
            for name in score_fields:
                numbers[name].append(np.array([_as_float(v) for v in batch.column(name)], dtype=np.float64))
        shard_lengths = np.concatenate(lens) if lens else np.empty(0, dtype=np.int64)
        all_lengths.append(shard_lengths)
        entries.append({"name": shard.name, "path": shard.label, "format": shard.format, **shard_stats.as_dict(),
                        "fields": dict(sorted(fields.items())), "text_length": length_summary(shard_lengths)})
    lengths = np.concatenate(all_lengths) if all_lengths else np.empty(0, dtype=np.int64)
    columns = {name: np.concatenate(parts) if parts else np.empty(0) for name, parts in numbers.items()}
    return entries, lengths, mix, columns


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


def _total(entries: list[dict[str, Any]], lengths: np.ndarray) -> dict[str, Any]:
    skipped: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    for e in entries:
        skipped.update(e["skipped"])
        fields.update(e["fields"])
    return {"shards": len(entries), "rows": sum(e["rows"] for e in entries),
            "bytes": sum(e["bytes"] for e in entries), "text_bytes": sum(e["text_bytes"] for e in entries),
            "skipped": dict(skipped), "fields": dict(sorted(fields.items())), "text_length": length_summary(lengths)}


def _run_section(inputs: Sequence[str]) -> dict[str, Any] | None:
    """What the run that wrote an input directory did, from its manifest."""
    for spec in inputs:
        manifest = contract.load_manifest(spec) if fs.isdir(spec) else None
        if manifest:
            keep = ("name", "input", "rows_in", "rows_out", "bytes_in", "skipped")
            run = {"command": manifest.get("command"), "sievekit_version": manifest.get("sievekit_version"),
                   "inputs": manifest.get("inputs", []),
                   "rows_in": manifest.get("rows_in"), "rows_out": manifest.get("rows_out"),
                   "shards": [{k: s.get(k) for k in keep if k in s} for s in manifest.get("shards", [])],
                   **({"method": manifest["method"]} if "method" in manifest else {})}
            if "dedupe" in manifest:
                run["dedupe"] = _dedupe_section(manifest["dedupe"])
            return run
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


def _sidecar_columns(directory: str, shards: Sequence[Shard]) -> dict[str, np.ndarray]:
    """Every score column of the sidecars in ``directory``, aligned with the input shards."""
    names = _columns_of(Layout(directory).sidecar(shards[0]))
    return {name: np.concatenate([r[1] for r in read_sidecars(directory, shards, name)]) for name in names}


def _columns_of(path: str) -> list[str]:
    from sievekit.io import iter_decoded_chunks
    from sievekit.io.jsonl import loads, split_lines

    for lines in split_lines(iter_decoded_chunks(path)):
        return sorted(set(loads(lines[0])) - {"shard", "row", "id"})
    return []


def _score_section(values: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    rho = stats.spearman(values, lengths.astype(np.float64)) if len(values) == len(lengths) else None
    return {"summary": stats.summary(values), "histogram": stats.histogram(values),
            "spearman_length": None if rho is None else round(rho, 4)}
