"""A seeded random background sample of the pool, of a given size in bytes, read in one streaming pass.

Each document gets a random key; the sample is the documents with the smallest keys whose sizes add up
to the budget, i.e. a prefix of a uniform random permutation of the pool. The keys depend on the seed and
the document's position only. Over a stream, a bounded max-heap keeps only that prefix, so memory is about
the budget plus one document, and the whole stream is parsed. Over a ``ShardPool`` the keys are drawn from
its row counts first, and only the documents with the smallest keys are fetched and parsed (more, in a
further round, if they do not fill the budget): the same sample for a fraction of the reading.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sievekit.io.pool import ShardPool, key_prefix

KEY_BLOCK = 4096  # keys are drawn for this many documents at a time, in pool order


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
    if isinstance(pool, ShardPool) and pool.positional:
        return _fetched(pool, budget, seed, draws, min_bytes)
    rng = np.random.default_rng([seed, draws])
    heaps: list[list[tuple[float, int, bytes]]] = [[] for _ in range(draws)]
    totals = [0] * draws
    keys = np.empty(0)
    for row, text in enumerate(pool):
        if row % KEY_BLOCK == 0:  # keys in blocks: one generator call per 4096 documents, not per document
            keys = rng.random((KEY_BLOCK, draws))
        data = text.encode("utf-8", "surrogatepass")
        if len(data) < max(min_bytes, 1):
            continue
        for d in range(draws):
            _offer(heaps[d], totals, d, (-float(keys[row % KEY_BLOCK, d]), row, data), budget)
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


def _fetched(pool: ShardPool, budget: int, seed: int, draws: int, min_bytes: int) -> list[Background]:
    """``sample_backgrounds`` over a pool of shards: each draw's keys from the row counts, then the documents
    in key order, fetched for every draw in one read, a round at a time, until their sizes fill the budget."""
    n_items = pool.rows
    decoded = sum(c.bytes for c in pool.counts())
    # Enough documents of the pool's mean size to fill the budget twice over; a draw that falls short
    # (short or skipped documents) fetches four times as many in a further round.
    m = min(n_items, 2 * -(-budget * max(n_items, 1) // max(decoded, 1)) + 16)
    out: dict[int, Background] = {}
    while len(out) < draws:
        orders = {d: key_prefix(_key_stream(seed, draws, d), n_items, m) for d in range(draws) if d not in out}
        wanted = np.unique(np.concatenate(list(orders.values())))
        texts = dict(zip(wanted.tolist(), pool.fetch(wanted)))
        for d, order in orders.items():
            rows: list[int] = []
            chosen: list[bytes] = []
            total = 0
            for row in order.tolist():
                text = texts[row]
                data = b"" if text is None else text.encode("utf-8", "surrogatepass")
                if len(data) < max(min_bytes, 1):
                    continue
                rows.append(row)
                chosen.append(data)
                total += len(data)
                if total >= budget:
                    break
            if total >= budget or m >= n_items:
                out[d] = Background(seed, d, rows, chosen)
        m = min(n_items, 4 * m)
    return [out[d] for d in range(draws)]


def _key_stream(seed: int, draws: int, draw: int) -> Callable[[int, int], npt.NDArray[np.float64]]:
    """Keys of positions [start, stop), asked for in order: the keys ``sample_backgrounds`` gives a stream."""
    rng = np.random.default_rng([seed, draws])
    made = 0

    def keys(start: int, stop: int) -> npt.NDArray[np.float64]:
        nonlocal made
        if start != made:
            raise ValueError("keys must be asked for in order")
        blocks = -(-(stop - start) // KEY_BLOCK)
        made = stop
        return rng.random((blocks * KEY_BLOCK, draws))[: stop - start, draw]

    return keys
