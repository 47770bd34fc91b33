"""A discriminative "target vs pool" selector: logistic regression on hashed n-grams, with one PU re-fit.

Generative scores (DSIR, compression) ask how likely a document is under the target's statistics; this
one asks what separates target-like text from the rest of the pool, as DCLM's quality classifier does.

Features: the shared :class:`~sievekit.selectors.ngrams.NgramFeaturizer` (WordPunct tokens ``\\w+|[^\\w\\s]+``,
case kept by default, word unigrams + bigrams, 2**20 buckets, the fast process-stable hash, no sign flip),
then ``1 + log(tf)`` per bucket and L2-normalised rows.

Fit: positives = every target document; negatives = a seeded uniform sample of the pool (reservoir
sampling over the whole stream, ``negatives_ratio`` x the target count). Balanced class weights, L2
logistic regression (``C = c``) by dual coordinate descent: our compiled solver (``logreg.py``, numba) where
numba is installed, else scikit-learn's liblinear, which reach the same optimum. Then one PU-style
re-fit: a sampled negative that scores inside the share of the pool the run selects is probably
target-like, so it is dropped and the model fitted again. The sample is uniform, so the top share of the
sample's scores estimates the pool's: the top ``round(share * n_negatives)`` sampled negatives go.

The share follows the run's budget (:func:`budget_share`): ``pu_budget_multiple`` (1.5) x
``budget_docs`` / pool size for ``select --top-k N`` (``budget_docs = N``), or x ``budget_fraction`` for
``--fraction``; ``select`` fills both, as it fills ``seed``. 1.5 was the multiple closest to the
best fixed share over the nine tasks of ``bench/realistic`` (results.md there). A fixed 10% dropped the
hard negatives (same domain, other style) of a 0.3% target. With no budget (``score``, a threshold
rule) the share is estimated from out-of-fold scores (:func:`estimate_target_share`).
An explicit ``pu_top_fraction`` overrides all of these. After the re-fit the pool's target-like share is
estimated once more (:func:`refit_target_share`) and saved with the score boundary it implies, which
``select -v`` and ``report`` set beside the selection (``selectors.share``).

The re-fit weighs the kept negatives that rank just below the dropped share ``hard_negative_weight`` (3)
times the others: they are the same-domain documents of another style that a sub-style target must be told
apart from (bench/realistic: sub-style mean +0.006, no task below -0.003, over 3 seeds).

``penalty`` picks the model after the re-fit's drop: ``l2`` (the default), ``l1``, ``mix`` (L2 + L1
scaled to equal score spread, one linear model), or ``auto``: L2 or mix, whichever better separates held-out
target documents from held-out kept negatives in a 2-fold cross-validation whose target folds are whole
clusters of the target set (``pu.cluster_folds``, ``pu.cv_separation``), L2 unless mix is clearly better
(``AUTO_MARGIN``). On bench/realistic (3 seeds) ``auto`` lifts the sub-style tasks' mean precision@R by
0.038 (async Python +0.08, Rust unsafe +0.09, numpydoc +0.045) and changes no task by more than -0.001,
but its L1 fits (each several times an L2 fit's cost) make the fit 2-3x as expensive: 3-6 CPU-s more per
run there, which is why it is an option.

Score: the decision function ``w · x + b``. Scoring needs numpy only; scipy (the ``sievekit[classifier]``
extra) is needed to fit, and scikit-learn (the same extra) for ``penalty`` other than ``l2`` or without numba
(the ``fast`` extra). The weights are rounded to float32 when fitted, so a
saved and reloaded state gives bit-identical scores.

Example:
    >>> sel = ClassifierSelector(ClassifierConfig(negatives_ratio=1, pu_top_fraction=0))
    >>> _ = sel.fit(["def f(x): return x", "def g(y): return y"], iter(["the cat sat", "a dog ran"]))
    >>> s = sel.score_batch(["def h(z): return z", "the cow sat"])
    >>> bool(s[0] > 0 > s[1])
    True
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from sievekit.errors import ConfigError, MissingDependencyError, option
from sievekit.io.pool import ShardPool, reservoir_positions
from sievekit.selectors import logreg
from sievekit.selectors.base import Selector, decode_array, encode_array
from sievekit.selectors.features import Features, featurize, tf_scores
from sievekit.selectors.ngrams import MAX_BUCKETS, MAX_ORDER, NgramFeaturizer
from sievekit.selectors.pu import (
    cluster_folds,
    cv_separation,
    estimate_target_share,
    frequent_only,
    hard_negative_weights,
    pu_keep_mask,
    refit_target_share,
    share_boundary,
)
from sievekit.selectors.registry import register

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

T = TypeVar("T")
SAMPLE_CHUNK = 4096
MAX_DROP_SHARE = 0.5  # a budget past half the pool still leaves the re-fit half its negatives
PENALTIES = ("l2", "l1", "auto", "mix")
# penalty=auto takes mix only when its held-out separation beats l2's by more than this: on man pages of one
# section the two tie within 0.001 and mix there loses 0.02 of precision (bench/realistic/results.md).
AUTO_MARGIN = 0.005


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """The classifier's parameters. ``c``, the negative ratio and the features are the defaults the research
    behind this method measured; the re-fit's drop share follows the run's budget (measured on
    ``bench/realistic``: see its results.md)."""

    c: float = dataclasses.field(default=10.0,
                                 metadata={"help": "inverse regularisation strength, > 0 (10)"})
    penalty: str = dataclasses.field(
        default="l2", metadata={"help": "l2 (many weak features: broad domains), l1 (few markers: styles), mix "
                                        "(l2 + l1 at C = 10, each scaled to its score spread), or auto: l2 or "
                                        "mix, whichever better separates held-out target documents (whole "
                                        "clusters of them) from held-out pool samples in a 2-fold "
                                        "cross-validation; best for a style inside a large domain, at 2-3x "
                                        "the fit's CPU (l2)"})
    negatives_ratio: float = dataclasses.field(
        default=10.0, metadata={"help": "pool documents sampled as negatives per target document, > 0 (10)"})
    pu_top_fraction: float | None = dataclasses.field(
        default=None, metadata={"help": "re-fit without the sampled negatives scoring in this top share of the pool, "
                                        "[0, 1); 0 = drop none (with hard_negative_weight 1: no re-fit); none = "
                                        "the run's budget share, or an estimate when there is no budget (none)"})
    budget_docs: int | None = dataclasses.field(
        default=None, metadata={"help": "documents the run selects (select --top-k / --sample fill it): the re-fit "
                                        "drops this share of the pool, budget_docs / pool size (none)"})
    pu_budget_multiple: float = dataclasses.field(
        default=1.5, metadata={"help": "the re-fit drops this multiple of the budget's share, > 0: the first fit "
                                       "learnt the target-like negatives as negatives, so some rank below the top "
                                       "share (1.5)"})
    budget_fraction: float | None = dataclasses.field(
        default=None, metadata={"help": "share of the pool the run selects, (0, 1] (select --fraction fills it): "
                                        "the re-fit drops this share (none)"})
    hard_negative_weight: float = dataclasses.field(
        default=3.0, metadata={"help": "re-fit weight, >= 1, of the sampled negatives ranked just below the dropped "
                                       "share (the next 3x that share, at least 1% of the sample): same-domain "
                                       "documents of another style, which a sub-style must be told apart from; "
                                       "1 = every negative alike (3)"})
    bags: int = dataclasses.field(
        default=1, metadata={"help": "fit this many models after the re-fit's drop, each on the target and one of "
                                     "as many disjoint parts of the negative sample, and average them; raise "
                                     "negatives_ratio by the same factor to keep each model's negatives (1)"})
    min_df: int = dataclasses.field(
        default=1, metadata={"help": "fit only on the buckets that at least this many training documents (target "
                                     "and pool sample) hold, >= 1 (1)"})
    buckets: int = dataclasses.field(default=MAX_BUCKETS, metadata={"help": f"hash buckets, 1..{MAX_BUCKETS} "
                                                                            f"({MAX_BUCKETS})"})
    ngrams: int = dataclasses.field(
        default=2, metadata={"help": f"highest n-gram order, 1..{MAX_ORDER}; 2 = unigrams + bigrams (2)"})
    lowercase: bool = dataclasses.field(default=False, metadata={"help": "lowercase before tokenising (false)"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the negative sample (the run's --seed)"})

    def __post_init__(self) -> None:
        if not (math.isfinite(self.c) and self.c > 0):
            raise ValueError(f"c must be a finite number > 0, got {self.c}")
        if not (math.isfinite(self.hard_negative_weight) and self.hard_negative_weight >= 1):
            raise ValueError(f"hard_negative_weight must be a finite number >= 1, got {self.hard_negative_weight}")
        if not (math.isfinite(self.pu_budget_multiple) and self.pu_budget_multiple > 0):
            raise ValueError(f"pu_budget_multiple must be a finite number > 0, got {self.pu_budget_multiple}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}, got {self.penalty!r}")
        if not (math.isfinite(self.negatives_ratio) and self.negatives_ratio > 0):
            raise ValueError(f"negatives_ratio must be a finite number > 0, got {self.negatives_ratio}")
        if self.pu_top_fraction is not None and not 0 <= self.pu_top_fraction < 1:
            raise ValueError(f"pu_top_fraction must be within [0, 1) or none, got {self.pu_top_fraction}")
        if self.budget_docs is not None and self.budget_docs < 0:
            raise ValueError(f"budget_docs must be >= 0 or none, got {self.budget_docs}")
        if self.budget_fraction is not None and not 0 <= self.budget_fraction <= 1:
            raise ValueError(f"budget_fraction must be within [0, 1] or none, got {self.budget_fraction}")
        if self.min_df < 1:
            raise ValueError(f"min_df must be >= 1, got {self.min_df}")
        if self.bags < 1:
            raise ValueError(f"bags must be >= 1, got {self.bags}")
        if not 1 <= self.buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets must be within [1, {MAX_BUCKETS}], got {self.buckets}")
        if not 1 <= self.ngrams <= MAX_ORDER:
            raise ValueError(f"ngrams must be within [1, {MAX_ORDER}], got {self.ngrams}")


def reservoir_sample(items: Iterable[T], n: int, rng: np.random.Generator) -> tuple[list[T], int]:
    """A uniform sample of ``n`` items (all of them if fewer) from a stream of unknown length, in stream order.

    Reservoir sampling (Vitter's algorithm R), with the random draws made by numpy a chunk at a time: item
    ``t`` (0-based) past the first ``n`` replaces slot ``j ~ U{0..t}`` when ``j < n``. The whole stream is
    read; memory holds the ``n`` sampled items and one chunk.

    Returns:
        The sample and the number of items read.
    """
    sample: list[T] = []
    where: list[int] = []  # the stream position of each sampled item
    seen = 0
    it = iter(items)
    while chunk := list(islice(it, SAMPLE_CHUNK)):
        fill = min(n - len(sample), len(chunk))
        sample.extend(chunk[:fill])
        where.extend(range(seen, seen + fill))
        if fill < len(chunk):
            t = np.arange(seen + fill, seen + len(chunk), dtype=np.int64)
            slots = rng.integers(0, t + 1)
            for k in np.flatnonzero(slots < n).tolist():
                sample[slots[k]] = chunk[fill + k]
                where[slots[k]] = int(t[k])
        seen += len(chunk)
    order = np.argsort(np.asarray(where, dtype=np.int64), kind="stable")
    return [sample[i] for i in order.tolist()], seen


def budget_share(config: ClassifierConfig, pool_docs: int | None) -> tuple[float | None, str]:
    """The share of the pool the re-fit drops, and what set it; ``None`` when only an estimate can.

    An explicit ``pu_top_fraction`` wins; then the run's budget: ``budget_docs`` over the pool size
    (``select --top-k/--sample``), or ``budget_fraction`` (``select --fraction``).

    Example:
        >>> budget_share(ClassifierConfig(budget_docs=50), 10_000)
        (0.005, 'budget_docs')
    """
    if config.pu_top_fraction is not None:
        return config.pu_top_fraction, "pu_top_fraction"
    if config.budget_docs is not None and pool_docs:
        return min(config.pu_budget_multiple * config.budget_docs / pool_docs, 1.0), "budget_docs"
    if config.budget_fraction is not None:
        return min(config.pu_budget_multiple * config.budget_fraction, 1.0), "budget_fraction"
    return None, "estimate"


@register
class ClassifierSelector(Selector):
    """Scores documents by a logistic regression's decision function, target (positive) vs pool sample."""

    name = "classifier"
    algorithm = "classifier_logreg_v1"
    Config = ClassifierConfig
    needs_target = True
    needs_raw = True

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__(config)
        cfg: ClassifierConfig = self.config
        self.featurizer = NgramFeaturizer(buckets=cfg.buckets, order=cfg.ngrams, lowercase=cfg.lowercase)
        self.weights: npt.NDArray[np.float64] | None = None
        self._weights32: tuple[npt.NDArray[np.float64], npt.NDArray[np.floating]] | None = None
        self.intercept = 0.0
        self.fit_stats: dict[str, int] = {}
        self.pu_dropped = np.empty(0, dtype=np.int64)  # rows of the last fit's negatives left out of the re-fit
        self.pu_share = 0.0  # the share of the pool the re-fit dropped
        self.model: dict[str, Any] = {"penalty": self.config.penalty, "c": self.config.c}  # the model fitted
        self.fit_info: dict[str, Any] = {}  # penalty=auto: each candidate's cross-validated separation
        self.pu_share_source = ""  # what set it: pu_top_fraction, budget_docs, budget_fraction or estimate
        # The label-free estimate of the pool's target-like share, and the final model's score above which
        # that share of the pool sample lies; None when not known (a state saved before they were recorded).
        self.target_share: float | None = None
        self.share_boundary: float | None = None

    def featurize(self, texts: Iterable[str]) -> Features:
        """The model's features of ``texts`` (reusable across fits, e.g. of several targets on one pool)."""
        return featurize(self.featurizer, texts)

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> ClassifierSelector:
        """Sample the negatives from the whole pool, featurise both sides, fit, re-fit.

        The sample is reservoir sampling's over the pool stream; over a ``ShardPool`` the same positions are
        drawn from its row counts, and only those documents are fetched and parsed.

        Raises:
            ConfigError: no target documents or no pool documents.
            MissingDependencyError: scikit-learn (the ``classifier`` extra) is not installed.
        """
        if raw is None:
            raise ConfigError("classifier samples its negatives from the pool, but no pool texts were given")
        imports = _FitImports(self.config.penalty)  # loads while the sample is read (at -j 2+ this process waits)
        texts = list(target)
        # Over a pool of shards, both sides are featurised where they are read (in workers, when the run has
        # them), so this process needs neither the sample's texts nor the featurizer's kernels.
        pool = raw if isinstance(raw, ShardPool) and raw.positional else None
        positives = pool.call(featurize, self.featurizer, texts) if pool is not None else self.featurize(texts)
        if positives.n_docs == 0:
            raise ConfigError("the target set holds no documents", hint="pass a non-empty --target")
        wanted = max(1, int(math.ceil(self.config.negatives_ratio * positives.n_docs)))
        rng = np.random.default_rng(self.config.seed)
        if pool is not None:
            seen = pool.rows
            negatives = Features.concat(list(pool.fetch_map(reservoir_positions(seen, wanted, rng, SAMPLE_CHUNK),
                                                           _featurize_read, (self.featurizer,))),
                                        self.featurizer.buckets)
        else:
            sample, seen = reservoir_sample(raw, wanted, rng)
            negatives = self.featurize(sample)
        if negatives.n_docs == 0:
            raise ConfigError("the pool holds no documents to sample negatives from")
        imports.wait()
        self.fit_features(positives, negatives, pool_docs=seen)
        self.fit_stats["pool_docs_read"] = seen
        return self

    def fit_features(self, positives: Features, negatives: Features, pool_docs: int | None = None
                     ) -> ClassifierSelector:
        """Fit on featurised positives and negatives, then re-fit without the negatives in the top share.

        Args:
            positives: the target documents' features.
            negatives: the pool sample's features.
            pool_docs: documents in the whole pool (turns ``budget_docs`` into a share of it).
        """
        x_pos, x_neg = positives.to_scipy(), negatives.to_scipy()
        if self.config.min_df > 1:
            x_pos, x_neg = frequent_only(x_pos, x_neg, self.config.min_df)
            if x_pos.nnz == 0 or x_neg.nnz == 0:
                docs = x_pos.shape[0] + x_neg.shape[0]
                raise ConfigError(f"{option('min_df')} {self.config.min_df} leaves the target or the pool sample "
                                  f"without a feature: no n-gram is in that many of their {docs:,} documents",
                                  hint=f"lower {option('min_df')}")
        self.weights, self.intercept = self._logreg(x_pos, x_neg)
        share, self.pu_share_source = budget_share(self.config, pool_docs)
        if share is None:
            share = estimate_target_share(x_pos, x_neg, self._logreg)
        self.pu_share = min(share, MAX_DROP_SHARE)
        first = negatives.dot(self.weights) + self.intercept
        keep = pu_keep_mask(first, self.pu_share)
        x_kept = x_neg[keep]
        penalty, c = self.config.penalty, self.config.c
        weights = hard_negative_weights(first[keep], self.pu_share, self.config.hard_negative_weight)
        if penalty == "auto":
            penalty = self._choose_model(x_pos, x_kept, weights)
        if self.config.bags > int(keep.sum()):
            raise ConfigError(f"{option('bags')} {self.config.bags} needs at least as many sampled negatives, but "
                              f"the re-fit keeps {int(keep.sum()):,} of the pool sample",
                              hint=f"lower {option('bags')}, or raise {option('negatives_ratio')}")
        if self.config.bags > 1:
            self.weights, self.intercept = self._bagged(x_pos, x_kept, penalty, c, weights)
        elif penalty == "mix":
            self.weights, self.intercept = self._mix(x_pos, x_kept, weights)
        elif not keep.all() or (penalty, c) != ("l2", self.config.c) or weights is not None:
            self.weights, self.intercept = self._logreg(x_pos, x_kept, penalty, c, weights)
        self.model = {"penalty": penalty, "c": c}
        # The dropped negatives are scored by the final model (none of them trained it); a mix's sum of scaled
        # scores has no balanced boundary at 0, so for it an L2 model is fitted on the kept negatives.
        self.target_share = refit_target_share(x_pos, x_neg, keep, self._logreg,
                                               None if penalty == "mix" else (self.weights, self.intercept))
        self.share_boundary = share_boundary(negatives.dot(self.weights) + self.intercept, self.target_share)
        self.pu_dropped = np.flatnonzero(~keep)
        self.fit_stats = {"positives": positives.n_docs, "negatives": negatives.n_docs,
                          "pu_dropped": len(self.pu_dropped)}
        return self

    def _bagged(self, x_pos: csr_matrix, x_neg: csr_matrix, penalty: str, c: float,
                weights: npt.NDArray[np.float64] | None) -> tuple[npt.NDArray[np.float64], float]:
        """The mean of ``bags`` models, each fitted on the positives and one of ``bags`` disjoint parts of the
        negatives (rows dealt in turn): one linear model, as cheap to score as one, with less of the
        sample's noise than a model of one part."""
        total, bias = np.zeros(self.config.buckets), 0.0
        part = np.arange(x_neg.shape[0]) % self.config.bags
        for k in range(self.config.bags):
            rows = part == k
            sub_weights = None if weights is None else weights[rows]
            if penalty == "mix":
                w, b = self._mix(x_pos, x_neg[rows], sub_weights)
            else:
                w, b = self._logreg(x_pos, x_neg[rows], penalty, c, sub_weights)
            total += w
            bias += b
        n = self.config.bags
        return (total / n).astype(np.float32).astype(np.float64), float(np.float32(bias / n))

    def _mix(self, x_pos: csr_matrix, x_neg: csr_matrix, weights: npt.NDArray[np.float64] | None
             ) -> tuple[npt.NDArray[np.float64], float]:
        """The sum of the L2 (C = c) and L1 (C = 10) models, each scaled to unit spread of its scores on the
        training negatives: one linear model that weighs both as a rank average would."""
        total, bias = np.zeros(self.config.buckets), 0.0
        for penalty, c in (("l2", self.config.c), ("l1", 10.0)):
            w, b = self._logreg(x_pos, x_neg, penalty, c, weights)
            spread = float(np.std(x_neg @ w)) or 1.0
            total += w / spread
            bias += b / spread
        return total.astype(np.float32).astype(np.float64), float(np.float32(bias))

    def _choose_model(self, x_pos: csr_matrix, x_neg: csr_matrix, weights: npt.NDArray[np.float64] | None) -> str:
        """``penalty=auto``: mix if its cross-validated separation of held-out target documents (whole clusters of
        them) from held-out kept negatives beats l2's by more than ``AUTO_MARGIN``, else l2."""
        folds = cluster_folds(x_pos, self.config.seed)
        fits = {"l2": lambda p, n, w: self._logreg(p, n, "l2", self.config.c, w), "mix": self._mix}
        self.fit_info = {name: cv_separation(fit, x_pos, x_neg, weights, folds, self.pu_share)
                         for name, fit in fits.items()}
        gain = self.fit_info["mix"]["score"] - self.fit_info["l2"]["score"]
        return "mix" if gain > AUTO_MARGIN else "l2"

    def _logreg(self, x_pos: csr_matrix, x_neg: csr_matrix, penalty: str = "l2", c: float | None = None,
                negative_weights: npt.NDArray[np.float64] | None = None) -> tuple[npt.NDArray[np.float64], float]:
        """Weights (float32-rounded, one per bucket) and intercept of a balanced logistic regression: L2 by our
        compiled dual solver (``logreg.py``, the same optimum as liblinear's) when numba is there, else, and for
        L1, by scikit-learn's liblinear."""
        n_pos = x_pos.shape[0]
        positive = np.arange(n_pos + x_neg.shape[0]) < n_pos
        sample_weight = None if negative_weights is None else np.concatenate([np.ones(n_pos), negative_weights])
        c = self.config.c if c is None else c
        # Past float64's range (a C or sample weight near 1e300) the costs and weights overflow: checked below,
        # as one error instead of numpy's warnings and inf or NaN scores.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if penalty == "l2" and logreg.kernel() is not None:
                weights, intercept = logreg.fit_l2(*_stacked(x_pos, x_neg), self.config.buckets, positive, c,
                                                   sample_weight, seed=self.config.seed)
            else:
                weights, intercept = _liblinear(x_pos, x_neg, positive, penalty, c, sample_weight,
                                                self.config.seed)
        largest = float(np.finfo(np.float32).max)
        if not (abs(intercept) <= largest and bool((np.abs(weights) <= largest).all())):  # False for NaN too
            raise ConfigError(f"the classifier's fit overflowed ({option('c')} {c:g}, "
                              f"{option('hard_negative_weight')} {self.config.hard_negative_weight:g}): its weights "
                              "are not finite",
                              hint=f"lower {option('c')} or {option('hard_negative_weight')}")
        # Rounded to float32 once here, so a saved (float32) state scores exactly as the fitted model.
        return weights.astype(np.float32).astype(np.float64), float(np.float32(intercept))

    # -- scoring -----------------------------------------------------------------------------------
    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """The decision function ``w · x + b`` of every text (> 0: more target-like than pool-like)."""
        return tf_scores(self.featurizer, texts, self._scoring_weights()) + self.intercept

    def _require_weights(self) -> npt.NDArray[np.float64]:
        if self.weights is None:
            raise ConfigError("classifier must be fitted before scoring",
                              hint="call fit(target, raw), pass --target, or load a state with --state")
        return self.weights

    def _scoring_weights(self) -> npt.NDArray[np.floating]:
        """The weights as float32 when that holds them exactly (they are fitted so): half the memory to read
        at random while scoring, and the same products."""
        weights = self._require_weights()
        if self._weights32 is None or self._weights32[0] is not weights:
            narrow = weights.astype(np.float32)
            self._weights32 = weights, narrow if np.array_equal(narrow, weights) else weights
        return self._weights32[1]

    # -- state -------------------------------------------------------------------------------------
    def fitted_state(self) -> dict[str, Any]:
        if self.weights is None:
            return {}
        # Buckets no training document touched keep a zero weight: store the others only.
        nonzero = np.flatnonzero(self.weights).astype(np.int32)
        return {"weight_index": encode_array(nonzero), "weight_value": encode_array(
                    self.weights[nonzero].astype(np.float32)),
                "intercept": self.intercept, "fit_stats": dict(self.fit_stats),
                "pu_share": self.pu_share, "pu_share_source": self.pu_share_source, "model": dict(self.model),
                "target_share": self.target_share, "share_boundary": self.share_boundary,
                "features": "wordpunct_regex_classes+fast_hash+1_plus_log_tf+l2"}

    def load_fitted_state(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        index, value = decode_array(state["weight_index"]), decode_array(state["weight_value"])
        if index.shape != value.shape or (len(index) and not 0 <= int(index.min()) <= int(index.max())
                                          < self.config.buckets):
            raise ConfigError(f"saved classifier weights do not fit {self.config.buckets} buckets",
                              hint="the state file is damaged; re-fit")
        weights = np.zeros(self.config.buckets, dtype=np.float64)
        weights[index.astype(np.int64)] = value.astype(np.float64)
        self.weights = weights
        self.intercept = float(state["intercept"])
        self.fit_stats = dict(state.get("fit_stats", {}))
        self.pu_share = float(state.get("pu_share", 0.0))
        self.pu_share_source = str(state.get("pu_share_source", ""))
        self.model = dict(state.get("model", self.model))
        self.target_share, self.share_boundary = _optional_float(state, "target_share"), _optional_float(
            state, "share_boundary")


def _optional_float(state: Mapping[str, Any], key: str) -> float | None:
    value = state.get(key)
    return None if value is None else float(value)


def _stacked(top: csr_matrix, bottom: csr_matrix) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                               npt.NDArray[np.float64]]:
    """The CSR arrays (indptr, indices, values) of ``top``'s rows, then ``bottom``'s."""
    top_nnz, bottom_nnz = int(top.indptr[-1]), int(bottom.indptr[-1])
    indptr = np.concatenate([top.indptr, bottom.indptr[1:].astype(np.int64) + top_nnz]).astype(np.int64, copy=False)
    return (indptr, np.concatenate([top.indices[:top_nnz], bottom.indices[:bottom_nnz]]).astype(np.int64, copy=False),
            np.concatenate([top.data[:top_nnz], bottom.data[:bottom_nnz]]).astype(np.float64, copy=False))


def _liblinear(x_pos: csr_matrix, x_neg: csr_matrix, positive: npt.NDArray[np.bool_], penalty: str, c: float,
               sample_weight: npt.NDArray[np.float64] | None, seed: int) -> tuple[npt.NDArray[np.float64], float]:
    """Weights (one per bucket) and intercept of scikit-learn's balanced liblinear logistic regression."""
    _require_sklearn()
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    indptr, indices, values = _stacked(x_pos, x_neg)
    # A bucket no training row touches gets weight 0 under L2, so fit on the used columns only:
    # liblinear's cost per iteration grows with the width, and 2**20 columns are mostly empty.
    used, local = logreg.touched_columns(indices, x_pos.shape[1])
    x = csr_matrix((values, local, indptr), shape=(len(indptr) - 1, len(used)))
    # L2: the dual solver; with far fewer documents than columns it reaches the same optimum (weights
    # within 1e-4 relative) 6-8x faster than the primal one. L1 has only the primal form in liblinear.
    model = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", dual=penalty == "l2",
                               max_iter=logreg.MAX_ITER, random_state=seed,
                               **_penalty_args(LogisticRegression, penalty))
    model.fit(x, positive.astype(np.int64), sample_weight=sample_weight)
    weights = np.zeros(x_pos.shape[1], dtype=np.float64)
    weights[used] = model.coef_[0]
    return weights, float(model.intercept_[0])


