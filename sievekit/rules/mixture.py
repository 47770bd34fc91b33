"""Selecting toward several targets with proportions (DSIR's ``target_proportions``).

Each target has its own scores over the whole pool (its method fitted on that target alone) and a quota:
its share of the documents, or of the token (byte) budget. The targets take documents in turns, as in a
draft: the target that has filled the smallest part of its quota (the first target on a tie) takes its
best document (by its own scores, ties by position, never a non-finite one) that no target has taken yet.
So a document wanted by two targets counts once, for the target that reached it first; scores of
different targets are never compared with each other.

A target is done when it has its quota of documents or when its next document would take it past its
quota of tokens (the budget rule, ``sampling.budget``, per target); or when it has no documents left. Every
target so ends within one document of its quota; a target with too few documents with a finite score
leaves its quota short (the others do not take it over).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]


def quotas(shares: Sequence[float], total: int) -> list[int]:
    """Split ``total`` documents over the shares (largest remainders first, then earlier targets).

    Example:
        >>> quotas([0.7, 0.3], 5)
        [4, 1]
    """
    weights = np.asarray(shares, dtype=np.float64)
    exact = weights * total / weights.sum()
    quota = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: total - int(quota.sum())]] += 1
    return [int(q) for q in quota]


def mix(scores: Sequence[Scores], shares: Sequence[float], total: float,
        counts: npt.ArrayLike | None = None) -> tuple[Indices, Indices]:
    """The documents kept for a mixture of targets, and the target each was kept for.

    Args:
        scores: one array per target, each with one score per document of the pool.
        shares: each target's share (positive; normalised to sum to 1).
        total: documents to keep (``counts`` None), or the budget that ``counts`` add up to.
        counts: each document's tokens or bytes, for a budget.

    Returns:
        The kept indices (ascending) and, per document, the index of the target it was kept for (-1: not kept).

    Raises:
        ValueError: shapes differ, or a share is not a positive number.

    Example:
        >>> kept, owner = mix([np.array([3., 2., 1., 0.]), np.array([3., 0., 1., 2.])], [0.5, 0.5], 2)
        >>> kept.tolist(), owner.tolist()
        ([0, 3], [0, -1, -1, 1])
    """
    n = len(scores[0]) if scores else 0
    if not scores or any(len(s) != n for s in scores) or len(shares) != len(scores):
        raise ValueError("mix needs one score array per share, all of one length")
    if any(not (math.isfinite(s) and s > 0) for s in shares):
        raise ValueError(f"shares must be positive numbers, got {list(shares)}")
    sizes = None if counts is None else np.asarray(counts, dtype=np.int64)
    if sizes is not None and sizes.shape != (n,):
        raise ValueError(f"counts have shape {sizes.shape}, the scores {n} documents")
    weight = sum(shares)
    limit: list[float] = ([float(q) for q in quotas(shares, int(total))] if sizes is None
                          else [total * s / weight for s in shares])
    rankings = [_ranked(np.asarray(s, dtype=np.float64)) for s in scores]
    owner = np.full(n, -1, dtype=np.int64)
    filled = [0] * len(scores)
    at = [0] * len(scores)
    turns = [(0.0, k) for k in range(len(scores))]
    heapq.heapify(turns)
    while turns:
        _, k = heapq.heappop(turns)
        ranking = rankings[k]
        while at[k] < len(ranking) and owner[ranking[at[k]]] >= 0:
            at[k] += 1  # taken by another target
        if at[k] == len(ranking):
            continue
        doc = int(ranking[at[k]])
        size = 1 if sizes is None else int(sizes[doc])
        if filled[k] + size > limit[k]:
            continue  # the next document would cross this target's quota: the target is done
        owner[doc] = k
        filled[k] += size
        at[k] += 1
        heapq.heappush(turns, (filled[k] / limit[k] if limit[k] > 0 else 0.0, k))  # a 0 quota: 0-count docs
    return np.flatnonzero(owner >= 0).astype(np.int64), owner


def _ranked(scores: Scores) -> Indices:
    finite = np.flatnonzero(np.isfinite(scores))
    return finite[np.argsort(-scores[finite], kind="stable")].astype(np.int64)
