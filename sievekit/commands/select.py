"""``select``: keep the documents ranked best across all shards, with every field intact.

Data flow: resolve the inputs into a manifest of shards; get one score per document (fit a selector and
score on the fly, or read the sidecars of an earlier ``score`` run, or a numeric field of the records); the
rule picks the kept indices (one float per document in memory, never the text); a second pass re-reads every
shard with all its fields and writes the kept records through ``run.writeback``; ``manifest.json`` last.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from sievekit.allocator import tune_allocator
from sievekit.commands.jobs import inputs_job, manifest, path_job, read_job
from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions, Shard, ShardStats, iter_batches, resolve_inputs
from sievekit.io.spool import readable_twice
from sievekit.rules import Rule, stratify
from sievekit.run import RunOptions, contract, layout
from sievekit.run.executor import Executor
from sievekit.run.layout import Layout
from sievekit.run.progress import tracker
from sievekit.run.writeback import RunResult, write_kept
from sievekit.scoring.methods import describe_selectors, fit_all, load_states, make_selectors, read_target
from sievekit.scoring.passes import score_shards
from sievekit.scoring.sidecars import field_scores, read_sidecars
from sievekit.scoring.source import ScoreSource
from sievekit.selectors import Selector

RESULT_KEYS = ("selector", "scores_from", "method", "score_field")


def select(inputs: Sequence[str], output: str, *, rule: Rule, source: ScoreSource, read: ReadOptions = ReadOptions(),
           run: RunOptions = RunOptions(), seed: int = 0, annotate: bool = False,
           output_compression: str | None = None) -> RunResult:
    """Keep the documents ranked best across all shards; write them with every field intact.

    ``output`` is a directory (one output shard per input, with ``manifest.json``), one ``.jsonl[.gz|.zst]``
    file, or ``-`` for stdout. Into a directory, the same job again does nothing, a changed job is refused
    (unless ``run.overwrite``), and a killed job resumes.

    Example:
        >>> select(["pool/"], "picked/", rule=Rule("top_k", 100),
        ...        source=ScoreSource(methods=[MethodSpec("length", {})]))  # doctest: +SKIP
    """
    tune_allocator()
    out = Layout(output, output_compression)
    with readable_twice(inputs, read) as shards, Executor(run.jobs, run.executor, run.ray_address) as ex:
        selectors = _selectors(source, rule, seed)
        job = {"command": "select", "inputs": contract.describe_inputs(shards), "rule": dataclasses.asdict(rule),
               "source": _source_job(source, selectors, shards), "read": read_job(read), "seed": seed,
               "annotate": annotate, "output_compression": output_compression}
        writes = out.outputs(shards) + (out.record() if out.kind == "dir" else [])
        reads = layout.reads_of(shards) + _source_reads(source)
        layout.check(writes, reads, layout.input_dirs(inputs), output if out.kind == "dir" else None)
        with contract.claimed(output, job, run.overwrite) if out.kind == "dir" else nullcontext("new") as status:
            if status == "done":
                return RunResult.from_manifest(contract.load_manifest(output) or {}, RESULT_KEYS)
            per_shard, stats, digests, extra = _collect_scores(source, selectors, shards, read, ex, run)
            scores = np.concatenate(per_shard) if per_shard else np.empty(0)
            kept = rule.pick(scores, seed, _strata(rule, shards, read) if rule.stratify else None)
            keep = np.zeros(len(scores), dtype=bool)
            keep[kept] = True
            columns = _annotations(scores, kept) if annotate else None
            result = write_kept(shards, [len(s) for s in per_shard], keep, columns, out, read, output_compression,
                                stats, digests, resume=status == "resume", executor=ex, progress=tracker(run.progress))
            result.extra.update(extra)
            if out.kind == "dir":
                contract.finish(output, job, manifest("select", shards, result))
            return result


def _selectors(source: ScoreSource, rule: Rule, seed: int) -> list[Selector]:
    """The selectors to score with, built (not yet fitted) or loaded from a state."""
    if source.sidecars or source.field:
        return []
    if source.state:
        return load_states(source.state, [m.name for m in source.methods] or None)
    return make_selectors(source.methods, seed, rule.budget())


def _source_job(source: ScoreSource, selectors: Sequence[Selector], shards: Sequence[Shard]) -> dict[str, Any]:
    if source.field:
        return {"field": source.field}
    if source.sidecars:
        sidecars = Layout(source.sidecars)
        return {"sidecars": [path_job(sidecars.sidecar(s)) for s in shards],
                "column": source.methods[0].name if source.methods else None}
    if source.state:
        return {"state": path_job(source.state), "methods": [s.name for s in selectors]}
    return {"methods": describe_selectors(selectors), "target": inputs_job(source.target)}


def _source_reads(source: ScoreSource) -> list[tuple[str, str]]:
    reads = [("the target " + s.label, s.path) for s in resolve_inputs(list(source.target))] if source.target else []
    if source.state:
        reads.append(("the state", source.state))
    return reads


def _collect_scores(source: ScoreSource, selectors: list[Selector], shards: Sequence[Shard], opts: ReadOptions,
                    ex: Executor, run: RunOptions) -> tuple[list[np.ndarray], list[ShardStats], list[str | None],
                                                            dict[str, Any]]:
    progress = tracker(run.progress)
    if source.field:
        progress.phase_of("score", shards)
        per_shard, stats = field_scores(shards, source.field, opts)
        progress.complete()
        return per_shard, stats, [None] * len(shards), {"score_field": source.field}
    if source.sidecars:
        column = source.methods[0].name if source.methods else None
        read = read_sidecars(source.sidecars, shards, column)
        return [r[1] for r in read], [ShardStats() for _ in shards], [r[2] for r in read], {
            "scores_from": source.sidecars, "method": read[0][0] if read else column}
    if not source.state:
        progress.phase_of("fit", resolve_inputs(list(source.target)) if source.target else [])
        fit_all(selectors, read_target(source.target, opts) if source.target else None, shards, opts)
        progress.complete()
    per_method, stats = score_shards(selectors, shards, opts, ex, run.progress, span_bytes=run.span_bytes)
    return [s[selectors[0].name] for s in per_method], stats, [None] * len(shards), {
        "selector": selectors[0].state_dict()}


def _strata(rule: Rule, shards: Sequence[Shard], opts: ReadOptions) -> np.ndarray:
    """A stratum number per document: its equal-frequency length band, or the code of a field's value.

    This is one more read of the pool (texts only for length, that field for Parquet)."""
    if rule.stratify == "length":
        lengths = [np.fromiter(map(len, b.texts), dtype=np.int64, count=len(b))
                   for s in shards for b in iter_batches(s, opts, all_columns=False)]
        flat = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int64)
        return stratify.length_bins(flat, min(rule.bins, max(len(flat), 1)))
    name = rule.stratify or ""
    values: list[Any] = []
    fields: Counter[str] = Counter()
    for shard in shards:
        for batch in iter_batches(shard, opts, all_columns=True):
            values.extend(batch.column(name))
            fields.update(batch.field_counts())
    if values and name not in fields:
        raise ConfigError(f"no record has a field {name!r} for {option('stratify')}",
                          hint=f"use length, or one of the fields: {', '.join(sorted(fields)[:20])}")
    return stratify.group_codes(values)


def _annotations(scores: np.ndarray, kept: np.ndarray) -> dict[str, np.ndarray]:
    rank = np.zeros(len(scores), dtype=np.int64)
    order = kept[np.argsort(-scores[kept], kind="stable")]
    rank[order] = np.arange(1, len(order) + 1)
    return {"score": scores, "rank": rank}
