"""The library behind the CLI, one function per command: ``score``, ``select``, ``dedupe``, ``report``.

Data flow of ``select``: resolve the inputs into a manifest of shards; fit the selector on the target;
pass 1 scores every document (texts only, one float per document kept in memory); a global rule picks
the kept indices; pass 2 re-reads every shard with all its fields and writes the kept records, each
output atomically; the output directory's ``manifest.json`` is written last.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sievekit import sampling
from sievekit.errors import ConfigError, ShardError
from sievekit.io import ReadOptions, Shard, ShardStats, atomic_path, iter_batches, open_writer, output_target
from sievekit.io.shards import resolve_inputs
from sievekit.io.streams import STDIO, codec_from_suffix
from sievekit.scoring import MethodSpec, Progress, fit, make_selector, read_target, score_shards

RULES = ("top_k", "fraction", "threshold", "sample")


@dataclass(frozen=True)
class Rule:
    """How many documents to keep: ``top_k`` N, ``fraction`` F, ``threshold`` T, or ``sample`` N (Gumbel)."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ConfigError(f"unknown selection rule {self.kind!r}; choose one of {', '.join(RULES)}")

    def pick(self, scores: np.ndarray, seed: int) -> np.ndarray:
        if self.kind == "top_k":
            return sampling.top_k(scores, int(self.value))
        if self.kind == "fraction":
            return sampling.fraction(scores, self.value)
        if self.kind == "threshold":
            return sampling.threshold(scores, self.value)
        return sampling.gumbel_top_k(scores, int(self.value), np.random.default_rng(seed))


@dataclass
class RunResult:
    """What a command did: per-shard counters and the paths it wrote."""

    shards: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return sum(s["rows_in"] for s in self.shards)

    @property
    def rows_out(self) -> int:
        return sum(s.get("rows_out", 0) for s in self.shards)


def select(inputs: Sequence[str], output: str, *, method: MethodSpec, rule: Rule, target: Sequence[str] | None,
           opts: ReadOptions, seed: int = 0, jobs: int = 1, annotate: bool = False,
           output_compression: str | None = None, config: Mapping[str, Any] | None = None,
           progress: Progress | None = None) -> RunResult:
    """Keep the documents a selector ranks best across all shards; write them with every field intact."""
    with _readable_twice(inputs, opts) as shards:
        _check_output(output, shards)
        selector = make_selector(method, seed)
        fit(selector, read_target(target, opts) if target else None, shards, opts)
        per_shard, stats = score_shards(selector, shards, opts, jobs, progress)
        scores = np.concatenate(per_shard) if per_shard else np.empty(0)
        kept = rule.pick(scores, seed)
        keep = np.zeros(len(scores), dtype=bool)
        keep[kept] = True
        extra = _annotations(scores, kept) if annotate else None
        result = _write_selection(shards, per_shard, keep, extra, output, opts, output_compression, stats)
        result.extra["selector"] = selector.state_dict()
        _finish(output, "select", config, shards, result)
        return result


def _annotations(scores: np.ndarray, kept: np.ndarray) -> dict[str, np.ndarray]:
    rank = np.zeros(len(scores), dtype=np.int64)
    order = kept[np.argsort(-scores[kept], kind="stable")]
    rank[order] = np.arange(1, len(order) + 1)
    return {"score": scores, "rank": rank}


def _write_selection(shards: Sequence[Shard], per_shard: Sequence[np.ndarray], keep: np.ndarray,
                     extra: dict[str, np.ndarray] | None, output: str, opts: ReadOptions,
                     output_compression: str | None, stats: Sequence[ShardStats]) -> RunResult:
    result = RunResult()
    offsets = np.cumsum([0] + [len(s) for s in per_shard])
    single = output_target(output, shards[0]) == output  # stdout or one file: a single stream for all shards
    with ExitStack() as stack:
        shared = stack.enter_context(open_writer(output, shards[0], output_compression)) if single else None
        for shard, lo, hi, st in zip(shards, offsets[:-1], offsets[1:], stats):
            target = output_target(output, shard)
            with _nullcm(shared) if single else open_writer(target, shard, output_compression) as writer:
                rows = 0
                for batch in iter_batches(shard, opts, all_columns=True):
                    sl = slice(lo + batch.start, lo + batch.start + len(batch))
                    cols = {name: values[sl].tolist() for name, values in extra.items()} if extra else None
                    writer.write(batch, keep[sl], cols)
                    rows += len(batch)
            if rows != hi - lo:
                raise ShardError(f"{shard.label} changed during the run ({hi - lo} rows, then {rows})",
                                 hint="do not modify inputs while sievekit reads them")
            result.shards.append({"name": shard.name, "input": shard.label, "output": target, "rows_in": int(hi - lo),
                                  "rows_out": int(keep[lo:hi].sum()), **_stat_fields(st)})
            if target not in result.outputs:
                result.outputs.append(target)
    return result


@contextmanager
def _nullcm(value: Any) -> Iterator[Any]:
    yield value


def _stat_fields(st: ShardStats) -> dict[str, Any]:
    return {"bytes_in": st.bytes, "text_bytes_in": st.text_bytes, "skipped": dict(st.skipped)}


