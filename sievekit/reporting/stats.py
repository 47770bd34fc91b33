"""Small statistics the reports need, over numpy arrays: ranks, Spearman correlation, histograms, quantiles."""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def rank_average(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (as Spearman's rho needs)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation over the pairs where both values are finite (None if undefined)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    rx, ry = rank_average(x[ok]), rank_average(y[ok])
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def summary(values: np.ndarray, integer: bool = False) -> dict[str, Any]:
    """Count, mean and quantiles p0 … p100 of the finite values (plus how many were not finite)."""
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    out: dict[str, Any] = {"count": int(len(finite))}
    if len(values) != len(finite):
        out["non_finite"] = int(len(values) - len(finite))
    if len(finite) == 0:
        return out
    qs = np.quantile(finite, QUANTILES, method="lower")
    out["mean"] = round(float(finite.mean()), 6)
    out.update({f"p{round(q * 100)}": int(v) if integer else float(v) for q, v in zip(QUANTILES, qs)})
    return out


def histogram(values: np.ndarray, bins: int | np.ndarray = 20, log: bool = False) -> dict[str, Any]:
    """Counts of the finite values in equal-width bins (of log10(1 + value) when ``log``); ``bins`` may be
    the edges of another histogram, so two sets can be compared bin for bin."""
    finite = values[np.isfinite(values)]
    if log:
        finite = np.log10(1.0 + np.maximum(finite, 0))
    if len(finite) == 0:
        return {"edges": [], "counts": [], "log10": log}
    counts, edges = np.histogram(finite, bins=bins)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "log10": log}


def shared_log_edges(*arrays: np.ndarray, bins: int = 20) -> np.ndarray:
    """Edges of ``bins`` equal-width bins of log10(1 + value) spanning every array."""
    finite = [np.log10(1.0 + np.maximum(a[np.isfinite(a)], 0)) for a in arrays if len(a)]
    lo = min((float(f.min()) for f in finite if len(f)), default=0.0)
    hi = max((float(f.max()) for f in finite if len(f)), default=1.0)
    return np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
