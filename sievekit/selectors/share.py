"""How a selection compares with the classifier's estimate of the pool's target-like share.

The classifier records, when fitted, a label-free estimate of the share of the pool that is target-like
(pool-sample documents on the target's side of the balanced decision boundary, each scored by a model
that did not train on it, after the re-fit: ``classifier.refit_target_share``) and the score boundary that
share implies for its final model (``target_share`` and ``share_boundary`` in its state). A selection that
keeps more documents than the pool holds above that boundary reaches past what the pool holds, by the
estimate.

On bench/realistic (seed 0, ``select --top-k`` at the true count) the estimate is within 0.01 of the truth on
most tasks (results.md there); with a budget 3-10x the truth it lands between the truth and the budget, so
the flag is raised; with no budget (``score``) it errs low. A flag is a prompt to look, not proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

SELECTORS = ("classifier",)  # the selectors that record an estimate


def share_summary(state: Mapping[str, Any] | None, scores: npt.NDArray[np.float64],
                  kept: npt.NDArray[np.int64]) -> dict[str, Any] | None:
    """The estimate of a run's fitted selector beside its selection, or None for a selector that makes none.

    Args:
        state: the selector's ``state_dict()``.
        scores: every pool document's score by that selector.
        kept: the indices of the kept documents.

    Returns:
        ``{"recorded": False, "kept": n}`` for a state saved before the estimate was recorded; else
        ``recorded``, ``estimate`` (share of the pool), ``pool_docs``, ``pool_above`` (the estimate in
        documents: the pool's best-scoring round(share x N)), ``boundary`` (the lowest score among them, None
        if none), ``kept`` and ``kept_above`` (kept documents among them).

    Example:
        >>> s = {"name": "classifier", "state": {"target_share": 0.5, "share_boundary": 0.5}}
        >>> share_summary(s, np.array([0.9, 0.1, 0.7, 0.2]), np.array([0, 2, 3]))["kept_above"]
        2
    """
    if not state or state.get("name") not in SELECTORS:
        return None
    fitted = state.get("state") or {}
    estimate, boundary = fitted.get("target_share"), fitted.get("share_boundary")
    kept = np.asarray(kept, dtype=np.int64)
    if estimate is None or boundary is None:
        return {"recorded": False, "kept": len(kept)}
    # The estimate is counted on this pool: its best-scoring round(share x N) documents. (The recorded
    # boundary is a quantile of the fit's small sample; counting documents above it could contradict the
    # share itself, e.g. a share of 0 beside dozens of documents above the sample's best score.)
    scores = np.asarray(scores, dtype=np.float64)
    pool_above = min(len(scores), int(round(float(estimate) * len(scores))))
    above, lowest = best_of(scores, pool_above)
    return {"recorded": True, "estimate": float(estimate),
            "boundary": lowest if lowest is not None and np.isfinite(lowest) else None,  # JSON has no NaN/inf
            "pool_docs": len(scores),
            "pool_above": pool_above, "kept": len(kept), "kept_above": int(above[kept].sum())}


def best_of(scores: npt.NDArray[np.float64], k: int) -> tuple[npt.NDArray[np.bool_], float | None]:
    """A mask of the ``k`` best scores (ties broken by position, NaN last) and the lowest of them, in linear
    time: the pool can be large, and only the k-th best value is needed, not a full order.

    Example:
        >>> mask, lowest = best_of(np.array([0.2, 0.9, 0.5, 0.9]), 2)
        >>> mask.tolist(), lowest
        ([False, True, False, True], 0.9)
    """
    mask = np.zeros(len(scores), dtype=bool)
    if k <= 0:
        return mask, None
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    kth = float(np.partition(ranked, len(ranked) - k)[len(ranked) - k])
    mask[ranked > kth] = True
    mask[np.flatnonzero(ranked == kth)[: k - int(mask.sum())]] = True
    return mask, kth


def share_sentence(summary: Mapping[str, Any]) -> str:
    """One line for ``select -v`` and the report: the estimate, and whether the selection reaches past it."""
    if not summary.get("recorded"):
        return "the classifier's estimate of the pool's target-like share: not recorded (a state fitted before " \
               "sievekit recorded it)"
    kept, above = summary["kept"], summary["kept_above"]
    boundary, n = summary["boundary"], summary["pool_docs"]
    which = f"the best {summary['pool_above']:,} of {n:,} documents" if summary["pool_above"] else \
        f"none of the {n:,} documents"
    which += f", scoring at least {boundary:.4g}" if boundary is not None else ""
    text = (f"the classifier estimates {100 * summary['estimate']:.2f}% of the pool target-like ({which}); "
            f"{above:,} of the {kept:,} kept are among them")
    if kept > summary["pool_above"]:
        text += ": the selection reaches past what the pool holds, by this estimate"
    return text
