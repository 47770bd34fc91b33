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

One featurisation per document: when the pool's tasks run on this machine (``ShardPool.local``), each task
featurises its whole shard once, counts it for the raw fit and keeps every document's hashed n-grams in a
local array log: each n-gram's bucket (16-bit up to 65,536 buckets) and each document's token count, from which
``HashedBatch`` knows which n-grams are whose (about 0.9 bytes per character of text; at most ``SPILL_LIMIT``
bytes in all). Once ``log_diff`` is known, those shards are scored from their logs (``HashedBatch.dot``, no
tokenising), and the
scoring pass takes the scores from ``fit_scores`` instead of featurising the shards again; a recount where
the budget ends reads the log too. The scores are bit-identical to ``score_batch``'s: a document's weight
sums its own n-grams in the same order whatever the batches. Shards no task reached (past the budget) are
featurised by the scoring pass as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from itertools import islice
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sievekit.errors import ConfigError, ShardError
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches
from sievekit.io.arraylog import read_log, write_log
from sievekit.io.pool import ShardPool
from sievekit.io.spool import scratch_dir
from sievekit.rules import sampling
from sievekit.selectors.base import Selector, decode_array, encode_array
from sievekit.selectors.hashed_batch import HashedBatch, compact_dtype
from sievekit.selectors.kl import SMOOTHING, kl_reduction
from sievekit.selectors.ngrams import MAX_BUCKETS, MAX_ORDER, NgramFeaturizer
from sievekit.selectors.registry import register

