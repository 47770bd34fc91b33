"""Ranking metrics: precision at R, ROC-AUC and Spearman's rho (NaN scores rank below every finite score)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _floor(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).copy()
    bad = ~np.isfinite(s)
    s[bad] = (s[~bad].min() - 1.0) if (~bad).any() else 0.0
    return s


def precision_at_r(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Share of relevant documents among the R best scores, R = the relevant count (ties by position)."""
    r = int(relevant.sum())
    if r == 0:
        return float("nan")
    top = np.argsort(-_floor(scores), kind="stable")[:r]
    return float(relevant[top].mean())


def roc_auc(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Probability that a random relevant document outscores a random other one (ties count half)."""
    pos = relevant.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(_floor(scores))
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    return float(np.corrcoef(ra, rb)[0, 1])
