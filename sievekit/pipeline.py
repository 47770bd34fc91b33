"""The library behind the CLI, one function per command: ``score``, ``select``, ``dedupe`` (and ``report``
in reporting.py).

Data flow of ``select``: resolve the inputs into a manifest of shards; get one score per document (fit
a selector and score on the fly, or read the sidecars of an earlier ``score`` run, or a numeric field of
the records); a global rule picks the kept indices (one float per document in memory, never the text);
a second pass re-reads every shard with all its fields and writes the kept records, each output shard
atomically; ``manifest.json`` is written last (see runs.py for re-runs and resumes).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sievekit import runs, sampling, stratify
from sievekit.allocator import tune_allocator
from sievekit.errors import ConfigError, ShardError
from sievekit.executor import Executor
from sievekit.inputs import check_output, part_of, readable_twice
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, open_writer, output_target
from sievekit.io.streams import STDIO
from sievekit.scoring import (
    MethodSpec,
    Progress,
    Sinks,
    fit_all,
    load_states,
    make_selectors,
    read_target,
    save_states,
    score_shards,
)
from sievekit.sidecars import IdDigest, check_ids, field_scores, read_sidecar, sidecar_name

RULES = ("top_k", "fraction", "threshold", "sample")


@dataclass(frozen=True)
class Rule:
    """How many documents to keep: ``top_k`` N, ``fraction`` F, ``threshold`` T, or ``sample`` N (Gumbel).

    With ``stratify`` (``"length"``, or a field name) ``top_k``/``fraction`` keep each stratum's proportional
    share: equal-frequency length bands (``bins`` of them), or one stratum per value of the field.
    """

    kind: str
    value: float
    stratify: str | None = None
    bins: int = 10

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ConfigError(f"unknown selection rule {self.kind!r}; choose one of {', '.join(RULES)}")
        if self.stratify and self.kind not in ("top_k", "fraction"):
            raise ConfigError("--stratify works with --top-k or --fraction", hint="drop --stratify, or pick a count")
        if self.bins < 1:
            raise ConfigError(f"--bins must be >= 1, got {self.bins}")

    def pick(self, scores: np.ndarray, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
        if strata is not None:
            share = int(self.value) if self.kind == "top_k" else float(self.value)
            return stratify.grouped_top_k(scores, strata, share)
        if self.kind == "top_k":
            return sampling.top_k(scores, int(self.value))
        if self.kind == "fraction":
            return sampling.fraction(scores, self.value)
        if self.kind == "threshold":
            return sampling.threshold(scores, self.value)
        return sampling.gumbel_top_k(scores, int(self.value), np.random.default_rng(seed))


@dataclass
class RunResult:
    """What a command did: per-shard counters, the paths it wrote, and whether it found the work done."""

    shards: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    up_to_date: bool = False

    @property
    def rows_in(self) -> int:
        return sum(s["rows_in"] for s in self.shards)

    @property
    def rows_out(self) -> int:
        return sum(s.get("rows_out", 0) for s in self.shards)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> RunResult:
        return cls(shards=list(manifest.get("shards", [])), up_to_date=True)


@dataclass(frozen=True)
class ScoreSource:
    """Where ``select`` gets its scores: methods fitted now (or loaded with ``state``), the sidecars of an
    earlier ``score`` run (``sidecars``, a directory), or a numeric field of the records (``field``)."""

    methods: Sequence[MethodSpec] = ()
    target: Sequence[str] | None = None
    state: str | None = None
    sidecars: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        given = [n for n, v in (("--method", self.methods and not self.sidecars), ("--scores", self.sidecars),
                                ("--score-field", self.field)) if v]
        if len(given) != 1:
            raise ConfigError(f"give one source of scores: --method, --scores DIR or --score-field "
                              f"(got {', '.join(given) or 'none'})")
        if len(self.methods) > 1:
            raise ConfigError("select ranks by one method", hint="score with several, then select with --scores")


# -- select -----------------------------------------------------------------------------------------------
def select(inputs: Sequence[str], output: str, *, rule: Rule, source: ScoreSource, opts: ReadOptions,
           seed: int = 0, jobs: int = 1, annotate: bool = False, output_compression: str | None = None,
           config: Mapping[str, Any] | None = None, overwrite: bool = False, progress: Progress | None = None,
           executor: str = "local", ray_address: str | None = None, split_mb: float = 256) -> RunResult:
    """Keep the documents ranked best across all shards; write them with every field intact.

    Shards larger than ``split_mb`` (plain JSONL, Parquet) are scored as several tasks (0: never).
    """
    tune_allocator()
    with readable_twice(inputs, opts) as shards, Executor(jobs, executor, ray_address) as ex:
        check_output(output, shards)
        status = runs.begin(output, runs.fingerprint("select", config or {}, shards), overwrite)
        if status == "done":
            return RunResult.from_manifest(runs.load_manifest(output) or {})
        per_shard, stats, digests, extra = _collect_scores(source, shards, opts, seed, ex, progress,
                                                           _span_bytes(split_mb))
        scores = np.concatenate(per_shard) if per_shard else np.empty(0)
        kept = rule.pick(scores, seed, _strata(rule, shards, opts) if rule.stratify else None)
        keep = np.zeros(len(scores), dtype=bool)
        keep[kept] = True
        columns = _annotations(scores, kept) if annotate else None
        result = write_kept(shards, per_shard, keep, columns, output, opts, output_compression, stats,
                                  digests, resume=status == "resume")
        result.extra.update(extra)
        _finish(output, "select", config, shards, result)
        return result


def _span_bytes(split_mb: float) -> int | None:
    return int(split_mb * 1e6) if split_mb > 0 else None


def _collect_scores(source: ScoreSource, shards: Sequence[Shard], opts: ReadOptions, seed: int, ex: Executor,
                    progress: Progress | None, span_bytes: int | None = None) -> tuple[
                        list[np.ndarray], list[ShardStats], list[str | None], dict[str, Any]]:
    if source.field:
        per_shard, stats = field_scores(shards, source.field, opts)
        return per_shard, stats, [None] * len(shards), {"score_field": source.field}
    if source.sidecars:
        column = source.methods[0].name if source.methods else None
        read = [read_sidecar(fs.join(source.sidecars, sidecar_name(s)), column) for s in shards]
        return [r[1] for r in read], [ShardStats() for _ in shards], [r[2] for r in read], {
            "scores_from": source.sidecars, "method": read[0][0] if read else column}
    selectors = _fitted(source, shards, opts, seed)
    per_method, stats = score_shards(selectors, shards, opts, ex, progress, span_bytes=span_bytes)
    return [s[selectors[0].name] for s in per_method], stats, [None] * len(shards), {
        "selector": selectors[0].state_dict()}


def _fitted(source: ScoreSource, shards: Sequence[Shard], opts: ReadOptions, seed: int) -> list[Any]:
    if source.state:
        return load_states(source.state, [m.name for m in source.methods] or None)
    selectors = make_selectors(source.methods, seed)
    fit_all(selectors, read_target(source.target, opts) if source.target else None, shards, opts)
    return selectors


def _strata(rule: Rule, shards: Sequence[Shard], opts: ReadOptions) -> np.ndarray:
    """A stratum number per document: its equal-frequency length band, or the code of a field's value.

    This is one more read of the pool (texts only for length, that field for Parquet)."""
    if rule.stratify == "length":
        lengths = [np.fromiter(map(len, b.texts), dtype=np.int64, count=len(b))
                   for s in shards for b in iter_batches(s, opts, all_columns=False)]
        flat = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int64)
        return stratify.length_bins(flat, min(rule.bins, max(len(flat), 1)))
    field = rule.stratify or ""
    values = [v for s in shards for b in iter_batches(s, opts, all_columns=True) for v in b.column(field)]
    return stratify.group_codes(values)


def _annotations(scores: np.ndarray, kept: np.ndarray) -> dict[str, np.ndarray]:
    rank = np.zeros(len(scores), dtype=np.int64)
    order = kept[np.argsort(-scores[kept], kind="stable")]
    rank[order] = np.arange(1, len(order) + 1)
    return {"score": scores, "rank": rank}


def write_kept(shards: Sequence[Shard], per_shard: Sequence[np.ndarray], keep: np.ndarray,
               extra: dict[str, np.ndarray] | None, output: str, opts: ReadOptions, output_compression: str | None,
               stats: Sequence[ShardStats], digests: Sequence[str | None] | None = None,
               resume: bool = False) -> RunResult:
    """Write the kept records of every shard (one output per shard, or one stream), with every field.

    ``per_shard`` gives each shard's row count (its score array); ``keep`` and the ``extra`` columns run over
    all documents in manifest order. ``digests`` (from sidecars) are checked against the shards' ids.
    """
    result = RunResult()
    digests = digests if digests is not None else [None] * len(shards)
    offsets = np.cumsum([0] + [len(s) for s in per_shard])
    single = output_target(output, shards[0]) == output  # stdout or one file: a single stream for all shards
    with ExitStack() as stack:
        shared = stack.enter_context(open_writer(output, shards[0], output_compression)) if single else None
        for shard, lo, hi, st, digest in zip(shards, offsets[:-1], offsets[1:], stats, digests):
            target = output_target(output, shard)
            if resume and not single and fs.exists(target):
                pass  # written completely by the interrupted run (outputs appear only when whole)
            else:
                with nullcontext(shared) if single else open_writer(target, shard, output_compression) as writer:
                    _write_shard(writer, shard, opts, keep[lo:hi], extra, lo, digest)
            result.shards.append({"name": shard.name, "input": shard.label, "output": target, "rows_in": int(hi - lo),
                                  "rows_out": int(keep[lo:hi].sum()), **_stat_fields(st)})
            if target not in result.outputs:
                result.outputs.append(target)
    return result


def _write_shard(writer: Any, shard: Shard, opts: ReadOptions, keep: np.ndarray,
                 extra: dict[str, np.ndarray] | None, offset: int, digest: str | None) -> None:
    """Re-read one shard with every field and write its kept records; check it still matches its scores."""
    rows = 0
    ids = IdDigest()
    for batch in iter_batches(shard, opts, all_columns=True):
        sl = slice(batch.start, batch.start + len(batch))
        cols = {name: values[offset + sl.start:offset + sl.stop].tolist() for name, values in extra.items()} \
            if extra else None
        writer.write(batch, keep[sl], cols)
        rows += len(batch)
        if digest is not None:
            ids.update(batch.ids or [None] * len(batch))
    if rows != len(keep):
        raise ShardError(f"{shard.label} has {rows} records but {len(keep)} scores",
                         hint="the scores belong to other data, or the shard changed during the run")
    if digest is not None:
        check_ids(shard, digest, ids)


def _stat_fields(st: ShardStats) -> dict[str, Any]:
    return {"bytes_in": st.bytes, "text_bytes_in": st.text_bytes, "skipped": dict(st.skipped)}


# -- score ------------------------------------------------------------------------------------------------
def score(inputs: Sequence[str], output: str, *, methods: Sequence[MethodSpec], target: Sequence[str] | None,
          opts: ReadOptions, state: str | None = None, inline: bool = False, seed: int = 0, jobs: int = 1,
          config: Mapping[str, Any] | None = None, overwrite: bool = False, progress: Progress | None = None,
          executor: str = "local", ray_address: str | None = None, part: tuple[int, int] | None = None,
          split_mb: float = 256) -> RunResult:
    """Score every document with one or more methods.

    Writes sidecar lines ``{"shard", "row", "id", <method>: score, ...}`` per shard (``inline``: the records
    themselves with one column per method). A non-finite score (never select) is written as null. With a
    directory output the fitted states go to ``state/<method>.json`` (reusable with ``state=``).
    """
    tune_allocator()
    with readable_twice(inputs, opts) as all_shards, tempfile.TemporaryDirectory(prefix="sievekit-score-") as tmp, \
            Executor(jobs, executor, ray_address) as ex:
        shards = part_of(all_shards, part)
        name = runs.part_name(part)
        status = runs.begin(output, runs.fingerprint("score", config or {}, shards), overwrite, name)
        if status == "done":
            return RunResult.from_manifest(runs.load_manifest(output, name) or {})
        names = [m.name for m in methods]
        if state or (status == "resume" and fs.isdir(fs.join(output, "state"))):
            selectors = load_states(state or output, names or None)
        else:
            selectors = make_selectors(methods, seed)
            fit_all(selectors, read_target(target, opts) if target else None, shards, opts)
        if output != STDIO:
            save_states(selectors, output)
        dests = [_score_dest(output, tmp, shard, inline) for shard in shards]
        todo = [i for i, d in enumerate(dests) if not (status == "resume" and fs.exists(d))]
        sinks = [Sinks(inline=dests[i]) if inline else Sinks(sidecar=dests[i]) for i in todo]
        per_shard, stats = score_shards(selectors, [shards[i] for i in todo], opts, ex, progress, sinks,
                                        _span_bytes(split_mb))
        if output == STDIO:
            for path in dests:
                with open(path, "rb") as fh:
                    shutil.copyfileobj(fh, sys.stdout.buffer, 1 << 20)
            sys.stdout.buffer.flush()
        result = RunResult(outputs=[STDIO] if output == STDIO else dests)
        done = dict(zip(todo, zip(per_shard, stats)))
        for i, shard in enumerate(shards):
            rows, st = (len(next(iter(done[i][0].values()))), done[i][1]) if i in done else (count_rows(dests[i]),
                                                                                             ShardStats())
            result.shards.append({"name": shard.name, "input": shard.label, "rows_in": rows,
                                  "output": STDIO if output == STDIO else dests[i], **_stat_fields(st)})
        result.extra["methods"] = names or [s.name for s in selectors]
        _finish(output, "score", config, shards, result, name)
        return result


def count_rows(path: str) -> int:
    """Records in a finished output file (a JSONL line count, or Parquet's row count)."""
    if path.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    from sievekit.io import iter_decoded_chunks

    return sum(chunk.count(b"\n") for chunk in iter_decoded_chunks(path))


def _score_dest(output: str, tmp: str, shard: Shard, inline: bool) -> str:
    if output == STDIO:  # each shard goes to a temporary file first; they are concatenated in order
        return os.path.join(tmp, f"{shard.index:06d}.jsonl")
    return fs.join(output, shard.name if inline else sidecar_name(shard))


def dedupe(inputs: Sequence[str], output: str, *, dedupe_config: Any = None, opts: ReadOptions | None = None,
           work_dir: str | None = None, stage: str = "all", shard: int | None = None, band: int | None = None,
           jobs: int = 1, against: str | None = None, clusters: str | None = None, executor: str = "local",
           ray_address: str | None = None,
           output_compression: str | None = None, config: Mapping[str, Any] | None = None,
           log: Any = None) -> RunResult:
    """Remove exact and near duplicates across all shards; the work is in ``sievekit.dedupe``.

    ``dedupe_config`` is a ``sievekit.dedupe.DedupeConfig`` (threshold, slots, verify, keep, ...). With a
    ``work_dir`` the stages keep their artefacts there and a re-run resumes; ``stage`` runs one of them.
    Returns the written shards; ``extra["dedupe"]`` holds the counts, the cluster-size histogram and the
    clusters file's path.
    """
    tune_allocator()
    from sievekit.dedupe.options import DedupeConfig
    from sievekit.dedupe.runner import run

    opts = opts or ReadOptions()
    with readable_twice(inputs, opts) as shards:
        if stage in ("all", "filter"):
            check_output(output, shards)
        entries, summary = run(shards, output, dedupe_config or DedupeConfig(), opts, work_dir=work_dir,
                               stage=stage, shard=shard, band=band, jobs=jobs, against=against,
                               executor=executor, ray_address=ray_address,
                               clusters=clusters, output_compression=output_compression, log=log)
        result = RunResult(shards=entries, outputs=list(dict.fromkeys(e["output"] for e in entries)),
                           extra={"dedupe": summary})
        if len(entries) == len(shards):
            result.extra["rows_out"] = result.rows_out
            _finish(output, "dedupe", config, shards, result)
        return result


# -- run bookkeeping -------------------------------------------------------------------------------------
def _finish(output: str, command: str, config: Mapping[str, Any] | None, shards: Sequence[Shard],
            result: RunResult, name: str = runs.MANIFEST) -> None:
    """Write ``manifest.json`` last into an output directory: its presence means the run completed."""
    from sievekit import __version__

    manifest = {
        "sievekit_version": __version__,
        "command": command,
        "fingerprint": runs.fingerprint(command, config or {}, shards),
        "config": dict(config or {}),
        "inputs": [{"path": s.label, "name": s.name, "rows": r["rows_in"]} for s, r in zip(shards, result.shards)],
        "shards": result.shards,
        "rows_in": result.rows_in if all(s["rows_in"] is not None for s in result.shards) else None,
        "rows_out": result.rows_out if command == "select" else None,
        **result.extra,
    }
    runs.finish(output, manifest, name)
