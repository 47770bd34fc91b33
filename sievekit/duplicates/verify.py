"""Candidate checks: true Jaccard of the shingle sets (``exact``), estimated Jaccard from signatures (``sig``), none.

``exact`` reads the shingle sets the sign stage wrote (``shard-N.sets``: each document's sorted unique 32-bit
shingle hashes, one after the other; ``shard-N.setend``: where each document's run ends) with positional
reads (``preads``), a chunk of pairs at a time, so the check holds one chunk (``CHUNK_VALUES`` hashes, ~10 MB
with its temporaries) whatever the size of the pool; the file pages stay in the OS page cache, never in the
process. A chunk's intersections come from binary searches of one side's ``pair << 32 | hash`` keys
(increasing, as each set is sorted) for the other side's. Each pair is read at most once per process
(``pairmemo``): a near-duplicate pair is a candidate in several bands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.cluster import I64, Verifier
from sievekit.duplicates.minhash import jaccard_estimate
from sievekit.duplicates.pairmemo import ABOVE, BELOW, ENTRY_BYTES, MAX_INDEX, PairMemo, pair_keys, shared_memo
from sievekit.duplicates.preads import MAX_OPEN, Files
from sievekit.duplicates.sources import SigStore, Source
from sievekit.duplicates.workdir import Mapped, WorkDir
from sievekit.errors import InputError

CHUNK_VALUES = 1 << 18
PAIR_CHUNK = 4096  # pairs whose signatures are read together (2 x 4096 x 512 bytes at most with 128 slots)
SETTLED_ERROR = 1e-6
SETTLE_MIN_SHINGLES = 4
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
    # pair << 32 | hash is strictly increasing along each side (pairs in order, each set sorted and unique),
    # so each second-side key is looked up in the first side by binary search: no sort
    ka = np.repeat(np.arange(len(len_a), dtype=np.uint64), len_a) << _S32 | values_a.astype(np.uint64)
    pair_b = np.repeat(np.arange(len(len_b), dtype=np.int64), len_b)
    kb = pair_b.astype(np.uint64) << _S32 | values_b.astype(np.uint64)
    pos = np.minimum(np.searchsorted(ka, kb), max(len(ka) - 1, 0))
    hit = ka[pos] == kb if len(ka) else np.zeros(len(kb), dtype=bool)
    inter = np.bincount(pair_b[hit], minlength=len(len_a))
    union = len_a + len_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


class ShingleSets:
    """The shingle sets of every source (this run's shards and earlier runs'), by global document index.

    The sets are read with positional reads into a buffer of one chunk (``preads``), so the process never
    holds more than a chunk of them, whatever the size of the pool; where each set ends comes from a memory
    map whose pages are let go after every chunk. The pairs' Jaccard values go into ``memo`` (``pairmemo``),
    so a pair seen by another band is not read again.
    """

    def __init__(self, sources: Sequence[Source], memo: PairMemo | None = None) -> None:
        self.sources = list(sources)
        self.offsets = np.array([s.offset for s in sources] + [sum(s.rows for s in sources)], dtype=np.int64)
        self.memo = memo if memo is not None else PairMemo(0)
        self._mapped = Mapped()
        self._files = Files()
        self._ends: list[npt.NDArray[np.int64]] = []
        self._paths: list[str] = []
        for source in self.sources:
            base = WorkDir(source.work).sign_base(source.shard.index)
            if not base.with_suffix(".setend").exists():
                raise InputError(str(base.with_suffix(".setend")), "no shingle sets to verify with (signed "
                                 "for --verify sig)", hint="sign again with --verify exact, or pass --verify sig"
                                 if not source.seen else "the --against run was signed with --verify sig: pass "
                                 "--verify sig, or sign it again with --verify exact")
            self._ends.append(self._mapped.array(base.with_suffix(".setend"), np.int64, (source.rows,)))
            self._paths.append(str(base.with_suffix(".sets")))
        self._mapped.release()

    def close(self) -> None:
        self._files.close()

    def jaccard(self, u: I64, v: I64) -> npt.NDArray[np.float64]:
        """True Jaccard of each pair ``(u[i], v[i])``: from the memo where known, else read a chunk of about
        ``CHUNK_VALUES`` hashes at a time (each distinct pair once) and remembered."""
        out = np.empty(len(u), dtype=np.float64)
        if not len(u):
            return out
        known, value = self.memo.get(u, v)
        known &= (value >= 0.0) & (value <= 1.0)  # a settled verdict is not a Jaccard value
        out[known] = value[known]
        todo = np.flatnonzero(~known)
        if len(todo):
            keys, first, back = np.unique(pair_keys(u[todo], v[todo]), return_index=True, return_inverse=True)
            a, b = u[todo][first], v[todo][first]
            found = self._read_jaccard(a, b)
            self.memo.put(a, b, found)
            out[todo] = found[back.reshape(-1)]
        return out

    def _read_jaccard(self, u: I64, v: I64) -> npt.NDArray[np.float64]:
        (start_u, len_u), (start_v, len_v) = self._spans(u), self._spans(v)
        size = len_u + len_v
        cut = np.searchsorted(np.cumsum(size), np.arange(CHUNK_VALUES, int(size.sum()), CHUNK_VALUES))
        bounds = sorted({0, *np.maximum(cut, 1).tolist(), len(u)})
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                va = self._gather(u[lo:hi], start_u[lo:hi], len_u[lo:hi])
                vb = self._gather(v[lo:hi], start_v[lo:hi], len_v[lo:hi])
                parts.append(set_jaccard(va, len_u[lo:hi], vb, len_v[lo:hi]))
        return np.concatenate(parts)

    def lengths(self, idx: I64) -> I64:
        """How many shingles each document has."""
        return self._spans(idx)[1]

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
        self._mapped.release()
        return start, end - start

    def _gather(self, idx: I64, start: I64, length: I64) -> npt.NDArray[np.uint32]:
        """The sets of ``idx`` as one array of concatenated runs, in the order of ``idx``."""
        out = np.empty(int(length.sum()), dtype=np.uint32)
        src = np.searchsorted(self.offsets, idx, side="right") - 1
        used, which = np.unique(src, return_inverse=True)
        if len(used) <= MAX_OPEN:  # every run read straight into place, whichever file it is in
            self._files.read_spread([self._paths[s] for s in used.tolist()], which.reshape(-1), start * 4,
                                    length * 4, out)
            return out
        out_start = np.cumsum(length) - length
        for s in used.tolist():
            sel = np.flatnonzero(src == s)
            part = np.empty(int(length[sel].sum()), dtype=np.uint32)
            self._files.read_runs(self._paths[s], start[sel] * 4, length[sel] * 4, part)
            out[_runs(out_start[sel], length[sel])] = part
        return out


def pool_sets(sources: Sequence[Source], threshold: float, num_perm: int, memory_mb: float) -> ShingleSets:
    """The pool's shingle sets with this process's memo of its pairs (up to an eighth of ``memory_mb``)."""
    files = [WorkDir(s.work).sign_base(s.shard.index) for s in sources]
    paths = [str(b.with_suffix(k)) for b in files for k in (".sig", ".sets")]
    capacity = int(min(memory_mb * (1 << 20) / 8 / ENTRY_BYTES, 1 << 40))
    if sum(s.rows for s in sources) > MAX_INDEX:  # pair keys pack two indices in 32 bits each
        capacity = 0
    return ShingleSets(sources, shared_memo(paths, (threshold, num_perm), capacity))


def _runs(start: I64, length: I64) -> I64:
    """The indices ``start[k] … start[k] + length[k] - 1`` of every run, one after the other (one cumsum).

    Example:
        >>> _runs(np.array([10, 3, 7]), np.array([2, 0, 3])).tolist()
        [10, 11, 7, 8, 9]
    """
    keep = length > 0
    start, length = start[keep], length[keep]
    step = np.ones(int(length.sum()), dtype=np.int64)
    if len(step):
        first = np.cumsum(length) - length
        step[first[1:]] = start[1:] - (start[:-1] + length[:-1] - 1)  # from the last index of the run before
        step[0] = start[0]
    return np.cumsum(step)


def make_verifier(mode: str, threshold: float, store: SigStore, sets: ShingleSets | None) -> Verifier:
    """The check every candidate pair must pass to become an edge."""
    if mode == "none":
        return lambda u, v: np.ones(len(u), dtype=bool)
    if mode == "exact":
        assert sets is not None
        return lambda u, v: exact_check(sets, store, threshold, u, v)
    return lambda u, v: estimate_pairs(store, u, v) >= threshold


def settled_counts(threshold: float, num_perm: int, error: float = SETTLED_ERROR) -> tuple[int, int]:
    """Slot agreements ``(lo, hi)`` that settle a pair without its sets: a pair with ``lo`` or fewer equal slots
    (of ``num_perm``) is below the threshold, one with ``hi`` or more above it, each wrong with probability at
    most ``error`` (binomial tails at J = t, the worst case on either side).

    Example:
        >>> settled_counts(0.7, 128)
        (63, 113)
    """
    pmf = [math.comb(num_perm, m) * threshold**m * (1 - threshold) ** (num_perm - m) for m in range(num_perm + 1)]
    lo, below = -1, 0.0
    while lo + 1 <= num_perm and below + pmf[lo + 1] <= error:
        lo += 1
        below += pmf[lo]
    hi, above = num_perm + 1, 0.0
    while hi - 1 >= 0 and above + pmf[hi - 1] <= error:
        hi -= 1
        above += pmf[hi]
    return lo, hi


def exact_check(sets: ShingleSets, store: SigStore, threshold: float, u: I64, v: I64) -> npt.NDArray[np.bool_]:
    """True Jaccard >= threshold, for each pair; the shingle sets are read only for the pairs whose signatures
    leave the answer open (``settled_counts``: with 128 slots at t = 0.7, 63 or fewer or 113 or more
    equal slots settle it) and that no earlier check in this process has answered (``sets.memo``). Only pairs
    of documents with ``SETTLE_MIN_SHINGLES`` shingles per slot or more are settled by their signatures: in
    smaller documents densified slots are copies of one another, not independent draws."""
    known, value = sets.memo.get(u, v)
    ok = known & (value >= threshold)  # a settled verdict is ABOVE (2.0) or BELOW (-1.0)
    todo = np.flatnonzero(~known)
    if not len(todo):
        return ok
    a, b = u[todo], v[todo]
    lo, hi = settled_counts(threshold, store.num_perm)
    big = np.flatnonzero(np.minimum(sets.lengths(a), sets.lengths(b)) >= SETTLE_MIN_SHINGLES * store.num_perm)
    equal = np.rint(estimate_pairs(store, a[big], b[big]) * store.num_perm)  # small documents: sets anyway
    above, below = np.zeros(len(a), dtype=bool), np.zeros(len(a), dtype=bool)
    above[big], below[big] = equal >= hi, equal <= lo
    sets.memo.put(a[above], b[above], np.full(int(above.sum()), ABOVE))
    sets.memo.put(a[below], b[below], np.full(int(below.sum()), BELOW))
    open_ = ~(above | below)
    verdict = above.copy()
    verdict[open_] = sets.jaccard(a[open_], b[open_]) >= threshold
    ok[todo] = verdict
    return ok


def estimate_pairs(store: SigStore, u: I64, v: I64, chunk: int = PAIR_CHUNK) -> npt.NDArray[np.float64]:
    """Estimated Jaccard of each pair, reading the signatures of a chunk of pairs at a time (``SigStore.read``:
    positional reads, each distinct document of the chunk once)."""
    parts = []
    for i in range(0, len(u), chunk):
        docs, back = np.unique(np.concatenate((u[i:i + chunk], v[i:i + chunk])), return_inverse=True)
        sig = store.read(docs)
        back = back.reshape(-1)
        half = len(back) // 2
        parts.append(jaccard_estimate(sig[back[:half]], sig[back[half:]]))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
