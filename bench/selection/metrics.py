"""Ranking metrics for the selection benchmark: precision and recall at R, ROC-AUC, Spearman correlation.

Scores follow sievekit's rule: higher is better, and a non-finite score means "never selected" (it is
ranked below every finite score, all such documents tied).
"""

from __future__ import annotations

import numpy as np

from sievekit.reporting.stats import rank_average
from sievekit.reporting.stats import spearman as _spearman
from sievekit.rules.stratify import stratified_top_k


def _finite_floor(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).copy()
    bad = ~np.isfinite(s)
    s[bad] = (s[~bad].min() - 1.0) if (~bad).any() else 0.0
    return s


def top_r(scores: np.ndarray, r: int) -> np.ndarray:
    """The R best finite scores (ties by position), as sievekit's top-k selects."""
    finite = np.flatnonzero(np.isfinite(scores))
    return finite[np.argsort(-scores[finite], kind="stable")][:r]


def precision_recall_at_r(scores: np.ndarray, relevant: np.ndarray) -> tuple[float, float]:
    r = int(relevant.sum())
    picked = top_r(scores, r)
    hits = int(relevant[picked].sum())
    return hits / max(len(picked), 1), hits / max(r, 1)


def stratified_precision(scores: np.ndarray, relevant: np.ndarray, lengths: np.ndarray, bins: int = 10) -> float:
    picked = stratified_top_k(scores, lengths, int(relevant.sum()), bins)
    return float(relevant[picked].sum()) / max(len(picked), 1)


def roc_auc(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Probability that a random relevant document outscores a random other one (ties count half)."""
    pos, n_pos = relevant.astype(bool), int(relevant.sum())
    n_neg = len(relevant) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rk = rank_average(_finite_floor(scores))
    return float((rk[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho over the documents with a finite score (as ``sievekit report`` computes it)."""
    rho = _spearman(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return float("nan") if rho is None else rho
