"""Candidate checks: true Jaccard of the shingle sets (``exact``), estimated Jaccard from signatures (``sig``), none.

``exact`` reads the shingle sets the sign stage wrote (``shard-N.sets``: each document's sorted unique 32-bit
shingle hashes, one after the other; ``shard-N.setend``: where each document's run ends) through memory maps,
a chunk of pairs at a time, letting the pages go after each chunk, so the check holds one chunk
(``CHUNK_VALUES`` hashes, ~40 MB with its temporaries) whatever the size of the pool; the pages it read stay
in the OS page cache, not in the process. A chunk's Jaccards come from one sort of ``pair << 32 | hash`` keys:
a hash present in both sets of a pair shows up twice in a row.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.cluster import I64, Verifier
from sievekit.duplicates.minhash import jaccard_estimate
from sievekit.duplicates.sources import SigStore, Source
from sievekit.duplicates.workdir import WorkDir
from sievekit.errors import InputError

CHUNK_VALUES = 1 << 20
_S32 = np.uint64(32)


def set_jaccard(values_a: npt.NDArray[np.uint32], len_a: I64, values_b: npt.NDArray[np.uint32],
                len_b: I64) -> npt.NDArray[np.float64]:
    """True Jaccard of pairs of sorted unique hash sets, given as concatenated runs (``len_a[i]`` values of
    pair i's first set, ``len_b[i]`` of its second).

    Example:
        >>> a = np.array([1, 2, 3, 7], dtype=np.uint32)
        >>> b = np.array([2, 3, 4, 7], dtype=np.uint32)
        >>> set_jaccard(a, np.array([3, 1]), b, np.array([2, 2])).tolist()  # {1,2,3}-{2,3}, {7}-{4,7}
        [0.6666666666666666, 0.5]
    """
    pair = np.arange(len(len_a), dtype=np.uint64)
    keys = np.concatenate((np.repeat(pair, len_a) << _S32 | values_a.astype(np.uint64),
                           np.repeat(pair, len_b) << _S32 | values_b.astype(np.uint64)))
    keys.sort()
    twice = keys[1:][keys[1:] == keys[:-1]]
    inter = np.bincount((twice >> _S32).astype(np.int64), minlength=len(len_a))
    union = len_a + len_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


class ShingleSets:
    """The shingle sets of every source (this run's shards and earlier runs'), by global document index.

    Each source's two files are mapped once; after every chunk of pairs the pages it touched are let go
    (``MADV_DONTNEED``: they leave this process, the page cache keeps them), so the resident memory is one
    chunk's, not the pool's.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self.offsets = np.array([s.offset for s in sources] + [sum(s.rows for s in sources)], dtype=np.int64)
        self._maps: list[mmap.mmap] = []
        self._ends: list[npt.NDArray[np.int64]] = []
        self._values: list[npt.NDArray[np.uint32]] = []
        for source in self.sources:
            base = WorkDir(source.work).sign_base(source.shard.index)
            if not base.with_suffix(".setend").exists():
                raise InputError(str(base.with_suffix(".setend")), "no shingle sets to verify with (signed "
                                 "for --verify sig)", hint="sign again with --verify exact, or pass --verify sig"
                                 if not source.seen else "the --against run was signed with --verify sig: pass "
                                 "--verify sig, or sign it again with --verify exact")
            self._ends.append(self._map(base.with_suffix(".setend"), np.int64))
            self._values.append(self._map(base.with_suffix(".sets"), np.uint32))

    def _map(self, path: Path, dtype: type) -> npt.NDArray[Any]:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return np.empty(0, dtype=dtype)
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.append(mm)
        return np.frombuffer(mm, dtype=dtype)

    def _release(self) -> None:
        if hasattr(mmap, "MADV_DONTNEED"):
            for mm in self._maps:
                mm.madvise(mmap.MADV_DONTNEED)

    def jaccard(self, u: I64, v: I64) -> npt.NDArray[np.float64]:
        """True Jaccard of each pair ``(u[i], v[i])``, a chunk of about ``CHUNK_VALUES`` hashes at a time."""
        if not len(u):
            return np.empty(0, dtype=np.float64)
        (start_u, len_u), (start_v, len_v) = self._spans(u), self._spans(v)
        size = len_u + len_v
        cut = np.searchsorted(np.cumsum(size), np.arange(CHUNK_VALUES, int(size.sum()), CHUNK_VALUES))
        bounds = [0, *np.unique(np.maximum(cut, 1)).tolist(), len(u)]
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                va = self._gather(u[lo:hi], start_u[lo:hi], len_u[lo:hi])
                vb = self._gather(v[lo:hi], start_v[lo:hi], len_v[lo:hi])
                parts.append(set_jaccard(va, len_u[lo:hi], vb, len_v[lo:hi]))
                self._release()
        return np.concatenate(parts)

    def _spans(self, idx: I64) -> tuple[I64, I64]:
        """Where each document's set starts in its source's values, and its length."""
        start = np.empty(len(idx), dtype=np.int64)
        end = np.empty(len(idx), dtype=np.int64)
        src = np.searchsorted(self.offsets, idx, side="right") - 1
        for s in np.unique(src).tolist():
            sel = src == s
            row = idx[sel] - self.offsets[s]
            ends = self._ends[s]
            end[sel] = ends[row]
            start[sel] = np.where(row > 0, ends[np.maximum(row - 1, 0)], 0)
        return start, end - start

    def _gather(self, idx: I64, start: I64, length: I64) -> npt.NDArray[np.uint32]:
        """The sets of ``idx`` as one array of concatenated runs, in the order of ``idx``."""
        out_start = np.cumsum(length) - length
        out = np.empty(int(length.sum()), dtype=np.uint32)
        src = np.searchsorted(self.offsets, idx, side="right") - 1
        for s in np.unique(src).tolist():
            sel = np.flatnonzero(src == s)
            n = length[sel]
            within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
            out[np.repeat(out_start[sel], n) + within] = self._values[s][np.repeat(start[sel], n) + within]
        return out


def make_verifier(mode: str, threshold: float, store: SigStore, sets: ShingleSets | None) -> Verifier:
    """The check every candidate pair must pass to become an edge."""
    if mode == "none":
        return lambda u, v: np.ones(len(u), dtype=bool)
    if mode == "exact":
        assert sets is not None
        return lambda u, v: sets.jaccard(u, v) >= threshold
    return lambda u, v: estimate_pairs(store, u, v) >= threshold


def estimate_pairs(store: SigStore, u: I64, v: I64, chunk: int = 1 << 12) -> npt.NDArray[np.float64]:
    """Estimated Jaccard of each pair, gathering signatures a chunk at a time (1 KB a pair at once otherwise)."""
    parts = [jaccard_estimate(store.gather(u[i:i + chunk]), store.gather(v[i:i + chunk]))
             for i in range(0, len(u), chunk)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
