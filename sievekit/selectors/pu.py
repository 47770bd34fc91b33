"""The PU re-fit's rules for the classifier: which sampled negatives the re-fit drops and which it weighs
more, the label-free estimates of the pool's target-like share, and the held-out scores behind them.

Functions of score arrays and of the two sides' sparse rows (scipy CSR; ``fit`` is any function fitting
weights and an intercept to positives and negatives, e.g. ``ClassifierSelector._logreg``), so each rule is
tested on hand-made cases (tests/selectors/test_classifier.py, tests/reporting/test_target_share.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

Fit = Callable[["csr_matrix", "csr_matrix"], tuple[npt.NDArray[np.float64], float]]
# A fit that also takes the negatives' sample weights (None: all 1).
WeightedFit = Callable[["csr_matrix", "csr_matrix", "npt.NDArray[np.float64] | None"],
                       tuple[npt.NDArray[np.float64], float]]
CLUSTER_SAMPLE = 2000  # target documents clustered at most; the others join the nearest cluster's fold
CLUSTER_DIMS = 32


def pu_keep_mask(negative_scores: npt.NDArray[np.float64], top_fraction: float) -> npt.NDArray[np.bool_]:
    """Which sampled negatives to keep for the re-fit: all but the ``round(top_fraction * n)`` best-scoring
    (ties broken by sample order, so the mask is deterministic)."""
    n = len(negative_scores)
    drop = min(int(round(top_fraction * n)), n)
    keep = np.ones(n, dtype=bool)
    keep[np.argsort(-negative_scores, kind="stable")[:drop]] = False
    return keep


def estimate_target_share(x_pos: csr_matrix, x_neg: csr_matrix,
                          fit: Fit) -> float:
    """A label-free estimate of the pool's target-like share: the share of the pool sample that a model
    fitted without it (two folds) puts on the target's side of the balanced decision boundary.

    Target-like documents among the training negatives pull their kind's scores down, and a target set
    drawn from other sources than the pool's matching documents scores them lower still, so the estimate
    errs low (bench/realistic: 0.02 for Python at 0.19, 0.006 for async Python at 0.003, 0.0005 for
    man pages of section 3 at 0.02). Low is the safe side: for a rare target the re-fit then keeps the
    hard negatives (same domain, other style) the model needs.
    """
    _, neg_scores = cross_fitted_scores(x_pos, x_neg, fit)
    return float(np.mean(neg_scores > 0)) if len(neg_scores) else 0.0


def refit_target_share(x_pos: csr_matrix, x_neg: csr_matrix, keep: npt.NDArray[np.bool_],
                       fit: Fit,
                       full: tuple[npt.NDArray[np.float64], float] | None = None) -> float:
    """A label-free estimate of the pool's target-like share after the re-fit: the share of the pool sample
    on the target's side of the balanced boundary, each sampled document scored by a model that did not train
    on it (the kept negatives out of fold, the dropped ones by ``full``, a model fitted on every kept negative,
    e.g. the re-fit's own; by default an L2 one fitted here).

    The first fit's estimate (:func:`estimate_target_share`) errs low, as the target-like documents among the
    negatives pull their kind down; once the re-fit has dropped them this one follows the truth where the
    budget covers it (bench/realistic, seed 0: Python 0.19 for a true 0.186 with ``--top-k`` at the true
    count; 0.21 with the budget 3x or 10x too large) and, on 8 of its 9 tasks, above a budget of 0.3x the truth.
    """
    _, kept_scores = cross_fitted_scores(x_pos, x_neg[keep], fit)
    above = int(np.sum(kept_scores > 0))
    if not keep.all():
        weights, intercept = full if full is not None else fit(x_pos, x_neg[keep])
        above += int(np.sum(x_neg[~keep] @ weights + intercept > 0))
    return above / x_neg.shape[0] if x_neg.shape[0] else 0.0


def frequent_only(x_pos: csr_matrix, x_neg: csr_matrix, min_df: int) -> tuple[csr_matrix, csr_matrix]:
    """Both sides without the buckets that fewer than ``min_df`` of their documents hold (a bucket so rare can
    only name single documents, which a model with a million columns would otherwise learn by heart)."""
    df = np.bincount(np.concatenate([x_pos.indices, x_neg.indices]), minlength=x_pos.shape[1])
    out = []
    for x in (x_pos, x_neg):
        x = x.copy()
        x.data[df[x.indices] < min_df] = 0.0
        x.eliminate_zeros()
        out.append(x)
    return out[0], out[1]


def share_boundary(sample_scores: npt.NDArray[np.float64], share: float) -> float:
    """The score above which ``share`` of the (uniform) pool sample lies: the boundary a target-like share of
    the pool implies for a model's scores. With a share of 0 it is the sample's best score."""
    if not len(sample_scores):
        return 0.0
    return float(np.quantile(sample_scores, 1.0 - min(max(share, 0.0), 1.0)))


def hard_negative_weights(scores: npt.NDArray[np.float64], share: float, weight: float
                          ) -> npt.NDArray[np.float64] | None:
    """Re-fit weights of the kept negatives: ``weight`` for the best-scoring ``max(3 * share, 0.01)`` of
    them (hard negatives: close to the target, yet outside the selection), 1 for the rest; None if all 1."""
    if weight == 1 or not len(scores):
        return None
    hard = np.argsort(-scores, kind="stable")[:max(1, int(round(max(3 * share, 0.01) * len(scores))))]
    out = np.ones(len(scores))
    out[hard] = weight
    return out


def cross_fitted_scores(x_pos: csr_matrix, x_neg: csr_matrix, fit: Fit
                        ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Every row's score by a model fitted on the other of two folds (rows alternate folds); empty arrays
    when a fold would leave a side without rows."""
    return _cross_fitted(x_pos, x_neg, lambda p, n, _: fit(p, n), np.arange(x_pos.shape[0]) % 2, None)


def _cross_fitted(x_pos: csr_matrix, x_neg: csr_matrix, fit: WeightedFit, pos_fold: npt.NDArray[np.int64],
                  negative_weights: npt.NDArray[np.float64] | None
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``cross_fitted_scores`` with the positives' folds given and the training negatives' weights passed on."""
    neg_fold = np.arange(x_neg.shape[0]) % 2
    if not all((pos_fold != fold).any() and (neg_fold != fold).any() for fold in (0, 1)):
        return np.empty(0), np.empty(0)
    pos_scores, neg_scores = np.empty(x_pos.shape[0]), np.empty(x_neg.shape[0])
    for fold in (0, 1):
        train_pos, train_neg = pos_fold != fold, neg_fold != fold
        weights, intercept = fit(x_pos[train_pos], x_neg[train_neg],
                                 None if negative_weights is None else negative_weights[train_neg])
        pos_scores[~train_pos] = x_pos[~train_pos] @ weights + intercept
        neg_scores[~train_neg] = x_neg[~train_neg] @ weights + intercept
    return pos_scores, neg_scores


def separation(pos: npt.NDArray[np.float64], neg: npt.NDArray[np.float64], share: float) -> dict[str, float]:
    """How well held-out scores put target documents above pool samples.

    ``auc``: ROC-AUC; ``tpr_at_share``: the share of positives above the pool samples' top ``share``
    (at least 1%); ``pauc``: the mean of that over false-positive rates up to the same share. ``score``
    is the figure ``penalty=auto`` maximises.
    """
    if not (len(pos) and len(neg)):
        return {"auc": 0.0, "tpr_at_share": 0.0, "pauc": 0.0, "score": 0.0}
    neg_sorted = np.sort(neg)
    above = len(neg) - np.searchsorted(neg_sorted, pos, side="right")  # negatives above each positive
    fpr = above / len(neg)
    limit = max(share, 0.01)
    auc = float(np.mean(1.0 - fpr))
    tpr = float(np.mean(fpr < limit))
    pauc = float(np.mean(np.clip(limit - fpr, 0.0, None)) / limit)
    return {"auc": auc, "tpr_at_share": tpr, "pauc": pauc, "score": pauc}


def cluster_folds(x_pos: csr_matrix, seed: int, clusters: int = 2) -> npt.NDArray[np.int64]:
    """Two folds of the target documents made of whole clusters, so that a model is judged on targets unlike the
    ones it was fitted on, as the pool's target-like documents are unlike the target set (other packages, other
    authors); alternating rows would put near-copies on both sides and favour the model that memorises.

    The clusters are k-means' (seeded) on the rows' top singular directions, taken exactly from the targets'
    Gram matrix; clusters are dealt, largest first, to the smaller fold. Past ``CLUSTER_SAMPLE`` targets a seeded
    sample is clustered and each other target joins the fold of the cluster whose mean row is nearest (cosine).
    Fewer than 4 targets, or a clustering that leaves a fold empty, alternate.
    """
    n = x_pos.shape[0]
    alternate = np.arange(n, dtype=np.int64) % 2
    if n < 4:
        return alternate
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, CLUSTER_SAMPLE, replace=False)) if n > CLUSTER_SAMPLE else np.arange(n)
    x = x_pos[sample]
    values, vectors = np.linalg.eigh((x @ x.T).toarray())
    top = np.argsort(-values, kind="stable")[:min(CLUSTER_DIMS, len(sample) - 1)]
    z = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))  # the rows' coordinates on those directions
    z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-12
    with threadpool_limits(1):  # k-means' OpenMP threads only spin on 400 rows
        labels = KMeans(clusters, n_init=4, random_state=seed).fit_predict(z)
    fold_of = np.zeros(clusters, dtype=np.int64)
    sizes = [0, 0]
    for cluster in np.argsort(-np.bincount(labels, minlength=clusters), kind="stable"):
        fold_of[cluster] = int(sizes[1] < sizes[0])
        sizes[fold_of[cluster]] += int(np.sum(labels == cluster))
    if len(sample) == n:
        folds = fold_of[labels]
    else:
        means = np.vstack([np.asarray(x[labels == c].mean(axis=0)) for c in range(clusters)])
        means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
        folds = fold_of[np.argmax(np.asarray(x_pos @ means.T), axis=1)]
    return folds if 0 < folds.sum() < n else alternate


def cv_separation(fit: WeightedFit, x_pos: csr_matrix, x_neg: csr_matrix,
                  negative_weights: npt.NDArray[np.float64] | None, pos_fold: npt.NDArray[np.int64],
                  share: float) -> dict[str, float]:
    """:func:`separation` of held-out targets (folds ``pos_fold``) from held-out negatives (alternating rows),
    each scored by a model ``fit`` on the other fold (with the negatives' weights); all zero when a fold would
    leave a side without rows (a single target document)."""
    return separation(*_cross_fitted(x_pos, x_neg, fit, pos_fold, negative_weights), share)
