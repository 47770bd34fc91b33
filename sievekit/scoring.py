"""Fitting a selector and scoring whole shards, in this process or in a pool of worker processes.

Workers receive the selector as its JSON-safe ``state_dict`` and return one float64 array per shard, so
the result is the same array whatever the number of workers.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.errors import ConfigError, InputError
from sievekit.io import ReadOptions, Shard, ShardStats, iter_batches, iter_texts, open_output, resolve_inputs
from sievekit.records import Batch
from sievekit.selectors import Selector, get_selector
from sievekit.selectors.params import build_config

Progress = Callable[[int], None]
Scores = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MethodSpec:
    """A selector by name with its parameters (strings from the CLI or typed values from TOML)."""

    name: str
    params: Mapping[str, Any]


def make_selector(spec: MethodSpec, seed: int) -> Selector:
    """Build the named selector; the run's ``--seed`` fills a ``seed`` parameter that was not given."""
    cls = get_selector(spec.name)
    params = dict(spec.params)
    if "seed" in {f for f in cls.Config.__dataclass_fields__} and "seed" not in params:
        params["seed"] = seed
    return cls(build_config(cls.Config, params, spec.name))


def read_target(specs: Sequence[str], opts: ReadOptions) -> list[str]:
    """All target texts (a target set is small: it is held in memory)."""
    texts = list(iter_texts(resolve_inputs(specs), opts))
    if not texts:
        raise InputError(", ".join(specs), "the target set holds no documents", hint="pass a non-empty --target")
    return texts


def fit(selector: Selector, target: Sequence[str] | None, pool: Sequence[Shard], opts: ReadOptions) -> Selector:
    """Fit on the target and, for selectors that need one, a stream over the pool (read only as far as used)."""
    if selector.needs_target and target is None:
        raise ConfigError(f"method {selector.name!r} needs a target set", hint="pass --target FILE|DIR|GLOB")
    raw: Iterator[str] | None = iter_texts(pool, opts) if selector.needs_raw else None
    return selector.fit(target or [], raw)


def score_shard(selector: Selector, shard: Shard, opts: ReadOptions, progress: Progress | None = None,
                sidecar: str | None = None) -> tuple[Scores, ShardStats]:
    """Score one shard; with ``sidecar``, also write its score lines there (atomically) in the same pass."""
    stats = ShardStats()
    parts: list[Scores] = []
    with open_output(sidecar) if sidecar else nullcontext() as sink:
        for batch in iter_batches(shard, opts, stats, all_columns=False):
            scores = np.asarray(selector.score_batch(batch.texts), dtype=np.float64)
            parts.append(scores)
            if sink is not None:
                sink.write(score_lines(shard, batch, selector.name, scores))
            if progress:
                progress(len(batch))
    return (np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)), stats


def score_lines(shard: Shard, batch: Batch, name: str, scores: Scores) -> bytes:
    """Sidecar lines ``{"shard", "row", "id", <name>: score}``; a non-finite score (never select) is null."""
    ids = batch.ids if batch.ids is not None else [None] * len(batch)
    return b"".join(
        json.dumps({"shard": shard.name, "row": row, "id": doc_id, name: s if math.isfinite(s) else None},
                   ensure_ascii=False).encode() + b"\n"
        for row, doc_id, s in zip(batch.rows, ids, scores.tolist())
    )


def _score_in_worker(state: dict[str, Any], shard: Shard, opts: ReadOptions,
                     sidecar: str | None) -> tuple[Scores, ShardStats]:
    selector = get_selector(state["name"]).from_state_dict(state)
    return score_shard(selector, shard, opts, sidecar=sidecar)


def score_shards(selector: Selector, shards: Sequence[Shard], opts: ReadOptions, jobs: int = 1,
                 progress: Progress | None = None,
                 sidecars: Sequence[str] | None = None) -> tuple[list[Scores], list[ShardStats]]:
    """Score every shard (and write its sidecar, if given); with ``jobs > 1`` in worker processes."""
    paths: Sequence[str | None] = sidecars if sidecars is not None else [None] * len(shards)
    if jobs <= 1 or len(shards) <= 1:
        results = [score_shard(selector, shard, opts, progress, path) for shard, path in zip(shards, paths)]
    else:
        state = selector.state_dict()
        # spawn, not fork: the parent may hold Arrow's thread pools, which do not survive a fork.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_score_in_worker, state, shard, opts, path) for shard, path in zip(shards, paths)]
            results = []
            for future in futures:
                results.append(future.result())
                if progress:
                    progress(len(results[-1][0]))
    return [r[0] for r in results], [r[1] for r in results]
