"""Fitting selectors and scoring whole shards, in this process or in a pool of worker processes.

Workers receive the selectors as their JSON-safe ``state_dict``s and return one float64 array per method
and shard, so the result is the same whatever the number of workers. The scoring pass can also write,
in the same read of each shard, its sidecar of score lines or its records with score columns added.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.errors import ConfigError, InputError
from sievekit.executor import Executor
from sievekit.io import (
    ReadOptions,
    Shard,
    ShardStats,
    fs,
    iter_batches,
    iter_decoded_chunks,
    iter_texts,
    open_output,
    open_writer,
    resolve_inputs,
)
from sievekit.io.jsonl import split_lines
from sievekit.io.spans import Span, plan_spans
from sievekit.io.streams import atomic_output
from sievekit.records import Batch
from sievekit.selectors import Selector, get_selector
from sievekit.selectors.params import build_config

Progress = Callable[[int], None]
Scores = npt.NDArray[np.float64]
ShardScores = dict[str, Scores]


@dataclass(frozen=True)
class MethodSpec:
    """A selector by name with its parameters (strings from the CLI or typed values from TOML)."""

    name: str
    params: Mapping[str, Any]


def route_options(names: Sequence[str], options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Give each method its options: ``method.option`` goes to that method, a plain ``option`` to every
    method that has it.

    Raises:
        ConfigError: an option no chosen method has (the message lists what each method takes).
    """
    routed: dict[str, dict[str, Any]] = {name: {} for name in names}
    fields = {name: {f.name for f in dataclasses.fields(get_selector(name).Config)} for name in names}
    for key, value in options.items():
        method, dot, option = key.rpartition(".")
        option = option.replace("-", "_")
        targets = [method] if dot else [n for n in names if option in fields[n]]
        if dot and method not in routed:
            raise ConfigError(f"--{key}: {method!r} is not one of the chosen methods ({', '.join(names)})")
        if not targets or option not in fields[targets[0]]:
            takes = "; ".join(f"{n}: {', '.join('--' + o.replace('_', '-') for o in sorted(fields[n])) or 'none'}"
                              for n in names)
            raise ConfigError(f"no chosen method has an option --{option.replace('_', '-')} (options: {takes})")
        for target in targets:
            routed[target][option] = value
    return routed


def default_method() -> tuple[str, str | None]:
    """The method used with a target when none is named, and why, if it is not the first choice.

    ``classifier`` ranked best on every task of bench/selection and bench/classifier_vs_selectors.py; it
    needs scikit-learn to fit, so without it the default is ``zstd-ml``, the best method with no extra.
    """
    import importlib.util

    if importlib.util.find_spec("sklearn") is not None:
        return "classifier", None
    return "zstd-ml", "the classifier method needs scikit-learn (pip install 'sievekit[classifier]'); using zstd-ml"


