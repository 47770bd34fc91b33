"""Selection policies over a whole pool's scores: free functions, each deterministic.

Every policy returns the sorted indices of the kept documents. Non-finite scores (a selector's way of
saying "never select", as DSIR does for short documents) are never kept. Ties break by position, i.e.
by manifest order (shard, row), so the same scores always give the same selection.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]


def _ranked(scores: Scores) -> Indices:
    """Indices of the finite scores, best first; equal scores keep input order (a stable sort)."""
    finite = np.flatnonzero(np.isfinite(scores))
    order = np.argsort(-scores[finite], kind="stable")
    return finite[order]


def top_k(scores: Scores, k: int) -> Indices:
    """The ``k`` highest scores (fewer if fewer are finite).

    Example:
        >>> top_k(np.array([0.1, 0.9, 0.5, 0.9]), 2).tolist()
        [1, 3]
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return np.sort(_ranked(scores)[:k])


def fraction(scores: Scores, share: float) -> Indices:
    """The best ``floor(share * N)`` documents, N counting every document (finite or not)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {share}")
    return top_k(scores, int(share * len(scores)))


def budget(scores: Scores, counts: npt.ArrayLike, total: float) -> Indices:
    """The best documents, in ``top_k``'s order, while their counts add up to at most ``total``.

    The kept documents are the longest prefix of the ranking that fits: a document that would take the sum
    past ``total`` is not kept, and neither is any document ranked after it (so the selection is always a
    ``top_k`` selection, and a budget that is met exactly keeps the document that meets it).

    Example:
        >>> budget(np.array([0.1, 0.9, 0.5, 0.8]), [5, 3, 1, 4], 7).tolist()
        [1, 3]
    """
    sizes = np.asarray(counts, dtype=np.int64)
    if sizes.shape != np.shape(scores):
        raise ValueError(f"scores and counts differ in shape: {np.shape(scores)} and {sizes.shape}")
    if total < 0:
        raise ValueError(f"budget must be >= 0, got {total}")
    ranked = _ranked(scores)
    spent = np.cumsum(sizes[ranked])
    return np.sort(ranked[: int(np.searchsorted(spent, total, side="right"))])


def threshold(scores: Scores, minimum: float) -> Indices:
    """Every document whose score is at least ``minimum``."""
    return np.flatnonzero(np.isfinite(scores) & (scores >= minimum))


def gumbel_top_k(log_weights: Scores, k: int, rng: np.random.Generator) -> Indices:
    """Sample ``k`` documents without replacement with probability proportional to ``exp(log_weights)``.

    Adding Gumbel(0, 1) noise and taking the top k is exact sampling without replacement (the
    Gumbel-top-k trick, as DSIR resamples). The noise is drawn for every document in manifest order
    from the given generator, so the sample depends only on the seed, not on how the work was split.
    """
    noise = rng.gumbel(size=len(log_weights))
    return top_k(np.asarray(log_weights, dtype=np.float64) + noise, k)
