"""``Rule``: how many documents a selection keeps, and how it picks them from the pool's scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sievekit.errors import ConfigError, option
from sievekit.rules import mixture, sampling, stratify
from sievekit.rules.counting import Counting

RULES = ("top_k", "fraction", "threshold", "sample", "budget_tokens", "budget_bytes")
BUDGETS = {"budget_tokens": "tokens", "budget_bytes": "bytes"}
MIXABLE = ("top_k", "fraction", *BUDGETS)  # the rules a mixture of targets can share out


@dataclass(frozen=True)
class Rule:
    """How many documents to keep: ``top_k`` N, ``fraction`` F, ``threshold`` T, ``sample`` N (Gumbel), or the
    best documents within ``budget_tokens`` N / ``budget_bytes`` N (see ``sampling.budget`` for the edge: the
    longest prefix of the ranking that fits). Tokens are estimated unless ``tokenizer`` names a ``tokenizers``
    JSON file; bytes are the UTF-8 bytes of the text field.

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
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ConfigError(f"unknown selection rule {self.kind!r}; choose one of {', '.join(RULES)}")
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{option(self.kind)} must be a finite number, got {value!r}")
        if self.kind in ("top_k", "sample", *BUDGETS) and (value < 0 or value != int(value)):
            raise ConfigError(f"{option(self.kind)} must be a whole number >= 0, got {value!r}")
        if self.kind == "fraction" and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{option('fraction')} must be within [0, 1], got {value!r}")
        if self.stratify is not None and self.kind not in ("top_k", "fraction"):
            raise ConfigError(f"{option('stratify')} works with {option('top_k')} or {option('fraction')}",
                              hint=f"drop {option('stratify')}, or pick a count")
        if self.bins < 1:
            raise ConfigError(f"{option('bins')} must be >= 1, got {self.bins}")
        if self.kind in BUDGETS:  # 1e9 and 1000000000 are one budget, and one run
            object.__setattr__(self, "value", int(value))
        if self.tokenizer is not None and self.kind != "budget_tokens":
            raise ConfigError(f"{option('tokenizer')} counts tokens: use it with {option('budget_tokens')}")

    @property
    def counting(self) -> Counting | None:
        """What the budget counts per document, or None for a rule that counts documents."""
        unit = BUDGETS.get(self.kind)
        return None if unit is None else Counting(unit, self.tokenizer)

    def budget(self) -> dict[str, Any]:
        """What a fitted method may know of the selection's size: documents (top-k, sample) or a share.

        A token or byte budget tells nothing: its share of the pool is known only once the pool is counted,
        after the method is fitted."""
        if self.kind in ("top_k", "sample"):
            return {"budget_docs": int(self.value)}
        if self.kind == "fraction":
            return {"budget_fraction": float(self.value)}
        return {}

    def pick(self, scores: np.ndarray, seed: int, strata: np.ndarray | None = None,
             counts: np.ndarray | None = None) -> np.ndarray:
        """The sorted indices of the kept documents; a budget needs ``counts`` (one per document)."""
        if self.kind in BUDGETS:
            if counts is None:
                raise ValueError(f"a {self.kind} rule needs the documents' counts")
            return sampling.budget(scores, counts, self.value)
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

    def check_mixable(self) -> None:
        """Raise ``ConfigError`` unless this rule can be shared out over a mixture of targets."""
        if self.kind not in MIXABLE or self.stratify is not None:
            raise ConfigError(f"shares of {option('target')} (proportions) share out "
                              f"{', '.join(option(k) for k in MIXABLE)}, "
                              f"not {option(self.kind if self.stratify is None else 'stratify')}",
                              hint="drop the proportions (one merged target), or pick a count or a budget")

    def mix(self, scores: Sequence[np.ndarray], shares: Sequence[float],
            counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The kept indices and each document's target (-1: not kept), for a mixture of targets with these
        shares (``mixture.mix``: the targets take turns, never the same document twice)."""
        self.check_mixable()
        if self.kind in BUDGETS:
            if counts is None:
                raise ValueError(f"a {self.kind} rule needs the documents' counts")
            return mixture.mix(scores, shares, self.value, counts)
        n = len(scores[0]) if scores else 0
        total = int(self.value) if self.kind == "top_k" else int(float(self.value) * n)
        return mixture.mix(scores, shares, total)
