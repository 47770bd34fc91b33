"""Length-stratified selection: the same share of every length band, so a length-biased score cannot fill
the selection with only short (or only long) documents.

The pool is cut into ``bins`` equal-frequency bands by length (ties broken by position, so the bands
always differ in size by at most one document); each band keeps its proportional share of ``k`` (largest
remainders first, then lower bands), its best documents by score. Works with any score.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]


def length_bins(lengths: npt.ArrayLike, bins: int) -> npt.NDArray[np.int64]:
    """The equal-frequency band (0 = shortest) of every document.

    Example:
        >>> length_bins([50, 10, 40, 20, 30, 60], 3).tolist()
        [2, 0, 1, 0, 1, 2]
    """
    lens = np.asarray(lengths)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    order = np.argsort(lens, kind="stable")
    band = np.empty(len(lens), dtype=np.int64)
    band[order] = (np.arange(len(lens)) * bins) // max(len(lens), 1)
    return band


def _quotas(sizes: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.int64]:
    """Split ``k`` over bands in proportion to their sizes (Hamilton's largest-remainder rule)."""
    total = int(sizes.sum())
    exact = sizes * k / total
    quota = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: k - int(quota.sum())]] += 1
    return quota


def stratified_top_k(scores: Scores, lengths: npt.ArrayLike, k_or_fraction: int | float, bins: int = 10) -> Indices:
    """The best documents of every equal-frequency length band, ``k`` in all (sorted indices).

    Args:
        scores: one score per document; non-finite scores are never kept.
        lengths: one length per document (any unit; only the order matters).
        k_or_fraction: an ``int`` is a count; a ``float`` in [0, 1] is a share of all documents.
        bins: number of length bands.

    Returns:
        The kept indices, ascending. Within a band ties break by position. Where a band has fewer
        finite scores than its share, the shortfall goes to the best remaining documents of any band,
        so exactly ``min(k, number of finite scores)`` are kept.

    Raises:
        ValueError: a negative count, a fraction outside [0, 1], ``bins < 1``, or mismatched lengths.

    Example:
        >>> stratified_top_k(np.array([9., 1., 8., 2., 7., 3.]), [1, 2, 3, 4, 5, 6], 3, bins=3).tolist()
        [0, 2, 4]
    """
    lens = np.asarray(lengths)
    if lens.shape != np.shape(scores):
        raise ValueError(f"scores and lengths differ in shape: {np.shape(scores)} and {lens.shape}")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    return grouped_top_k(scores, length_bins(lens, min(bins, max(len(lens), 1))), k_or_fraction)


def grouped_top_k(scores: Scores, groups: npt.ArrayLike, k_or_fraction: int | float) -> Indices:
    """The best documents of every group, each group keeping its proportional share of ``k`` (sorted indices).

    ``groups`` holds a group number (0, 1, …) per document: a length band, or the code of a field's value
    (``group_codes``). Quotas, ties and the shortfall rule are those of ``stratified_top_k``.

    Example:
        >>> grouped_top_k(np.array([5., 4., 3., 9.]), [0, 0, 1, 1], 2).tolist()
        [0, 3]
    """
    scores = np.asarray(scores, dtype=np.float64)
    band = np.asarray(groups, dtype=np.int64)
    if band.shape != scores.shape:
        raise ValueError(f"scores and groups differ in shape: {scores.shape} and {band.shape}")
    k = _count(k_or_fraction, len(scores))
    if k == 0 or len(scores) == 0:
        return np.empty(0, dtype=np.int64)
    quota = _quotas(np.bincount(band), k)
    finite = np.isfinite(scores)
    # Rank by (band, -score, position): one stable sort per key, least significant first.
    order = np.argsort(-np.where(finite, scores, -np.inf), kind="stable")
    order = order[np.argsort(band[order], kind="stable")]
    rank_in_band = np.arange(len(order)) - np.searchsorted(band[order], band[order], side="left")
    take = (rank_in_band < quota[band[order]]) & finite[order]
    kept = np.zeros(len(scores), dtype=bool)
    kept[order[take]] = True
    short = min(k, int(finite.sum())) - int(kept.sum())
    if short > 0:
        rest = np.flatnonzero(finite & ~kept)
        kept[rest[np.argsort(-scores[rest], kind="stable")[:short]]] = True
    return np.flatnonzero(kept).astype(np.int64)


def group_codes(values: list[object]) -> npt.NDArray[np.int64]:
    """A group number per value, numbered in order of the values' sorted string forms (None last)."""
    keys = ["\uffff" if v is None else str(v) for v in values]
    _, codes = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    return codes.astype(np.int64)


def _count(k_or_fraction: int | float, n: int) -> int:
    if isinstance(k_or_fraction, (bool, np.bool_)):
        raise ValueError(f"k_or_fraction must be an int count or a float share, got {k_or_fraction!r}")
    if isinstance(k_or_fraction, (int, np.integer)):
        if k_or_fraction < 0:
            raise ValueError(f"k must be >= 0, got {k_or_fraction}")
        return int(k_or_fraction)
    if not 0.0 <= float(k_or_fraction) <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {k_or_fraction}")
    return int(float(k_or_fraction) * n)