def _penalty_args(model: Any, penalty: str) -> dict[str, Any]:
    """``penalty`` as this scikit-learn spells it: ``l1_ratio`` from 1.8 on (``penalty`` is deprecated there)."""
    import inspect

    if inspect.signature(model).parameters["penalty"].default == "deprecated":
        return {"l1_ratio": 1.0 if penalty == "l1" else 0.0}
    return {"penalty": penalty}


def _require_sklearn() -> None:
    try:
        import scipy.sparse  # noqa: F401
        import sklearn.linear_model  # noqa: F401
    except ImportError:
        raise MissingDependencyError("scikit-learn", "classifier", "the classifier method") from None


def _require_scipy() -> None:
    try:
        import scipy.sparse  # noqa: F401
    except ImportError:
        raise MissingDependencyError("scipy", "classifier", "the classifier method") from None


def _featurize_read(texts: Sequence[str | None], featurizer: NgramFeaturizer) -> Features:
    """The features of a shard's drawn rows (a ``ShardPool.fetch_map`` task); None, a skipped bad record, is left
    out."""
    return featurize(featurizer, (t for t in texts if t is not None))


class _FitImports:
    """What a fit needs, imported in a thread from the start of the fit so that it overlaps the sampling's reads:
    scipy and our compiled L2 solver (numba: ~0.5 CPU-s) for ``penalty=l2``, or scipy and scikit-learn (~1.5-2
    CPU-s) for the other penalties and wherever the solver is off (``SIEVEKIT_JIT=0``, no numba). A missing
    package is reported at once; ``wait`` joins and raises what the import raised (and if the solver failed to
    load after all, needs scikit-learn there instead)."""

    def __init__(self, penalty: str) -> None:
        self.sklearn = penalty != "l2" or not logreg.available()
        names = ("scipy", "sklearn") if self.sklearn else ("scipy",)
        if any(importlib.util.find_spec(name) is None for name in names):
            self._require()  # raises MissingDependencyError
        self._failed = False
        self._thread = threading.Thread(target=self._load, name="sievekit-fit-import", daemon=True)
        self._thread.start()

    def _require(self) -> None:
        if self.sklearn:
            _require_sklearn()
            return
        _require_scipy()
        if logreg.kernel() is None:  # numba found but not loadable: the fit falls back to liblinear
            _require_sklearn()

    def _load(self) -> None:
        try:
            self._require()
        except Exception:  # noqa: BLE001 - raised again in the caller's thread by ``wait``
            self._failed = True

    JOIN_SLICE = 0.1  # seconds: how late a stop is acted on while the imports run

    def wait(self) -> None:
        # Joined in slices: a join without a timeout sleeps in C until the thread ends. The kernel may hand the
        # run's SIGTERM (or Ctrl-C) to another thread of the process (one not blocking it, whenever this one does,
        # e.g. around CPython's vfork), and its handler then runs here only when this thread next runs Python
        # code: after the import, or never if the import is stuck. Between slices the handler runs, its
        # SystemExit leaves the wait, and the stopping run never waits for the import (a daemon thread).
        while self._thread.is_alive():
            self._thread.join(self.JOIN_SLICE)
        if self._failed:
            self._require()  # a failed import is not cached: it fails again here, in the caller's thread
