"""The report's KL section: how far a selection moved toward its target, in DSIR's measure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sievekit.io import ReadOptions, iter_texts, resolve_inputs


def kl_section(target: Sequence[str], pool: Sequence[str], selected: Sequence[str], opts: ReadOptions,
               buckets: int = 10000) -> dict[str, Any]:
    """DSIR's KL reduction, KL(target || pool) - KL(target || selected), over hashed uni- and bigrams (fast
    hash, ``buckets`` buckets). Positive: the selection moved toward the target."""
    from sievekit.selectors.kl import hashed_counts, kl_divergence
    from sievekit.selectors.ngrams import NgramFeaturizer

    featurizer = NgramFeaturizer(buckets=buckets, order=2, hash="fast")
    counts = {side: hashed_counts(iter_texts(resolve_inputs(list(specs)), opts), featurizer)
              for side, specs in (("target", target), ("pool", pool), ("selection", selected))}
    empty = [side for side, c in counts.items() if not c.sum()]  # KL against it, or of it, is not defined
    before, after = (None if {"target", side} & set(empty) else round(kl_divergence(counts["target"], counts[side]), 6)
                     for side in ("pool", "selection"))
    out: dict[str, Any] = {"kl_target_pool": before, "kl_target_selected": after,
                           "kl_reduction": None if before is None or after is None else round(before - after, 6),
                           "buckets": buckets, "pool": list(pool)}
    if empty:
        out["unavailable"] = f"no n-grams in the {' or the '.join(empty)} (no documents, or only blank texts)"
    return out
