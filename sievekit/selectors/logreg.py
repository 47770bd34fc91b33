"""L2-regularised logistic regression by dual coordinate descent, our own: the classifier's default fit without
scikit-learn.

The model is the one scikit-learn's ``LogisticRegression(solver="liblinear", dual=True, class_weight="balanced")``
fits: ``min 0.5 |w|^2 + sum_i C_i log(1 + exp(-y_i (w . x_i + b)))`` with the intercept ``b`` the weight of an
extra feature of value 1, regularised like the others (LIBLINEAR's bias), and a cost per sample
``C_i = C x class weight x sample weight``. The class weight is scikit-learn's "balanced" one,
``total weight / (2 x the class's weight)``, which counts samples when no sample weights are given; with sample
weights it sums them, as scikit-learn does from 1.6 on (its liblinear fit is the reference the classifier was
tuned with). The solver is Yu, Huang & Lin's (2011) dual coordinate descent, as in LIBLINEAR's
``solve_l2r_lr_dual``, stopped by the same rule (an epoch's largest projected gradient below ``tol``). The
order in which an epoch visits the samples is our seeded shuffle, not LIBLINEAR's ``rand()``, and the stop is
looser (``TOL``, 30% fewer epochs), so the two stop at slightly different points near the one optimum: the
weights agree within 2e-4 relative (tests/selectors/test_logreg.py against scikit-learn; bench/realistic).

The loop is compiled by numba (``_jit_logreg.py``, the ``fast`` extra); :func:`kernel` is ``None`` when numba is
missing or ``SIEVEKIT_JIT=0``, and the classifier then fits with scikit-learn as before.

Example (with numba installed):
    >>> rows = np.array([0, 1, 2, 3, 4]), np.array([0, 0, 1, 1]), np.ones(4)
    >>> w, b = fit_l2(*rows, num_cols=2, positive=np.array([True, True, False, False]), c=1.0)
    >>> bool(w[0] > 0 > w[1])
    True
"""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

import numpy as np
import numpy.typing as npt

from sievekit.selectors.ngram_jit import ENV, compiled_module

# The stop: an epoch's largest projected gradient below this. The classifier's liblinear fits used 1e-4 (sklearn's
# default); 3e-3 takes 30% fewer epochs and stays within 2e-4 relative of their weights (bench/realistic's first
# fits and cross-fit halves of four tasks, the demo data, with and without hard-negative weights), where 1e-2
# came within 5e-4 and moved the intercept by 1e-3.
TOL = 3e-3
MAX_ITER = 1000


def available() -> bool:
    """Whether :func:`kernel` is expected to load, known without importing numba (the switch and the package)."""
    return os.environ.get(ENV, "1") != "0" and importlib.util.find_spec("numba") is not None


def kernel() -> ModuleType | None:
    """The compiled solver, or ``None`` when numba is missing or ``SIEVEKIT_JIT=0``."""
    if os.environ.get(ENV, "1") == "0":
        return None
    return compiled_module("_jit_logreg")


def balanced_costs(positive: npt.NDArray[np.bool_], c: float,
                   sample_weight: npt.NDArray[np.float64] | None = None) -> npt.NDArray[np.float64]:
    """``C_i`` of every sample: ``c`` x its class's balanced weight x its sample weight.

    Raises:
        ValueError: the samples hold one class only (no boundary to fit).
    """
    weight = np.ones(len(positive)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    per_class = np.array([weight[~positive].sum(), weight[positive].sum()])
    if not (per_class > 0).all():
        raise ValueError("a logistic regression needs samples of both classes, but the data holds one class only")
    class_weight = per_class.sum() / (2 * per_class)
    costs: npt.NDArray[np.float64] = c * class_weight[positive.astype(np.int64)] * weight
    return costs


def touched_columns(indices: npt.NDArray[np.integer], num_cols: int
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The columns that ``indices`` hold, in order, and each entry's column renumbered among them: what
    ``np.unique(indices, return_inverse=True)`` gives, by a mask over the width instead of a sort of the entries.

    Example:
        >>> used, local = touched_columns(np.array([7, 2, 7, 5]), 10)
        >>> used.tolist(), local.tolist()
        ([2, 5, 7], [2, 0, 2, 1])
    """
    touched = np.zeros(num_cols, dtype=bool)
    touched[indices] = True
    return np.flatnonzero(touched), (np.cumsum(touched) - 1)[indices]


def fit_l2(indptr: npt.NDArray[np.integer], indices: npt.NDArray[np.integer], values: npt.NDArray[np.floating],
           num_cols: int, positive: npt.NDArray[np.bool_], c: float,
           sample_weight: npt.NDArray[np.float64] | None = None, seed: int = 0, tol: float = TOL,
           max_iter: int = MAX_ITER) -> tuple[npt.NDArray[np.float64], float]:
    """Fit a balanced L2 logistic regression with an intercept to CSR rows, with the compiled solver.

    Args:
        indptr, indices, values: the rows (e.g. a :class:`~sievekit.selectors.features.Features`' arrays).
        num_cols: the width of the rows.
        positive: each row's label.
        c: the inverse regularisation strength, > 0.
        sample_weight: a weight per row, >= 0 (None: all 1); a row of weight 0 is left out.
        seed: the seed of the order the solver visits the rows in.
        tol: stop when an epoch's largest projected gradient is below this.
        max_iter: at most this many epochs.

    Returns:
        The weights (``num_cols``, zero on the columns no row touches) and the intercept.

    Raises:
        ValueError: one class only, or no compiled solver (see :func:`kernel`).
    """
    jit = kernel()
    if jit is None:
        raise ValueError("the compiled solver needs numba (the 'fast' extra) and SIEVEKIT_JIT other than 0")
    positive = np.asarray(positive, dtype=bool)
    cost = balanced_costs(positive, c, sample_weight)
    indptr, indices, values = np.asarray(indptr, np.int64), np.asarray(indices, np.int64), np.asarray(values)
    if (cost <= 0).any():  # such a row adds nothing to the objective, and its dual variable has no room
        keep = np.flatnonzero(cost > 0)
        lengths = indptr[keep + 1] - indptr[keep]
        entries = np.repeat(indptr[keep] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices, values, positive, cost = indices[entries], values[entries], positive[keep], cost[keep]
    # A column no row touches keeps weight 0: the solver works on the touched ones only, so that its weights
    # fit in less cache.
    used, local = touched_columns(indices, num_cols)
    w, _ = jit.dual_cd(indptr, local, values.astype(np.float64, copy=False), len(used),
                       np.where(positive, 1.0, -1.0), cost, 1.0, tol, max_iter, seed)
    weights = np.zeros(num_cols)
    weights[used] = w[:-1]
    return weights, float(w[-1])