FIT_BATCH = 1024
AUTO_FEATURES_PER_BUCKET = 100_000
# The pool's features kept on disk for scoring (see the module's note): past this many bytes, the shards of
# later waves are only counted, and featurised again by the scoring pass.
SPILL_LIMIT = 8 << 30
Weights = npt.NDArray[np.float64]


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
        # Shard index -> (its path, scores, reader's counters): shards the fit featurised and scored.
        self._fit_scores: dict[int, tuple[str, Weights, ShardStats]] = {}

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> DsirSelector:
        """Count the target's n-grams (all of them) and the pool's (up to the budget); derive ``log_diff``.

        Raises:
            ConfigError: the target or the pool holds no tokens, so a distribution cannot be formed.
        """
        if raw is None:
            raise ConfigError("dsir fits on the pool too, but no pool texts were given")
        # Over a pool of shards the target is counted as one task of the run (in a worker, when it has them),
        # so this process loads neither the featurizer's kernels nor the texts' n-grams.
        target_counts, n_target = raw.call(count_target, self.config, list(target)) \
            if isinstance(raw, ShardPool) else self.count(target, None)
        budget = self.config.raw_budget_features()
        self._fit_scores = {}
        if isinstance(raw, ShardPool) and raw.local and raw.positional:
            with ExitStack() as stack:
                try:
                    spill: str | None = stack.enter_context(scratch_dir("sievekit-dsir-"))
                except ShardError:  # no temporary folder: count only, and featurise again to score
                    spill = None
                raw_counts, n_raw, kept = self.count_pool(raw, budget, spill)
                self._set_fitted(target_counts, raw_counts, n_target, n_raw)
                self._fit_scores = self._score_logs(raw, kept)
            return self
        if isinstance(raw, ShardPool) and len(raw.shards) > 1:
            raw_counts, n_raw, _ = self.count_pool(raw, budget)
        else:
            raw_counts, n_raw = self.count(raw, budget)
        self._set_fitted(target_counts, raw_counts, n_target, n_raw)
        return self

    def _set_fitted(self, target_counts: npt.NDArray[np.int64], raw_counts: npt.NDArray[np.int64], n_target: int,
                    n_raw: int) -> None:
        for side, counts in (("target", target_counts), ("pool", raw_counts)):
            if counts.sum() == 0:
                raise ConfigError(f"the {side} holds no tokens, so dsir cannot estimate its n-gram distribution",
                                  hint="check --text-field and that the documents are not empty")
        self._set_counts(target_counts, raw_counts)
        self.fit_docs = {"target": n_target, "raw": n_raw}

    def fit_scores(self, shard: Shard) -> tuple[Weights, ShardStats] | None:
        """The scores of ``shard``'s documents and its reader's counters, made by the fit from the features it
        kept (see the module's note), or None: the shard must be scored by reading it."""
        found = self._fit_scores.get(shard.index)
        return found[1:] if found is not None and found[0] == shard.path else None

    def count(self, texts: Iterable[str], budget: int | None) -> tuple[npt.NDArray[np.int64], int]:
        """Summed bucket counts of ``texts`` and how many were used; stops after the document whose
        running count first exceeds ``budget``, as the reference does."""
        it = iter(texts)
        batches = iter(lambda: list(islice(it, FIT_BATCH)), [])
        return self.count_features((self.featurizer.featurize(b, compact=True) for b in batches), budget)

    def count_features(self, batches: Iterable[HashedBatch], budget: int | None) -> tuple[npt.NDArray[np.int64], int]:
        """``count`` of documents already featurised (the budget stops it after the same document)."""
        counter = _Counter(self.config.buckets, budget)
        for feats in batches:
            if not counter.add(feats):
                break
        return counter.total, counter.used

    def count_pool(self, pool: ShardPool, budget: int | None,
                   spill: str | None = None) -> tuple[npt.NDArray[np.int64], int, dict[int, ShardFeatures]]:
        """``count`` over the pool's texts in manifest order, one task per shard (see the module's note); with
        a ``spill`` directory, each task also keeps its shard's features there (up to ``SPILL_LIMIT`` bytes
        in all), returned by shard index."""
        total = np.zeros(self.config.buckets, dtype=np.int64)
        seen = used = 0
        sizes = pool.sizes()
        done_bytes = spilled = 0
        kept: dict[int, ShardFeatures] = {}
        exhausted = False
        k = 0
        while k < len(pool.shards) and not exhausted:
            which = _wave(sizes, k, pool.jobs, budget, seen, done_bytes)
            where = spill if spill is not None and spilled < SPILL_LIMIT else None
            for i, found in zip(which, pool.map_shards(count_shard, (self.config, budget, where), which)):
                if found.log is not None:
                    kept[i] = found
                    spilled += found.log_bytes
                if exhausted:  # the rest of the wave only kept its features, for the scoring pass
                    continue
                counts, n_docs = found.counts, found.docs
                features = int(counts.sum())
                if budget is not None and seen + features > budget:  # the budget runs out in this shard
                    if seen:
                        counts, n_docs = self.count_features(read_features(found.log, self.config.buckets),
                                                             budget - seen) if found.log is not None \
                            else self.count(pool.texts(i), budget - seen)
                    total, used, exhausted = total + counts, used + n_docs, True
                    continue
                total += counts
                seen += features
                used += n_docs
                done_bytes += sizes[i]
            k = which[-1] + 1
        return total, used, kept

    def _score_logs(self, pool: ShardPool, kept: Mapping[int, ShardFeatures]) -> dict[int, tuple[str, Weights,
                                                                                                 ShardStats]]:
        """Score every shard whose features the fit kept, from its log, one task each."""
        assert self.log_diff is not None
        order = sorted(kept)
        calls = [(kept[i].log, self.config, self.log_diff) for i in order]
        return {pool.shards[i].index: (pool.shards[i].path, scores, kept[i].stats)
                for i, scores in zip(order, pool.mapper(score_log, calls))}

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
        return _weights(self.featurizer.featurize(texts, compact=True), self.log_diff, self.config)

    def lengths(self, feature_sums: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The reference's token count from a count vector's sum: ``(sum + n(n-1)/2) // n``."""
        return _token_lengths(feature_sums, self.config.ngrams)

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


def _token_lengths(feature_sums: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    return np.asarray((feature_sums + n * (n - 1) // 2) // n, dtype=np.int64)


def _weights(feats: HashedBatch, log_diff: Weights, config: DsirConfig) -> Weights:
    """Log importance weights of featurised documents; ``-inf`` below ``min_length`` tokens."""
    weights = feats.dot(log_diff)
    weights[_token_lengths(feats.lengths(), config.ngrams) < config.min_length] = -np.inf
    return weights


class _Counter:
    """The raw count's running sums: bucket counts, documents used, n-grams seen, up to a budget."""

    def __init__(self, buckets: int, budget: int | None) -> None:
        self.total = np.zeros(buckets, dtype=np.int64)
        self.budget, self.seen, self.used = budget, 0, 0

    def add(self, feats: HashedBatch) -> bool:
        """Count a batch, up to the document whose running count first exceeds the budget; False from then on."""
        if self.budget is not None and self.seen > self.budget:
            return False
        n, lengths = feats.n_docs, feats.lengths()
        if self.budget is not None:
            over = int(np.searchsorted(self.seen + np.cumsum(lengths), self.budget, side="right"))
            n = min(over + 1, feats.n_docs)
        (feats if n == feats.n_docs else feats.head(n)).totals(out=self.total)
        self.seen += int(lengths[:n].sum())
        self.used += n
        return n == feats.n_docs and not (self.budget is not None and self.seen > self.budget)


@dataclasses.dataclass(frozen=True)
class ShardFeatures:
    """One shard's raw count (up to the budget) and, if kept, the array log of its documents' features."""

    counts: npt.NDArray[np.int64]
    docs: int
    stats: ShardStats
    log: str | None = None
    log_bytes: int = 0


def count_target(config: DsirConfig, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], int]:
    """The target's task: ``DsirSelector.count`` of every target text (no budget)."""
    return DsirSelector(config).count(texts, None)


def count_shard(shard: Shard, opts: ReadOptions, config: DsirConfig, budget: int | None,
                spill: str | None) -> ShardFeatures:
    """One shard's task: its raw count up to ``budget``; with a ``spill`` directory, every document of the
    shard is featurised (past the budget too) and kept in an array log there, for scoring without a second
    featurisation. The reader's counters come back for the scoring pass (it may not read the shard)."""
    featurizer = NgramFeaturizer(buckets=config.buckets, order=config.ngrams, hash=config.hash)
    counter = _Counter(config.buckets, budget)
    stats = ShardStats()
    texts = (b.texts for b in iter_batches(shard, opts, stats, all_columns=False))
    if spill is None:
        it = (t for batch in texts for t in batch)
        for batch in iter(lambda: list(islice(it, FIT_BATCH)), []):
            if not counter.add(featurizer.featurize(batch, compact=True)):
                break
        return ShardFeatures(counter.total, counter.used, stats)
    path = fs.join(spill, f"{shard.index}.features")
    counting = keeping = True
    read = False
    try:
        with write_log(path) as log:
            for batch in texts:
                feats = featurizer.featurize(batch, compact=True)
                counting = counting and counter.add(feats)
                if keeping:
                    try:
                        log.append(_encode(feats, config.buckets))
                    except OSError:  # a full or failing disk: count on, keep nothing (scored by reading again)
                        keeping = False
            read = True
            if not keeping:
                raise _NotKept
    except _NotKept:
        return ShardFeatures(counter.total, counter.used, stats)
    except ShardError:
        if not read:
            raise
        return ShardFeatures(counter.total, counter.used, stats)  # the log could not be completed
    return ShardFeatures(counter.total, counter.used, stats, path, log.nbytes)


class _NotKept(Exception):
    """A shard's features could not all be written: its log is dropped (``write_log`` removes it)."""


def _encode(feats: HashedBatch, buckets: int) -> list[npt.NDArray[Any]]:
    """A batch's features as a log record: ``[n_docs, order]``, its chunks, each document's token count (the
    layout: ``HashedBatch``) and the buckets (16-bit where they fit)."""
    return [np.array([feats.n_docs, feats.order], dtype=np.int64), feats.chunks, feats.n_tokens,
            feats.bucket_ids.astype(compact_dtype(buckets), copy=False)]


def read_features(path: str, buckets: int) -> Iterator[HashedBatch]:
    """The featurised batches an array log holds, as ``count_shard`` wrote them."""
    for head, chunks, n_tokens, bucket_ids in read_log(path):
        yield HashedBatch(bucket_ids, n_tokens, int(head[1]), buckets, chunks)


def score_log(path: str, config: DsirConfig, log_diff: Weights) -> Weights:
    """One kept shard's scores from its array log (a task)."""
    parts = [_weights(feats, log_diff, config) for feats in read_features(path, config.buckets)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


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
