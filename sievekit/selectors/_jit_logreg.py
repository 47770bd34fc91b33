"""The compiled loop of ``logreg.py``'s solver (numba), loaded only through ``sievekit.selectors.logreg``.

Dual coordinate descent for L2-regularised logistic regression, the method of Yu, Huang & Lin (2011), "Dual
coordinate descent methods for logistic regression and maximum entropy models" (Algorithms 3 and 4), with
LIBLINEAR's choices where the paper leaves them open: the start ``alpha_i = min(0.001 C_i, 1e-8)``, a Newton
method on each one-variable sub-problem (at most 100 steps, its tolerance tightened from 1e-2 while an epoch
takes few steps), and the stop when an epoch's largest projected gradient falls below ``eps``. The order of the
samples is shuffled every epoch by a seeded generator of our own (splitmix64), so a seed gives the same bits on
every machine and numba version. The name starts with ``_``: the registry imports every other module of the
package, and this one imports numba.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from sievekit.selectors._jit import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_MAX_INNER = 100  # Newton steps per sub-problem (LIBLINEAR's max_inner_iter)
_ETA = 0.1  # a Newton step that leaves (0, C) shrinks z by this instead (the paper's xi)


@njit(inline="always")
def _splitmix(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """The next state of splitmix64 and its output."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return state, z ^ (z >> _S31)


@njit(inline="always")
def _row_dot(w: npt.NDArray[np.float64], indices: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
             start: int, stop: int) -> float:
    """``w . x`` over the entries ``start:stop``, summed in four interleaved partial sums so that the additions
    need not wait on each other. On the 2-core benchmark VM it measured no faster than one running sum (the loop
    waits on loading ``w`` and the rows, ~2 ns per entry either way); the order is part of the solver's bits."""
    s0 = s1 = s2 = s3 = 0.0
    p = start
    while p + 4 <= stop:
        s0 += w[indices[p]] * values[p]
        s1 += w[indices[p + 1]] * values[p + 1]
        s2 += w[indices[p + 2]] * values[p + 2]
        s3 += w[indices[p + 3]] * values[p + 3]
        p += 4
    while p < stop:
        s0 += w[indices[p]] * values[p]
        p += 1
    return (s0 + s1) + (s2 + s3)


@njit()
def dual_cd(indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
            n_cols: int, sign: npt.NDArray[np.float64], cost: npt.NDArray[np.float64], bias: float, eps: float,
            max_iter: int, seed: int) -> tuple[npt.NDArray[np.float64], int]:
    """Minimise ``0.5 |w|^2 + sum_i cost_i log(1 + exp(-sign_i (w . x_i + bias w_b)))`` by dual coordinate descent.

    Args:
        indptr, indices, values: the rows in CSR form, ``indices`` within ``[0, n_cols)``.
        n_cols: the width of the rows.
        sign: +1.0 or -1.0 per row (its label).
        cost: ``C_i`` per row, > 0.
        bias: the value of the extra feature every row has (its weight is ``w[n_cols]``, regularised alike).
        eps: stop when an epoch's largest projected gradient is below this.
        max_iter: at most this many epochs.
        seed: the shuffles' seed.

    Returns:
        ``w`` (``n_cols + 1`` entries, the bias feature's last) and the number of epochs run.
    """
    n = len(sign)
    w = np.zeros(n_cols + 1)
    alpha = np.empty(2 * n)  # alpha_i and C_i - alpha_i, both kept to avoid cancellation near the bounds
    xsq = np.empty(n)
    order = np.arange(n)
    for i in range(n):
        alpha[2 * i] = min(0.001 * cost[i], 1e-8)
        alpha[2 * i + 1] = cost[i] - alpha[2 * i]
        step = sign[i] * alpha[2 * i]
        total = bias * bias
        for p in range(indptr[i], indptr[i + 1]):
            total += values[p] * values[p]
            w[indices[p]] += step * values[p]
        w[n_cols] += step * bias
        xsq[i] = total
    state = np.uint64(seed) ^ _GOLDEN
    inner_eps, inner_eps_min = 1e-2, min(1e-8, eps)
    epochs = 0
    while epochs < max_iter:
        for i in range(n - 1):  # Fisher-Yates over the previous epoch's order, as LIBLINEAR shuffles
            state, r = _splitmix(state)
            j = i + np.int64(r % np.uint64(n - i))
            order[i], order[j] = order[j], order[i]
        newton_steps = 0
        g_max = 0.0
        for s in range(n):
            i = order[s]
            c = cost[i]
            dot = bias * w[n_cols] + _row_dot(w, indices, values, indptr[i], indptr[i + 1])
            a, b = xsq[i], sign[i] * dot
            # The sub-problem in z = alpha_i or in z = C_i - alpha_i, whichever is the better conditioned.
            first, second, direction = 2 * i, 2 * i + 1, 1.0
            if 0.5 * a * (alpha[second] - alpha[first]) + b < 0:
                first, second, direction = second, first, -1.0
            z_old = alpha[first]
            z = z_old
            if c - z < 0.5 * c:
                z = 0.1 * z
            grad = a * (z - z_old) + direction * b + math.log(z / (c - z))
            g_max = max(g_max, abs(grad))
            steps = 0
            while steps <= _MAX_INNER and abs(grad) >= inner_eps:
                z_new = z - grad / (a + c / (c - z) / z)
                z = z * _ETA if z_new <= 0 else z_new
                grad = a * (z - z_old) + direction * b + math.log(z / (c - z))
                steps += 1
            newton_steps += steps
            if steps > 0:
                alpha[first], alpha[second] = z, c - z
                step = direction * (z - z_old) * sign[i]
                for p in range(indptr[i], indptr[i + 1]):
                    w[indices[p]] += step * values[p]
                w[n_cols] += step * bias
        epochs += 1
        if g_max < eps:
            break
        if newton_steps <= n // 10:
            inner_eps = max(inner_eps_min, 0.1 * inner_eps)
    return w, epochs
