"""DSIR: importance weights from hashed n-gram distributions (Xie et al., 2023), faithful to ``data-selection``.

Fit: the target distribution is the normalised bucket-count sum of every target document; the raw one the
same over the pool, read in manifest order until the count passes the budget (the reference's
``num_tokens_to_fit``: ``auto`` = 100,000 x buckets, ``all``, or a number). ``log_diff = log(p_target + 1e-8)
- log(p_raw + 1e-8)``. Score: a document's log importance weight ``log_diff · counts(doc)``, or ``-inf`` when
its length ``(sum(counts) + n(n-1)/2) // n`` is below ``min_length``. Selection is left to
``sievekit.rules.sampling`` (``--sample k``: Gumbel top-k, DSIR's resampling, with a seeded generator).

Where sievekit deliberately differs from the reference: the raw budget is counted over the whole pool in
manifest order (the reference counts per virtual shard, so its raw fit depends on ``num_proc``), and the
Gumbel noise comes from ``np.random.default_rng(seed)`` instead of numpy's unseeded global RNG.
``reference_gumbel_top_k`` reproduces the reference's draw for parity checks.

The raw count in parallel (a ``ShardPool``): each shard is counted by its own task, up to the budget, and the
counts are summed in manifest order; where the budget runs out inside a shard that does not come first, that
shard is counted again up to what is left of the budget. So the raw counts are exactly those of one read in
manifest order, the same for any ``-j`` and executor. Shards are handed out in waves sized by the budget left
(from the n-grams per on-disk byte seen so far), so little is counted past the budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sievekit.errors import ConfigError
from sievekit.io.pool import ShardPool
from sievekit.rules import sampling
from sievekit.selectors.base import Selector, decode_array, encode_array
from sievekit.selectors.kl import SMOOTHING, kl_reduction
from sievekit.selectors.ngrams import MAX_BUCKETS, MAX_ORDER, NgramFeaturizer
from sievekit.selectors.registry import register

FIT_BATCH = 1024
AUTO_FEATURES_PER_BUCKET = 100_000


@dataclasses.dataclass(frozen=True)
class DsirConfig:
    """DSIR's parameters; the defaults are the reference's."""

    buckets: int = dataclasses.field(default=10000, metadata={"help": f"hash buckets, 1..{MAX_BUCKETS} (10000)"})
    ngrams: int = dataclasses.field(
        default=2, metadata={"help": f"highest n-gram order, 1..{MAX_ORDER}; 2 = unigrams + bigrams (2)"})
    min_length: int = dataclasses.field(
        default=100, metadata={"help": "never select documents shorter than this many tokens, >= 0 (100)"})
    raw_budget: str = dataclasses.field(
        default="auto", metadata={"help": "n-grams of the pool to fit on: auto (100000 x buckets), all, or N"})
    hash: Literal["fast", "sha256"] = dataclasses.field(
        default="fast", metadata={"help": "fast (vectorised, process-stable) or sha256 (the reference's buckets)"})

    def __post_init__(self) -> None:
        if not 1 <= self.buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets must be within [1, {MAX_BUCKETS}], got {self.buckets}")
        if not 1 <= self.ngrams <= MAX_ORDER:
            raise ValueError(f"ngrams must be within [1, {MAX_ORDER}], got {self.ngrams}")
        if self.min_length < 0:
            raise ValueError(f"min_length must be >= 0, got {self.min_length}")
        if self.hash not in ("fast", "sha256"):
            raise ValueError(f"hash must be fast or sha256, got {self.hash!r}")
        self.raw_budget_features()

    def raw_budget_features(self) -> int | None:
        """The raw-fit budget as a number of n-gram occurrences; ``None`` means the whole pool."""
        budget = str(self.raw_budget).strip().lower()
        if budget == "auto":
            return AUTO_FEATURES_PER_BUCKET * self.buckets
        if budget == "all":
            return None
        if budget.isdigit() and int(budget) > 0:
            return int(budget)
        raise ValueError(f"raw_budget must be auto, all or a positive integer, got {self.raw_budget!r}")


@register
class DsirSelector(Selector):
    """Scores documents by their DSIR log importance weight toward the target.

    Example:
        >>> sel = DsirSelector(DsirConfig(min_length=1, hash="sha256"))
        >>> _ = sel.fit(["def f(x): return x"], iter(["the cat sat", "def g(y): return y"]))
        >>> w = sel.score_batch(["def h(): return 1", "the dog sat"])
        >>> bool(w[0] > w[1])
        True
    """

    name = "dsir"
    algorithm = "dsir_hashed_v1"
    Config = DsirConfig
    needs_target = True
    needs_raw = True

    def __init__(self, config: DsirConfig | None = None) -> None:
        super().__init__(config)
        cfg: DsirConfig = self.config
        self.featurizer = NgramFeaturizer(buckets=cfg.buckets, order=cfg.ngrams, hash=cfg.hash)
        self.target_counts: npt.NDArray[np.int64] | None = None
        self.raw_counts: npt.NDArray[np.int64] | None = None
        self.fit_docs = {"target": 0, "raw": 0}
        self.log_diff: npt.NDArray[np.float64] | None = None

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> DsirSelector:
        """Count the target's n-grams (all of them) and the pool's (up to the budget); derive ``log_diff``.

        Raises:
            ConfigError: the target or the pool holds no tokens, so a distribution cannot be formed.
        """
        if raw is None:
            raise ConfigError("dsir fits on the pool too, but no pool texts were given")
        target_counts, n_target = self.count(target, None)
        budget = self.config.raw_budget_features()
        if isinstance(raw, ShardPool) and len(raw.shards) > 1:
            raw_counts, n_raw = self.count_pool(raw, budget)
        else:
            raw_counts, n_raw = self.count(raw, budget)
        for side, counts in (("target", target_counts), ("pool", raw_counts)):
            if counts.sum() == 0:
                raise ConfigError(f"the {side} holds no tokens, so dsir cannot estimate its n-gram distribution",
                                  hint="check --text-field and that the documents are not empty")
        self._set_counts(target_counts, raw_counts)
        self.fit_docs = {"target": n_target, "raw": n_raw}
        return self

    def count(self, texts: Iterable[str], budget: int | None) -> tuple[npt.NDArray[np.int64], int]:
        """Summed bucket counts of ``texts`` and how many were used; stops after the document whose
        running count first exceeds ``budget``, as the reference does."""
        total = np.zeros(self.config.buckets, dtype=np.int64)
        seen = used = 0
        it = iter(texts)
        while batch := list(islice(it, FIT_BATCH)):
            feats = self.featurizer.featurize(batch)
            n, lengths = feats.n_docs, feats.lengths()
            if budget is not None:
                over = int(np.searchsorted(seen + np.cumsum(lengths), budget, side="right"))
                n = min(over + 1, feats.n_docs)
            kept = feats.bucket_ids if n == feats.n_docs else feats.bucket_ids[feats.doc_ids < n]
            total += np.bincount(kept, minlength=self.config.buckets)
            seen += int(lengths[:n].sum())
            used += n
            if n < feats.n_docs or (budget is not None and seen > budget):
                break
        return total, used

    def count_pool(self, pool: ShardPool, budget: int | None) -> tuple[npt.NDArray[np.int64], int]:
        """``count`` over the pool's texts in manifest order, one task per shard (see the module's note)."""
        total = np.zeros(self.config.buckets, dtype=np.int64)
        seen = used = 0
        sizes = pool.sizes()
        done_bytes = 0
        k = 0
        while k < len(pool.shards):
            which = _wave(sizes, k, pool.jobs, budget, seen, done_bytes)
            for i, (counts, n_docs) in zip(which, pool.map_texts(count_texts, (self.config, budget), which)):
                features = int(counts.sum())
                if budget is not None and seen + features > budget:  # the budget runs out in this shard
                    if seen:
                        counts, n_docs = self.count(pool.texts(i), budget - seen)
                    return total + counts, used + n_docs
                total += counts
                seen += features
                used += n_docs
                done_bytes += sizes[i]
            k = which[-1] + 1
        return total, used

    def _set_counts(self, target_counts: npt.NDArray[np.int64], raw_counts: npt.NDArray[np.int64]) -> None:
        self.target_counts, self.raw_counts = target_counts, raw_counts
        # The same operations, in the same order, as the reference, so that log_diff matches bit for bit.
        target_probs = target_counts / target_counts.sum()
        raw_probs = raw_counts / raw_counts.sum()
        self.log_diff = np.log(target_probs + SMOOTHING) - np.log(raw_probs + SMOOTHING)

    # -- scoring -----------------------------------------------------------------------------------
    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Log importance weights; ``-inf`` for documents shorter than ``min_length`` tokens."""
        if self.log_diff is None:
            raise ConfigError("dsir must be fitted before scoring", hint="call fit(target, raw) or load a state")
        feats = self.featurizer.featurize(texts)
        weights = feats.dot(self.log_diff)
        weights[self.lengths(feats.lengths()) < self.config.min_length] = -np.inf
        return weights

    def lengths(self, feature_sums: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The reference's token count from a count vector's sum: ``(sum + n(n-1)/2) // n``."""
        n = self.config.ngrams
        return np.asarray((feature_sums + n * (n - 1) // 2) // n, dtype=np.int64)

    def kl_reduction(self, selected: Iterable[str]) -> float:
        """KL reduction of a selection of texts toward the fitted target, relative to the fitted pool."""
        if self.target_counts is None or self.raw_counts is None:
            raise ConfigError("dsir must be fitted before computing a KL reduction")
        counts, _ = self.count(selected, None)
        return kl_reduction(self.target_counts, self.raw_counts, counts)

    # -- state -------------------------------------------------------------------------------------
    def fitted_state(self) -> dict[str, Any]:
        if self.target_counts is None or self.raw_counts is None:
            return {}
        return {"target_counts": encode_array(self.target_counts), "raw_counts": encode_array(self.raw_counts),
                "fit_docs": dict(self.fit_docs), "tokenizer": "wordpunct_lower_regex_classes"}

    def load_fitted_state(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        target, raw = decode_array(state["target_counts"]), decode_array(state["raw_counts"])
        if target.shape != (self.config.buckets,) or raw.shape != (self.config.buckets,):
            raise ConfigError(f"saved dsir counts have shapes {target.shape} and {raw.shape}, "
                              f"not ({self.config.buckets},)", hint="the state file is damaged; re-fit")
        self._set_counts(target.astype(np.int64), raw.astype(np.int64))
        self.fit_docs = dict(state.get("fit_docs", {}))


def count_texts(texts: Iterable[str], config: DsirConfig, budget: int | None) -> tuple[npt.NDArray[np.int64], int]:
    """``DsirSelector.count`` of ``texts`` by a selector of ``config``: one shard's task."""
    return DsirSelector(config).count(texts, budget)


def _wave(sizes: Sequence[int], first: int, jobs: int, budget: int | None, seen: int, done_bytes: int) -> list[int]:
    """The shards to count next, from ``first``: all of them without a budget; else at least ``jobs``, and
    as many more as the budget left is expected to cover (by the n-grams per on-disk byte so far, twice over)."""
    if budget is None:
        return list(range(first, len(sizes)))
    reach = 2 * (budget - seen) * done_bytes / seen if seen else (float("inf") if done_bytes else 0.0)
    which: list[int] = []
    while first + len(which) < len(sizes) and (len(which) < max(jobs, 1) or reach > 0):
        reach -= sizes[first + len(which)]
        which.append(first + len(which))
    return which


def reference_gumbel_top_k(log_weights: npt.ArrayLike, k: int, seed: int) -> npt.NDArray[np.int64]:
    """DSIR resampling exactly as ``data-selection`` 1.0.3 draws it after ``np.random.seed(seed)``.

    The reference draws one Gumbel(0, 1) per eligible (finite-weight) document, in order, from numpy's
    legacy global generator; a private ``RandomState(seed)`` yields the same stream without touching
    global state. For new work prefer ``sampling.gumbel_top_k`` with a seeded ``Generator``.

    Returns:
        The chosen indices into ``log_weights``, sorted.
    """
    weights = np.asarray(log_weights, dtype=np.float64)
    eligible = np.flatnonzero(np.isfinite(weights))
    noise = np.random.RandomState(seed).gumbel(size=len(eligible))
    return np.sort(eligible[sampling.top_k(weights[eligible] + noise, k)])