def make_selectors(specs: Sequence[MethodSpec], seed: int) -> list[Selector]:
    """Build each named selector; the run's ``--seed`` fills a ``seed`` parameter that was not given."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"a method is named twice: {', '.join(names)}")
    selectors = []
    for spec in specs:
        cls = get_selector(spec.name)
        params = dict(spec.params)
        if "seed" in {f.name for f in dataclasses.fields(cls.Config)} and "seed" not in params:
            params["seed"] = seed
        selectors.append(cls(build_config(cls.Config, params, spec.name)))
    return selectors


def read_target(specs: Sequence[str], opts: ReadOptions) -> list[str]:
    """All target texts (a target set is small: it is held in memory)."""
    texts = list(iter_texts(resolve_inputs(specs), opts))
    if not texts:
        raise InputError(", ".join(specs), "the target set holds no documents", hint="pass a non-empty --target")
    return texts


def fit_all(selectors: Sequence[Selector], target: Sequence[str] | None, pool: Sequence[Shard],
            opts: ReadOptions) -> None:
    """Fit each selector on the target and, where it needs one, a stream over the pool (read as far as used)."""
    for selector in selectors:
        if selector.needs_target and target is None:
            raise ConfigError(f"method {selector.name!r} needs a target set", hint="pass --target FILE|DIR|GLOB")
        raw: Iterator[str] | None = iter_texts(pool, opts) if selector.needs_raw else None
        selector.fit(target or [], raw)


# -- fitted state on disk ---------------------------------------------------------------------------------
def save_states(selectors: Sequence[Selector], directory: str) -> list[str]:
    """Write each fitted selector to ``directory/state/<name>.json`` (JSON only, never pickle)."""
    paths = []
    for selector in selectors:
        path = fs.join(directory, "state", f"{selector.name}.json")
        with atomic_output(path) as tmp:
            fs.write_text(tmp, json.dumps(selector.state_dict(), indent=1) + "\n")
        paths.append(path)
    return paths


def load_states(source: str, names: Sequence[str] | None = None) -> list[Selector]:
    """Selectors restored from a state file, or from the ``state/`` folder of an earlier ``score`` output.

    Raises:
        ConfigError: the path holds no state, or not the state of a requested method.
    """
    folder = fs.join(source, "state") if fs.isdir(fs.join(source, "state")) else source
    if fs.isdir(folder):
        files = [fs.join(folder, f) for f in fs.listdir(folder) if f.endswith(".json")]
    elif fs.isfile(folder):
        files = [folder]
    else:
        raise ConfigError(f"--state {source}: no such file or directory")
    states = {}
    for path in files:
        try:
            state = json.loads(fs.read_text(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--state {path}: not a sievekit state file ({exc})") from exc
        states[state.get("name")] = state
    wanted = list(names) if names else sorted(states)
    missing = [n for n in wanted if n not in states]
    if missing or not wanted:
        raise ConfigError(f"--state {source}: no saved state for {', '.join(missing) or 'any method'} "
                          f"(found: {', '.join(sorted(states)) or 'none'})")
    return [get_selector(n).from_state_dict(states[n]) for n in wanted]


# -- scoring ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sinks:
    """Where the scoring pass writes besides returning scores: a sidecar of score lines, or the records
    themselves with score columns added (``inline``)."""

    sidecar: str | None = None
    inline: str | None = None


def score_shard(selectors: Sequence[Selector], shard: Shard, opts: ReadOptions, progress: Progress | None = None,
                sinks: Sinks = Sinks(), span: Span | None = None) -> tuple[ShardScores, ShardStats]:
    """Score one shard (or one span of it) with every selector, writing its sinks (atomically) in the same
    pass. A span's sidecar numbers its rows from 0; ``score_shards`` renumbers them when it joins the spans."""
    stats = ShardStats()
    parts: dict[str, list[Scores]] = {s.name: [] for s in selectors}
    with ExitStack() as stack:
        sidecar = stack.enter_context(open_output(sinks.sidecar)) if sinks.sidecar else None
        inline = stack.enter_context(open_writer(sinks.inline, shard)) if sinks.inline else None
        for batch in iter_batches(shard, opts, stats, all_columns=inline is not None, span=span):
            scores = {s.name: np.asarray(s.score_batch(batch.texts), dtype=np.float64) for s in selectors}
            for name, values in scores.items():
                parts[name].append(values)
            if sidecar is not None:
                sidecar.write(score_lines(shard, batch, scores))
            if inline is not None:
                inline.write(batch, None, {name: _json_floats(v) for name, v in scores.items()})
            if progress:
                progress(len(batch))
    empty = np.empty(0, dtype=np.float64)
    return {name: np.concatenate(p) if p else empty for name, p in parts.items()}, stats


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
                     span: Span | None) -> tuple[ShardScores, ShardStats]:
    selectors = [get_selector(state["name"]).from_state_dict(state) for state in states]
    return score_shard(selectors, shard, opts, sinks=sinks, span=span)


def score_shards(selectors: Sequence[Selector], shards: Sequence[Shard], opts: ReadOptions,
                 executor: Executor | None = None, progress: Progress | None = None,
                 sinks: Sequence[Sinks] | None = None,
                 span_bytes: int | None = None) -> tuple[list[ShardScores], list[ShardStats]]:
    """Score every shard (writing its sinks, if given): here, or as tasks on ``executor``.

    A shard larger than ``span_bytes`` (plain JSONL or Parquet) is scored as several tasks, one per span;
    their scores are joined in order, and their sidecars into the shard's one sidecar. Records with scores
    (inline sinks) are written by one task per shard.
    """
    all_sinks = list(sinks) if sinks is not None else [Sinks()] * len(shards)
    tasks: list[tuple[int, Shard, Sinks, Span | None]] = []
    for i, (shard, sink) in enumerate(zip(shards, all_sinks)):
        spans = [None] if sink.inline else plan_spans(shard.path, shard.format, opts, span_bytes)
        for j, span in enumerate(spans):
            part = Sinks(sidecar=_part_path(sink.sidecar, j)) if sink.sidecar and span is not None else sink
            tasks.append((i, shard, part, span))
    if executor is None or (executor.kind == "local" and (executor.jobs <= 1 or len(tasks) <= 1)):
        results = [score_shard(selectors, shard, opts, progress, sink, span) for _, shard, sink, span in tasks]
    else:
        states = [s.state_dict() for s in selectors]
        results = []
        for result in executor.imap(_score_in_worker, [(states, sh, opts, sk, sp) for _, sh, sk, sp in tasks]):
            results.append(result)
            if progress:
                progress(len(next(iter(result[0].values()), [])))
    return _join_spans(selectors, shards, all_sinks, tasks, results)


def _part_path(sidecar: str, index: int) -> str:
    head, name = fs.split(sidecar)
    return fs.join(head, f".{name}.span-{index:05d}")


def _join_spans(selectors: Sequence[Selector], shards: Sequence[Shard], sinks: Sequence[Sinks],
                tasks: Sequence[tuple[int, Shard, Sinks, Span | None]],
                results: Sequence[tuple[ShardScores, ShardStats]]) -> tuple[list[ShardScores], list[ShardStats]]:
    names = [s.name for s in selectors]
    scores: list[dict[str, list[Scores]]] = [{n: [] for n in names} for _ in shards]
    stats = [ShardStats() for _ in shards]
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
