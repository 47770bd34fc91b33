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


def tail_scale(values: np.ndarray, ratio: float = 10.0) -> str:
    """``"symlog"`` when the finite values are heavy-tailed (their range is more than ``ratio`` times their
    interquartile range, as with DSIR's log importance weights, which grow with a document's length),
    else ``"linear"``. Equal-width bins over a heavy tail put nearly every value into one bar."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return "linear"
    lo, q1, q3, hi = np.quantile(finite, (0.0, 0.25, 0.75, 1.0))
    if hi == lo:
        return "linear"
    return "symlog" if q3 == q1 or (hi - lo) > ratio * (q3 - q1) else "linear"


def symlog_scale(values: np.ndarray) -> float:
    """The linear range ``c`` of the symlog transform: a power of ten near the median magnitude, so values
    within about ±c stay linear and only the tails are compressed."""
    magnitudes = np.abs(values[np.isfinite(values) & (values != 0)])
    if len(magnitudes) == 0:
        return 1.0
    return float(10.0 ** np.floor(np.log10(np.median(magnitudes))))


def symlog(values: np.ndarray, c: float) -> np.ndarray:
    """sign(x) · log10(1 + |x| / c): logarithmic in both tails, linear near 0, defined for every sign."""
    out: np.ndarray = np.sign(values) * np.log10(1.0 + np.abs(values) / c)
    return out


def symlog_inverse(values: np.ndarray, c: float) -> np.ndarray:
    out: np.ndarray = np.sign(values) * c * (10.0 ** np.abs(values) - 1.0)
    return out


def split_histogram(values: np.ndarray, selected: np.ndarray, bins: int = 20,
                    scale: str | None = None) -> dict[str, Any]:
    """One histogram of ``values`` split into the ``selected`` (a boolean mask) and the rest, bin for bin.

    Bins are equal-width on ``scale`` (``"linear"``, or ``"symlog"``; by default chosen by ``tail_scale``);
    ``edges`` are always in the values' own units.

    Example:
        >>> split_histogram(np.array([1.0, 2, 3, 4]), np.array([False, False, True, True]), bins=2)["selected"]
        [0, 2]
    """
    ok = np.isfinite(values)
    finite, chosen = values[ok], selected[ok]
    scale = scale or tail_scale(finite)
    out: dict[str, Any] = {"scale": scale, "edges": [], "selected": [], "not_selected": [],
                           "non_finite": int((~ok).sum())}
    if len(finite) == 0:
        return out
    c = symlog_scale(finite) if scale == "symlog" else 1.0
    shown = symlog(finite, c) if scale == "symlog" else finite
    lo, hi = float(shown.min()), float(shown.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    picked, _ = np.histogram(shown[chosen], bins=edges)
    rest, _ = np.histogram(shown[~chosen], bins=edges)
    real = symlog_inverse(edges, c) if scale == "symlog" else edges
    out.update({"edges": [float(e) for e in real], "selected": [int(v) for v in picked],
                "not_selected": [int(v) for v in rest]})
    if scale == "symlog":
        out["linthresh"] = c
    return out


def scaled_histogram(values: np.ndarray, bins: int = 20) -> dict[str, Any]:
    """``histogram`` with its scale chosen by ``tail_scale`` (edges in the values' own units)."""
    split = split_histogram(values, np.ones(len(values), dtype=bool), bins)
    out = {"scale": split["scale"], "edges": split["edges"], "counts": split["selected"]}
    return {**out, "linthresh": split["linthresh"]} if "linthresh" in split else out
