"""Scoring whole shards, in this process or as tasks on an executor (worker processes or Ray).

Workers receive the selectors as their JSON-safe ``state_dict``s and return one float64 array per method
and shard, so the result is the same whatever the number of workers. The scoring pass can also write,
in the same read of each shard, its sidecar of score lines or its records with score columns added.

A fit that already scored some shards while it read them (``ScoredByFit``: DSIR scores the shards whose
features it kept) hands those scores over: a shard every method scored that way and that has nothing to
write is not read again; one with sinks or counts is read, but its scores are not computed again.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, iter_decoded_chunks, open_output, open_writer
from sievekit.io.batch import Batch
from sievekit.io.jsonl import split_lines
from sievekit.io.spans import Span, plan_spans
from sievekit.rules.counting import Counting, Counts, counter_for
from sievekit.run.executor import Executor
from sievekit.run.layout import span_part
from sievekit.run.progress import ProgressLike, Tracker, sizes_of, tracker
from sievekit.selectors import Selector, get_selector

Scores = npt.NDArray[np.float64]
ShardScores = dict[str, Scores]
# The key of a shard's per-document counts (for a token or byte budget) among its scores: no method's name.
COUNTS = "<counts>"


@runtime_checkable
class ScoredByFit(Protocol):
    """A selector whose fit may have scored some shards already (with the reader's counters of each)."""

    def fit_scores(self, shard: Shard) -> tuple[Scores, ShardStats] | None: ...


@dataclass(frozen=True)
class Sinks:
    """Where the scoring pass writes besides returning scores: a sidecar of score lines, or the records
    themselves with score columns added (``inline``)."""

    sidecar: str | None = None
    inline: str | None = None


def score_shard(selectors: Sequence[Selector], shard: Shard, opts: ReadOptions,
                progress: ProgressLike | Tracker = None, sinks: Sinks = Sinks(), span: Span | None = None,
                size: int | None = None, counting: Counting | None = None,
                given: Mapping[str, Scores] | None = None) -> tuple[ShardScores, ShardStats]:
    """Score one shard (or one span of it) with every selector, writing its sinks (atomically) in the same
    pass. A span's sidecar numbers its rows from 0; ``score_shards`` renumbers them when it joins the spans.
    ``progress`` is told the documents and the ``size`` (default: the shard's) on-disk bytes as they are read.
    With ``counting``, each document's tokens or bytes are counted in the same read (under ``COUNTS``).
    ``given`` holds the whole shard's scores of some methods (by key), which are then not computed."""
    stats = ShardStats()
    if size is None:
        size = sizes_of([shard])[0] if progress is not None else 0
    meter = tracker(progress).meter(shard, opts, size)
    keys = method_keys(selectors)
    parts: dict[str, list[Scores]] = {key: [] for key in keys}
    count = _counter(counting) if counting is not None else None
    if count is not None:
        parts[COUNTS] = []
    with ExitStack() as stack:
        sidecar = stack.enter_context(open_output(sinks.sidecar)) if sinks.sidecar else None
        inline = stack.enter_context(open_writer(sinks.inline, shard)) if sinks.inline else None
        for batch in iter_batches(shard, opts, stats, all_columns=inline is not None, span=span):
            scores = {key: given[key][batch.start: batch.start + len(batch)] if given and key in given
                      else np.asarray(s.score_batch(batch.texts), dtype=np.float64) for key, s in zip(keys, selectors)}
            for name, values in scores.items():
                parts[name].append(values)
            if count is not None:  # float64 holds every count exactly (below 2**53)
                parts[COUNTS].append(count(batch.texts).astype(np.float64))
            if sidecar is not None:
                sidecar.write(score_lines(shard, batch, scores))
            if inline is not None:
                inline.write(batch, None, {name: _json_floats(v) for name, v in scores.items()})
            meter.update(len(batch), stats)
    meter.close()
    empty = np.empty(0, dtype=np.float64)
    return {name: np.concatenate(p) if p else empty for name, p in parts.items()}, stats


def method_keys(selectors: Sequence[Selector]) -> list[str]:
    """Each selector's key among a shard's scores: its name, or ``name#i`` (its place) for a method given more
    than once (one per target of a mixture)."""
    names = [s.name for s in selectors]
    return [name if names.count(name) == 1 else f"{name}#{i}" for i, name in enumerate(names)]


def _counter(counting: Counting) -> Callable[[Sequence[str]], Counts]:
    if counting.tokenizer is None:
        return counter_for(counting)
    return _tokenizer(counting, fs.stat_key(counting.tokenizer))


@functools.lru_cache(maxsize=4)
def _tokenizer(counting: Counting, stamp: tuple[int, int | str | None]) -> Callable[[Sequence[str]], Counts]:
    """A tokenizer is loaded once per process (and file version), not once per shard."""
    return counter_for(counting, fs.read_text(str(counting.tokenizer)))


def _json_floats(values: Scores) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def score_lines(shard: Shard, batch: Batch, scores: Mapping[str, Scores]) -> bytes:
    """Sidecar lines ``{"shard", "row", "id", <method>: score, ...}``; a non-finite score (never select) is null."""
    ids = batch.ids if batch.ids is not None else [None] * len(batch)
    columns = {name: _json_floats(values) for name, values in scores.items()}
    out = []
    for i, (row, doc_id) in enumerate(zip(batch.rows, ids)):
        rec: dict[str, Any] = {"shard": shard.name, "row": row, "id": doc_id}
        rec.update({name: col[i] for name, col in columns.items()})
        out.append(_sidecar_line(rec))
    return b"".join(out)


def _sidecar_line(rec: Mapping[str, Any]) -> bytes:
    return json.dumps(rec, ensure_ascii=False).encode() + b"\n"


def _score_in_worker(states: list[dict[str, Any]], shard: Shard, opts: ReadOptions, sinks: Sinks,
                     span: Span | None, counting: Counting | None = None,
                     given: Mapping[str, Scores] | None = None) -> tuple[ShardScores, ShardStats]:
    selectors = [get_selector(state["name"]).from_state_dict(state) for state in states]
    return score_shard(selectors, shard, opts, sinks=sinks, span=span, counting=counting, given=given)


def fit_scored(selectors: Sequence[Selector], shard: Shard) -> tuple[dict[str, Scores], ShardStats | None]:
    """The scores of ``shard`` that the selectors' fits made already (by method key), and the reader's
    counters that came with them."""
    given: dict[str, Scores] = {}
    stats = None
    for key, selector in zip(method_keys(selectors), selectors):
        found = selector.fit_scores(shard) if isinstance(selector, ScoredByFit) else None
        if found is not None:
            given[key], stats = found
    return given, stats


def score_shards(selectors: Sequence[Selector], shards: Sequence[Shard], opts: ReadOptions,
                 executor: Executor | None = None, progress: ProgressLike | Tracker = None,
                 sinks: Sequence[Sinks] | None = None, span_bytes: int | None = None,
                 counting: Counting | None = None) -> tuple[list[ShardScores], list[ShardStats]]:
    """Score every shard (writing its sinks, if given): here, or as tasks on ``executor``.

    A shard larger than ``span_bytes`` (plain JSONL or Parquet) is scored as several tasks, one per span;
    their scores are joined in order, and their sidecars into the shard's one sidecar. Records with scores
    (inline sinks) are written by one task per shard. ``progress`` sees one phase, ``score``. With
    ``counting``, each shard's scores also hold its documents' counts under ``COUNTS``.
    """
    all_sinks = list(sinks) if sinks is not None else [Sinks()] * len(shards)
    tasks: list[tuple[int, Shard, Sinks, Span | None]] = []
    givens: list[dict[str, Scores]] = []
    done: dict[int, tuple[ShardScores, ShardStats]] = {}  # shards the fits scored whole, with nothing to write
    for i, (shard, sink) in enumerate(zip(shards, all_sinks)):
        given, given_stats = fit_scored(selectors, shard)
        if given_stats is not None and len(given) == len(selectors) and sink == Sinks() and counting is None:
            done[i] = given, given_stats
            continue
        spans = [None] if sink.inline or given else plan_spans(shard.path, shard.format, opts, span_bytes)
        for j, span in enumerate(spans):
            part = Sinks(sidecar=span_part(sink.sidecar, j)) if sink.sidecar and span is not None else sink
            tasks.append((i, shard, part, span))
            givens.append(given)
    t = tracker(progress)
    shard_sizes = t.phase_of("score", shards)
    sizes = _task_sizes(tasks, shard_sizes)
    for i, (scores, _) in done.items():
        t.advance(len(next(iter(scores.values()), [])), shard_sizes[i])
        t.shard_done()
    if executor is None or (executor.kind == "local" and (executor.jobs <= 1 or len(tasks) <= 1)):
        results = []
        for k, (_, shard, sink, span) in enumerate(tasks):
            results.append(score_shard(selectors, shard, opts, t, sink, span, sizes[k], counting, givens[k] or None))
            _task_done(t, tasks, k)
    else:
        states = [s.state_dict() for s in selectors]
        results = []
        for k, result in enumerate(executor.imap(_score_in_worker, [(states, sh, opts, sk, sp, counting, g or None)
                                                                   for (_, sh, sk, sp), g in zip(tasks, givens)])):
            results.append(result)
            t.meter(tasks[k][1], opts, sizes[k]).close(len(next(iter(result[0].values()), [])))
            _task_done(t, tasks, k)
    names = method_keys(selectors) + ([COUNTS] if counting is not None else [])
    return _join_spans(names, shards, all_sinks, tasks, results, done)


def _task_sizes(tasks: Sequence[tuple[int, Shard, Sinks, Span | None]], shard_sizes: Sequence[int]) -> list[int]:
    """Each task's share of its shard's size: a JSONL span its byte range, a Parquet span an even share."""
    count = [0] * len(shard_sizes)
    for i, *_ in tasks:
        count[i] += 1
    sizes, given = [], [0] * len(shard_sizes)
    for i, shard, _, span in tasks:
        size = span.stop - span.start if span is not None and shard.format == "jsonl" else shard_sizes[i] // count[i]
        count[i] -= 1
        size = shard_sizes[i] - given[i] if count[i] == 0 else size  # the last span takes the rest
        given[i] += size
        sizes.append(size)
    return sizes


def _task_done(t: Tracker, tasks: Sequence[tuple[int, Shard, Sinks, Span | None]], k: int) -> None:
    if k + 1 == len(tasks) or tasks[k + 1][0] != tasks[k][0]:  # the shard's last span
        t.shard_done()


def _join_spans(names: Sequence[str], shards: Sequence[Shard], sinks: Sequence[Sinks],
                tasks: Sequence[tuple[int, Shard, Sinks, Span | None]],
                results: Sequence[tuple[ShardScores, ShardStats]],
                done: Mapping[int, tuple[ShardScores, ShardStats]]) -> tuple[list[ShardScores], list[ShardStats]]:
    scores: list[dict[str, list[Scores]]] = [{n: [] for n in names} for _ in shards]
    stats = [ShardStats() for _ in shards]
    for i, (result, st) in done.items():
        for name in names:
            scores[i][name].append(result[name])
        stats[i].add(st)
    parts: list[list[tuple[str, int]]] = [[] for _ in shards]
    for (i, _, sink, span), (result, st) in zip(tasks, results):
        for name in names:
            scores[i][name].append(result[name])
        stats[i].add(st)
        if span is not None and sink.sidecar:
            parts[i].append((sink.sidecar, len(next(iter(result.values()), []))))
    for i, shard_parts in enumerate(parts):
        if shard_parts:
            _join_sidecars(shard_parts, str(sinks[i].sidecar))
    joined = [{n: np.concatenate(v) if v else np.empty(0, dtype=np.float64) for n, v in s.items()} for s in scores]
    return joined, stats


def _join_sidecars(parts: Sequence[tuple[str, int]], target: str) -> None:
    """Concatenate span sidecars into one, each span's rows moved past the rows of the spans before it.

    Lines are re-encoded as ``score_lines`` wrote them, so the bytes equal those of an unsplit run.
    """
    offset = 0
    with open_output(target) as out:
        for path, rows in parts:
            for lines in split_lines(iter_decoded_chunks(path)):
                recs = [json.loads(line) for line in lines if line]
                for rec in recs:
                    rec["row"] += offset
                out.write(b"".join(map(_sidecar_line, recs)))
            offset += rows
    for path, _ in parts:
        fs.remove(path)