def score(inputs: Sequence[str], output: str, *, method: MethodSpec, target: Sequence[str] | None,
          opts: ReadOptions, seed: int = 0, jobs: int = 1, config: Mapping[str, Any] | None = None,
          progress: Progress | None = None) -> RunResult:
    """Score every document; write sidecar lines ``{"shard", "row", "id", <method>: score}`` per shard.

    A non-finite score (never select) is written as null. With a directory output, the fitted state is
    written to ``state.json`` beside the sidecars.
    """
    with _readable_twice(inputs, opts) as shards, tempfile.TemporaryDirectory(prefix="sievekit-score-") as tmp:
        selector = make_selector(method, seed)
        fit(selector, read_target(target, opts) if target else None, shards, opts)
        sidecar_dir = tmp if output == STDIO else output
        sidecars = [os.path.join(sidecar_dir, sidecar_name(shard)) for shard in shards]
        per_shard, stats = score_shards(selector, shards, opts, jobs, progress, sidecars)
        if output == STDIO:
            for path in sidecars:  # workers wrote each shard's lines to a temporary file; concatenate in order
                with open(path, "rb") as fh:
                    shutil.copyfileobj(fh, sys.stdout.buffer, 1 << 20)
            sys.stdout.buffer.flush()
        result = RunResult()
        for shard, scores, st, dest in zip(shards, per_shard, stats, sidecars):
            result.shards.append({"name": shard.name, "input": shard.label, "output": dest if output != STDIO else STDIO,
                                  "rows_in": len(scores), **_stat_fields(st)})
        result.outputs = [STDIO] if output == STDIO else sidecars
        result.extra["selector"] = selector.state_dict()
        if output != STDIO:
            _write_json(os.path.join(output, "state.json"), result.extra["selector"])
        _finish(output, "score", config, shards, result)
        return result


def sidecar_name(shard: Shard) -> str:
    """``a/b.jsonl.zst`` scores go to ``a/b.scores.jsonl.zst``; a Parquet shard's to ``…scores.jsonl``."""
    stem = shard.name
    for suffix in (".parquet", ".pq", ".gz", ".zst", ".zstd", ".jsonl", ".ndjson", ".json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    codec = {"gzip": ".gz", "zstd": ".zst", "none": ""}[codec_from_suffix(shard.name)]
    return f"{stem}.scores.jsonl{codec}"


def dedupe(inputs: Sequence[str], output: str, *, dedupe_config: Any = None, opts: ReadOptions | None = None,
           work_dir: str | None = None, stage: str = "all", shard: int | None = None, band: int | None = None,
           jobs: int = 1, against: str | None = None, clusters: str | None = None,
           output_compression: str | None = None, config: Mapping[str, Any] | None = None,
           log: Any = None) -> RunResult:
    """Remove exact and near duplicates across all shards; the work is in ``sievekit.dedupe``.

    ``dedupe_config`` is a ``sievekit.dedupe.DedupeConfig`` (threshold, slots, verify, keep, ...). With a
    ``work_dir`` the stages keep their artefacts there and a re-run resumes; ``stage`` runs one of them.
    Returns the written shards; ``extra["dedupe"]`` holds the counts, the cluster-size histogram and the
    clusters file's path.
    """
    from sievekit.dedupe.options import DedupeConfig
    from sievekit.dedupe.runner import run

    opts = opts or ReadOptions()
    with _readable_twice(inputs, opts) as shards:
        if stage in ("all", "filter"):
            _check_output(output, shards)
        entries, summary = run(shards, output, dedupe_config or DedupeConfig(), opts, work_dir=work_dir,
                               stage=stage, shard=shard, band=band, jobs=jobs, against=against,
                               clusters=clusters, output_compression=output_compression, log=log)
        result = RunResult(shards=entries, outputs=list(dict.fromkeys(e["output"] for e in entries)),
                           extra={"dedupe": summary})
        if len(entries) == len(shards):
            result.extra["rows_out"] = result.rows_out
            _finish(output, "dedupe", config, shards, result)
        return result


# -- run bookkeeping -------------------------------------------------------------------------------------
@contextmanager
def _readable_twice(inputs: Sequence[str], opts: ReadOptions) -> Iterator[list[Shard]]:
    """The input shards; stdin is first spooled to a temporary file, since selection reads the pool twice."""
    shards = resolve_inputs(inputs)
    if shards[0].path != STDIO:
        yield shards
        return
    tmpdir = tempfile.mkdtemp(prefix="sievekit-stdin-")
    try:
        path = os.path.join(tmpdir, "stdin.jsonl")
        with open(path, "wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
        yield [Shard(0, path, "stdin.jsonl", "jsonl")]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _check_output(output: str, shards: Sequence[Shard]) -> None:
    inputs = {os.path.realpath(s.path) for s in shards}
    for shard in shards:
        target = output_target(output, shard)
        if target != STDIO and os.path.realpath(target) in inputs:
            raise ConfigError(f"output {target} would overwrite an input", hint="choose another -o/--output")


def _finish(output: str, command: str, config: Mapping[str, Any] | None, shards: Sequence[Shard],
            result: RunResult) -> None:
    """Write ``manifest.json`` last into an output directory: its presence means the run completed."""
    if output == STDIO or not os.path.isdir(output):
        return
    from sievekit import __version__

    manifest = {
        "sievekit_version": __version__,
        "command": command,
        "config": dict(config or {}),
        "inputs": [{"path": s.label, "name": s.name, "rows": r["rows_in"]} for s, r in zip(shards, result.shards)],
        "shards": result.shards,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out if command == "select" else None,
        **result.extra,
    }
    _write_json(os.path.join(output, "manifest.json"), manifest)


def _write_json(path: str, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
