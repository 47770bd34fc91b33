"""What verification already knows about a pair of documents, so that no pair's shingle sets are read twice.

A near-duplicate pair collides in several bands (at J = 0.9 with 18 bands of 7 rows, in ~9 of them), and
every band's task verifies its own candidates: on the 134k-document natural pool 150k set reads were 40k
distinct pairs. The memo keeps each pair's true Jaccard (or, for a pair its signatures settled, which side
of the threshold it is on) by a 64-bit key ``min << 32 | max``, as sorted runs merged as they grow (a
log-structured merge: every lookup is a few binary searches, every insertion a merge of sorted arrays).
A value is a pure function of the pair, so a memo changes no result, only how often sets are read; it lives
in the process (a worker keeps it across the band tasks it runs) and is dropped whole when full.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
ABOVE = 2.0  # settled by the signatures: at or above the threshold (a Jaccard is never above 1)
BELOW = -1.0  # settled: below it
MAX_INDEX = 1 << 32  # keys pack two document indices in 32 bits each; a larger pool goes without the memo
ENTRY_BYTES = 16
_S32 = np.uint64(32)


def pair_keys(u: I64, v: I64) -> npt.NDArray[np.uint64]:
    """The order-free key of each pair: the smaller index in the high 32 bits."""
    lo, hi = np.minimum(u, v).astype(np.uint64), np.maximum(u, v).astype(np.uint64)
    return (lo << _S32) | hi


class PairMemo:
    """Values of pairs by ``pair_keys``, at most ``capacity`` of them (past that the memo starts over).

    Example:
        >>> memo = PairMemo(100)
        >>> memo.put(np.array([3, 5]), np.array([9, 2]), np.array([0.5, 1.0]))
        >>> found, value = memo.get(np.array([2, 9, 1]), np.array([5, 3, 1]))
        >>> found.tolist(), value[found].tolist()
        ([True, True, False], [1.0, 0.5])
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: list[npt.NDArray[np.uint64]] = []
        self._values: list[F64] = []

    def __len__(self) -> int:
        return sum(len(k) for k in self._keys)

    def get(self, u: I64, v: I64) -> tuple[npt.NDArray[np.bool_], F64]:
        """Which pairs are known, and their values (meaningless where not known)."""
        found = np.zeros(len(u), dtype=bool)
        value = np.zeros(len(u), dtype=np.float64)
        if not self._keys or not len(u):
            return found, value
        key = pair_keys(u, v)
        packable = np.maximum(u, v) < MAX_INDEX  # a larger index has no key of its own: never found
        for keys, values in zip(self._keys, self._values):
            pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            hit = (keys[pos] == key) & packable
            found |= hit
            value[hit] = values[pos[hit]]
        return found, value

    def put(self, u: I64, v: I64, value: F64) -> None:
        """Remember the values of pairs (a pair already known keeps one of its equal values)."""
        if not len(u) or self.capacity <= 0 or max(int(u.max()), int(v.max())) >= MAX_INDEX:
            return
        if len(self) + len(u) > self.capacity:
            self._keys, self._values = [], []
            if len(u) > self.capacity:
                return
        key = pair_keys(u, v)
        key, first = np.unique(key, return_index=True)
        self._keys.append(key)
        self._values.append(np.asarray(value, dtype=np.float64)[first])
        # merge the newest runs while the one before is at most twice as long: O(log n) runs, each entry
        # merged O(log n) times
        while len(self._keys) > 1 and len(self._keys[-2]) <= 2 * len(self._keys[-1]):
            keys = np.concatenate((self._keys.pop(-2), self._keys.pop()))
            values = np.concatenate((self._values.pop(-2), self._values.pop()))
            keys, first = np.unique(keys, return_index=True)
            self._keys.append(keys)
            self._values.append(values[first])


_SHARED: dict[Any, PairMemo] = {}


def shared_memo(files: Sequence[str], tag: Any, capacity: int) -> PairMemo:
    """This process's memo for the pool whose signature and set files are ``files`` (their identity on disk:
    a file rewritten since is another pool) and for ``tag`` (what a settled verdict depends on: threshold,
    slots); the memo of any other pool is dropped."""
    ident = (tuple((f, *_stamp(f)) for f in files), tag, capacity)
    memo = _SHARED.get(ident)
    if memo is None:
        _SHARED.clear()
        memo = _SHARED[ident] = PairMemo(capacity)
    return memo


def _stamp(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (0, 0, -1)
    return (st.st_ino, st.st_mtime_ns, st.st_size)
