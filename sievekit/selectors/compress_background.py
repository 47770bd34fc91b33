"""A seeded random background sample of the pool, of a given size in bytes, read in one streaming pass.

Each document gets a random key; the sample is the documents with the smallest keys whose sizes add up
to the budget, i.e. a prefix of a uniform random permutation of the pool. A bounded max-heap keeps only
that prefix, so memory is about the budget plus one document; the cost is one full read of the pool
(every document must have its chance), and no more.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Background:
    """One draw: the sampled documents (as UTF-8 bytes, in key order) and their 0-based pool positions."""

    seed: int
    draw: int
    rows: list[int]
    texts: list[bytes]

    @property
    def nbytes(self) -> int:
        return sum(len(t) for t in self.texts)


def sample_backgrounds(pool: Iterable[str], budget: int, seed: int, draws: int = 1,
                       min_bytes: int = 0) -> list[Background]:
    """``draws`` independent random samples of about ``budget`` bytes each, in one pass over ``pool``.

    Documents shorter than ``min_bytes`` are skipped (they are never scored either). Each draw stops at
    the first document that reaches the budget, so it holds at least ``budget`` bytes unless the pool is
    smaller.

    Example:
        >>> [b.rows for b in sample_backgrounds(["aa", "bb", "cc", "dd"], budget=4, seed=0)]
        [[1, 2]]
    """
    if budget < 1:
        raise ValueError(f"background budget must be >= 1 byte, got {budget}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    rng = np.random.default_rng([seed, draws])
    heaps: list[list[tuple[float, int, bytes]]] = [[] for _ in range(draws)]
    totals = [0] * draws
    keys = np.empty(0)
    for row, text in enumerate(pool):
        if row % 4096 == 0:  # keys in blocks: one generator call per 4096 documents, not per document
            keys = rng.random((4096, draws))
        data = text.encode("utf-8", "surrogatepass")
        if len(data) < max(min_bytes, 1):
            continue
        for d in range(draws):
            _offer(heaps[d], totals, d, (-float(keys[row % 4096, d]), row, data), budget)
    out = []
    for d, heap in enumerate(heaps):
        chosen = sorted(heap, key=lambda item: (-item[0], item[1]))
        out.append(Background(seed, d, [row for _, row, _ in chosen], [data for _, _, data in chosen]))
    return out


def _offer(heap: list[tuple[float, int, bytes]], totals: list[int], d: int, item: tuple[float, int, bytes],
           budget: int) -> None:
    # The heap's top is the largest key; drop it while the rest still fill the budget.
    if totals[d] >= budget and heap and item[0] < heap[0][0]:
        return  # a key larger than every kept one, and the budget is already met: never part of the prefix
    heapq.heappush(heap, item)
    totals[d] += len(item[2])
    while heap and totals[d] - len(heap[0][2]) >= budget:
        totals[d] -= len(heapq.heappop(heap)[2])
