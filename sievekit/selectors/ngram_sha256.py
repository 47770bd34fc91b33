"""DSIR's parity mode: the reference's sha256 buckets of a batch's n-grams, computed once per distinct n-gram.

``int(sha256(utf8(ngram)).hexdigest(), 16) % buckets``, exactly as the reference DSIR package
(``data-selection`` 1.0.3) buckets an n-gram (its tokens joined by one space). ``NgramFeaturizer`` groups a
batch's n-grams by their fast hash first, so each distinct n-gram is hashed once, and a bounded memo keeps the
buckets of earlier batches.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from sievekit.selectors.wordpunct import TokenSpans

# The sha256 memo starts afresh beyond this many n-grams (160 MB), so memory stays bounded whatever
# the size of the pool.
MAX_MEMO_NGRAMS = 1 << 23


class SortedMemo:
    """N-gram key -> sha256 bucket in sorted numpy arrays, so a batch's lookups are one ``searchsorted``.

    An entry holds the n-gram's two independent 64-bit hashes; a lookup hits only if both match. At
    ``MAX_MEMO_NGRAMS`` entries (20 bytes each) it starts afresh, so memory stays bounded.
    """

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.checks = np.empty(0, dtype=np.uint64)
        self.buckets = np.empty(0, dtype=np.int32)

    def lookup(self, keys: npt.NDArray[np.uint64], checks: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Buckets of the sorted, distinct ``keys``; -1 where unknown."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = (self.keys[pos] == keys) & (self.checks[pos] == checks)
        return np.where(hit, self.buckets[pos], -1).astype(np.int64)

    def add(self, keys: npt.NDArray[np.uint64], checks: npt.NDArray[np.uint64],
            buckets: npt.NDArray[np.int64]) -> None:
        """Insert sorted ``keys`` (a linear-time merge, not a re-sort)."""
        if len(self.keys) + len(keys) > MAX_MEMO_NGRAMS:
            self.keys, self.checks, self.buckets = self.keys[:0], self.checks[:0], self.buckets[:0]
        at = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, at, keys)
        self.checks = np.insert(self.checks, at, checks)
        self.buckets = np.insert(self.buckets, at, buckets.astype(np.int32))


def sha256_bucket(ngram: str, num_buckets: int) -> int:
    """The reference bucket of one n-gram string: ``int(sha256(utf8).hexdigest(), 16) % num_buckets``."""
    return int.from_bytes(hashlib.sha256(ngram.encode("utf-8")).digest(), "big") % num_buckets


def sha256_buckets(memo: SortedMemo, spans: TokenSpans, first: npt.NDArray[np.int64], k: int,
               keys: npt.NDArray[np.uint64], checks: npt.NDArray[np.uint64], size: int) -> npt.NDArray[np.int64]:
    """sha256 buckets, computed once per distinct n-gram of the batch (grouped by the fast hash).

    A group is trusted only if a second, independent hash agrees across it; an n-gram whose second
    hash differs from its group's (a 64-bit collision, never seen in practice) is hashed on its own.
    """
    unique, leader, inverse = _group(keys)
    out = memo.lookup(unique, checks[leader])
    miss = np.flatnonzero(out < 0)
    out[miss] = hash_ngrams(spans, first[leader[miss]], k, size)
    memo.add(unique[miss], checks[leader][miss], out[miss])
    out = out[inverse]
    odd = np.flatnonzero(checks != checks[leader][inverse])
    out[odd] = hash_ngrams(spans, first[odd], k, size)
    return out


def hash_ngrams(spans: TokenSpans, at: npt.NDArray[np.int64], k: int, size: int) -> list[int]:
    """The reference bucket of the k-gram starting at each token index in ``at``."""
    raw, starts, ends = spans.buf.tobytes(), spans.starts, spans.ends
    sha, from_bytes = hashlib.sha256, int.from_bytes
    # Where the tokens already sit one space apart in the buffer, the n-gram is a plain slice of it.
    plain = np.ones(len(at), dtype=bool)
    for j in range(k - 1):
        gap_end = ends[at + j]
        plain &= (starts[at + j + 1] - gap_end == 1) & (spans.buf[gap_end] == 32)
    out = np.empty(len(at), dtype=np.int64)
    lo, hi = starts[at[plain]].tolist(), ends[at[plain] + k - 1].tolist()
    out[plain] = [from_bytes(sha(raw[a:b]).digest(), "big") % size for a, b in zip(lo, hi, strict=True)]
    rest = at[~plain]
    pieces = [zip(starts[rest + j].tolist(), ends[rest + j].tolist(), strict=True) for j in range(k)]
    out[~plain] = [from_bytes(sha(b" ".join([raw[a:b] for a, b in gram])).digest(), "big") % size
                   for gram in zip(*pieces, strict=True)]
    return out.tolist()


def _group(keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64],
                                                  npt.NDArray[np.int64]]:
    """Sorted distinct keys, one position holding each, and each key's group (``np.unique`` without its
    stable sort, which ``return_index`` forces and which is several times slower)."""
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = group
    return ordered[new], order[new].astype(np.int64), inverse
