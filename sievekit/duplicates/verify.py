"""Candidate checks: true Jaccard of the shingle sets (``exact``), estimated Jaccard from signatures (``sig``), none.

``exact`` reads the shingle sets the sign stage wrote (``shard-N.sets``: each document's sorted unique 32-bit
shingle hashes, one after the other; ``shard-N.setend``: where each document's run ends). They are memory
mapped a chunk of pairs at a time and unmapped after it, so the check holds one chunk (``CHUNK_VALUES`` hashes,
~100 MB with its temporaries) whatever the size of the pool; the pages it read stay in the OS page cache,
not in the process. A chunk's Jaccards come from one sort of ``pair << 32 | hash`` keys: a hash present in
both sets of a pair shows up twice in a row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.cluster import I64, Verifier
from sievekit.duplicates.minhash import jaccard_estimate
from sievekit.duplicates.sources import SigStore, Source
from sievekit.duplicates.workdir import WorkDir, raw_array
from sievekit.errors import InputError

CHUNK_VALUES = 1 << 22
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
    """The shingle sets of every source (this run's shards and earlier runs'), by global document index."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self.offsets = np.array([s.offset for s in sources] + [sum(s.rows for s in sources)], dtype=np.int64)
        self.bases = [WorkDir(s.work).sign_base(s.shard.index) for s in self.sources]
        for source, base in zip(self.sources, self.bases, strict=True):
            if not base.with_suffix(".setend").exists():
                raise InputError(str(base.with_suffix(".setend")), "no shingle sets to verify with (signed "
                                 "for --verify sig)", hint="sign again with --verify exact, or pass --verify sig"
                                 if not source.seen else "the --against run was signed with --verify sig: pass "
                                 "--verify sig, or sign it again with --verify exact")

    def jaccard(self, u: I64, v: I64) -> npt.NDArray[np.float64]:
        """True Jaccard of each pair ``(u[i], v[i])``, a chunk of about ``CHUNK_VALUES`` hashes at a time."""
        if not len(u):
            return np.empty(0, dtype=np.float64)
        size = self._lengths(u) + self._lengths(v)
        cut = np.searchsorted(np.cumsum(size), np.arange(CHUNK_VALUES, int(size.sum()), CHUNK_VALUES))
        bounds = [0, *np.unique(np.maximum(cut, 1)).tolist(), len(u)]
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                (va, la), (vb, lb) = self._gather(u[lo:hi]), self._gather(v[lo:hi])
                parts.append(set_jaccard(va, la, vb, lb))
        return np.concatenate(parts)

    def _source(self, idx: I64) -> I64:
        return np.searchsorted(self.offsets, idx, side="right") - 1

    def _ends(self, s: int) -> npt.NDArray[np.int64]:
        return raw_array(self.bases[s].with_suffix(".setend"), np.int64, (self.sources[s].rows,))

    def _lengths(self, idx: I64) -> I64:
        out = np.empty(len(idx), dtype=np.int64)
        src = self._source(idx)
        for s in np.unique(src).tolist():
            sel = src == s
            ends = self._ends(s)
            row = idx[sel] - self.offsets[s]
            out[sel] = ends[row] - np.where(row > 0, ends[np.maximum(row - 1, 0)], 0)
            del ends  # unmapped: its pages stay in the page cache, not in this process
        return out

    def _gather(self, idx: I64) -> tuple[npt.NDArray[np.uint32], I64]:
        """The sets of ``idx`` as one array of concatenated runs, in the order of ``idx``, and their lengths."""
        lengths = self._lengths(idx)
        starts_out = np.cumsum(lengths) - lengths
        out = np.empty(int(lengths.sum()), dtype=np.uint32)
        src = self._source(idx)
        for s in np.unique(src).tolist():
            sel = np.flatnonzero(src == s)
            ends = self._ends(s)
            row = idx[sel] - self.offsets[s]
            start = np.asarray(ends[row] - lengths[sel])
            total = int(ends[-1])
            del ends
            if not total:
                continue
            values = raw_array(self.bases[s].with_suffix(".sets"), np.uint32, (total,))
            n = lengths[sel]
            within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
            out[np.repeat(starts_out[sel], n) + within] = values[np.repeat(start, n) + within]
            del values
        return out, lengths


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
