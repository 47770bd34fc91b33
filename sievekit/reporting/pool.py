"""The pool beside a selection: what the run that wrote the inputs read (or ``--raw``), and which of its
documents the inputs kept.

A pool document counts as selected when its id and text are among the inputs' (matched by a 64-bit
BLAKE2b digest, 8 bytes per input document in memory), which works whatever rule, method or worker count
wrote the selection. Copies (same id and text) are matched as many times as the inputs hold them, the
first ones in pool order. One pass over the pool collects per document: its length, whether it was selected,
the ``--by`` field's value and each score there is: numeric fields, sidecars aligned with the pool
shards, and the run's own method, re-scored with the fitted state its manifest records.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sievekit.errors import SievekitError
from sievekit.io import ReadOptions, fs, iter_batches, resolve_inputs
from sievekit.selectors import Selector, get_selector


@dataclass
class PoolScan:
    """What one pass over the pool found, one entry per pool document in every array."""

    specs: list[str]
    lengths: np.ndarray
    selected: np.ndarray
    mix: Counter[str] = field(default_factory=Counter)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.lengths)


def digests(texts: Sequence[str], ids: Sequence[str | None] | None = None) -> np.ndarray:
    """A 64-bit BLAKE2b digest of each (id, text), as uint64 (lone surrogates kept, as the readers keep them)."""
    keys = ids if ids is not None else [None] * len(texts)
    return np.fromiter((_digest(t, i) for t, i in zip(texts, keys)), dtype=np.uint64, count=len(texts))


def _digest(text: str, doc_id: str | None) -> int:
    h = hashlib.blake2b(digest_size=8)
    h.update(b"\x00" if doc_id is None else b"\x01" + doc_id.encode("utf-8", "surrogatepass") + b"\x00")
    h.update(text.encode("utf-8", "surrogatepass"))
    return int.from_bytes(h.digest(), "little")


def pool_specs(raw: Sequence[str] | None, run: dict[str, Any] | None) -> list[str]:
    """``--raw``, else the inputs the run recorded, if every one of them still exists (else none: a partial
    pool would miscount what was selected); none for an empty ``raw``."""
    if raw is not None:
        return list(raw)
    paths = [str(i.get("path")) for i in (run or {}).get("inputs", []) if i.get("path")]
    return paths if paths and all(fs.exists(p) for p in paths) else []


def run_selector(run: dict[str, Any] | None) -> tuple[Selector | None, str | None]:
    """The run's fitted selector rebuilt from its manifest's state, or why it cannot be."""
    state = (run or {}).get("selector_state")
    if not state:
        return None, None
    try:
        return get_selector(state["name"]).from_state_dict(state), None
    except (SievekitError, ImportError, KeyError, ValueError) as exc:
        return None, f"cannot re-score the pool with the run's {state.get('name')} state ({exc})"


def scan_pool(specs: Sequence[str], opts: ReadOptions, inputs_digests: np.ndarray, *, by: str | None = None,
              fields: Sequence[str] = (), selector: Selector | None = None) -> PoolScan:
    """One pass over the pool (see the module docstring); ``inputs_digests`` are the inputs' ``digests``."""
    shards = resolve_inputs(list(specs))
    chosen = _Multiset(inputs_digests)
    lengths, selected = [], []
    numbers: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    if selector is not None:
        numbers[selector.name] = []
    mix: Counter[str] = Counter()
    for shard in shards:
        for batch in iter_batches(shard, opts, all_columns=bool(by or fields)):
            lengths.append(np.fromiter(map(len, batch.texts), dtype=np.int64, count=len(batch)))
            selected.append(chosen.take(digests(batch.texts, batch.ids)))
            if by:
                mix.update("(missing)" if v is None else str(v) for v in batch.column(by))
            for name in fields:
                numbers[name].append(np.array([as_float(v) for v in batch.column(name)], dtype=np.float64))
            if selector is not None:
                numbers[selector.name].append(np.asarray(selector.score_batch(batch.texts), dtype=np.float64))
    return PoolScan(list(specs), _join(lengths, np.int64), _join(selected, np.bool_), mix,
                    {name: _join(parts, np.float64) for name, parts in numbers.items()})


def add_sidecars(scan: PoolScan, columns: dict[str, np.ndarray]) -> None:
    """Score columns read from sidecars, kept where they align with the pool (one score per document)."""
    for name, values in columns.items():
        if len(values) == scan.rows:
            scan.columns[name] = values
        else:
            scan.unavailable[name] = f"its sidecars hold {len(values):,} scores, the pool {scan.rows:,} documents"


def cutoff(values: np.ndarray, selected: np.ndarray, rule: dict[str, Any] | None) -> float | None:
    """The score the selection's rule cut at: its threshold, or the lowest kept score of a top-k or fraction
    (none for importance sampling or a stratified rule, which keep no single cut-off)."""
    if not rule or rule.get("stratify"):
        return None
    if rule.get("kind") == "threshold":
        return float(rule["value"])
    if rule.get("kind") in ("top_k", "fraction"):
        kept = values[selected & np.isfinite(values)]
        return float(kept.min()) if len(kept) else None
    return None


def as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    try:
        return float(value)
    except OverflowError:  # a 400-digit integer
        return float("nan")


class _Multiset:
    """Digests with their counts; ``take`` marks the values found and uses one count of each."""

    def __init__(self, values: np.ndarray) -> None:
        self.keys, counts = np.unique(values, return_counts=True)
        self.left = counts.astype(np.int64)

    def take(self, values: np.ndarray) -> np.ndarray:
        found = np.zeros(len(values), dtype=bool)
        if len(self.keys) == 0:
            return found
        at = np.minimum(np.searchsorted(self.keys, values), len(self.keys) - 1)
        for i in np.flatnonzero(self.keys[at] == values):
            if self.left[at[i]] > 0:
                self.left[at[i]] -= 1
                found[i] = True
        return found


def _join(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
