"""``Rule``: how many documents a selection keeps, and how it picks them from the pool's scores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sievekit.errors import ConfigError, option
from sievekit.rules import sampling, stratify

RULES = ("top_k", "fraction", "threshold", "sample")


@dataclass(frozen=True)
class Rule:
    """How many documents to keep: ``top_k`` N, ``fraction`` F, ``threshold`` T, or ``sample`` N (Gumbel).

    With ``stratify`` (``"length"``, or a field name) ``top_k``/``fraction`` keep each stratum's proportional
    share: equal-frequency length bands (``bins`` of them), or one stratum per value of the field.

    Example:
        >>> Rule("top_k", 3).budget()
        {'budget_docs': 3}
    """

    kind: str
    value: float
    stratify: str | None = None
    bins: int = 10

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ConfigError(f"unknown selection rule {self.kind!r}; choose one of {', '.join(RULES)}")
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{option(self.kind)} must be a finite number, got {value!r}")
        if self.kind in ("top_k", "sample") and (value < 0 or value != int(value)):
            raise ConfigError(f"{option(self.kind)} must be a whole number >= 0, got {value!r}")
        if self.kind == "fraction" and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{option('fraction')} must be within [0, 1], got {value!r}")
        if self.stratify is not None and self.kind not in ("top_k", "fraction"):
            raise ConfigError(f"{option('stratify')} works with {option('top_k')} or {option('fraction')}",
                              hint=f"drop {option('stratify')}, or pick a count")
        if self.bins < 1:
            raise ConfigError(f"{option('bins')} must be >= 1, got {self.bins}")

    def budget(self) -> dict[str, Any]:
        """What a fitted method may know of the selection's size: documents (top-k, sample) or a share."""
        if self.kind in ("top_k", "sample"):
            return {"budget_docs": int(self.value)}
        if self.kind == "fraction":
            return {"budget_fraction": float(self.value)}
        return {}

    def pick(self, scores: np.ndarray, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
        """The sorted indices of the kept documents."""
        if strata is not None:
            share = int(self.value) if self.kind == "top_k" else float(self.value)
            return stratify.grouped_top_k(scores, strata, share)
        if self.kind == "top_k":
            return sampling.top_k(scores, int(self.value))
        if self.kind == "fraction":
            return sampling.fraction(scores, self.value)
        if self.kind == "threshold":
            return sampling.threshold(scores, self.value)
        return sampling.gumbel_top_k(scores, int(self.value), np.random.default_rng(seed))
