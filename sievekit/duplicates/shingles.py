"""Word n-gram shingles, combined from the word hashes (never built as strings).

A shingle of words ``w_i … w_{i+n-1}`` hashes to ``mix64(fold(h(w_i), …) ^ key ^ n)`` where ``fold`` is a
multiply-add over the word hashes, so order matters and each word is hashed once. A document shorter than
``n`` words is one shingle of all its words (an empty document is the shingle of no words): none is skipped.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.hashing import U64, mix64, odd_multiplier, seed_key
from sievekit.duplicates.normalize import Tokens


class Shingler:
    """Turns a batch's word hashes into shingle hashes.

    Args:
        ngram: words per shingle (>= 1).
        seed: the run's seed.
    """

    def __init__(self, ngram: int = 5, seed: int = 0) -> None:
        if ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {ngram}")
        self.ngram = ngram
        self._mult = odd_multiplier(seed, "shingle-fold")
        self._key = seed_key(seed, "shingle")

    def __call__(self, tokens: Tokens) -> tuple[U64, npt.NDArray[np.int64]]:
        """Returns ``(hashes, doc)``: one uint64 per shingle and the document each belongs to."""
        n = self.ngram
        counts = tokens.counts
        first = np.cumsum(counts) - counts
        full_h, full_doc = self._windows(tokens.hashes, tokens.doc, n)
        short = np.flatnonzero(counts < n)
        h = np.zeros(len(short), dtype=np.uint64)
        for k in range(n - 1):
            has = counts[short] > k
            h[has] = h[has] * self._mult + tokens.hashes[first[short[has]] + k]
        short_h = self._finish(h, counts[short].astype(np.uint64))
        return np.concatenate((full_h, short_h)), np.concatenate((full_doc, short))

    def _windows(self, hashes: U64, doc: npt.NDArray[np.int64], n: int) -> tuple[U64, npt.NDArray[np.int64]]:
        m = len(hashes) - n + 1
        if m <= 0:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        inside = doc[:m] == doc[n - 1:]
        h = hashes[:m].copy()
        for k in range(1, n):
            h *= self._mult
            h += hashes[k:k + m]
        return self._finish(h[inside], np.uint64(n)), doc[:m][inside]

    def _finish(self, folded: U64, width: U64 | np.uint64) -> U64:
        return mix64(folded ^ self._key ^ (np.asarray(width, dtype=np.uint64) << np.uint64(56)))
