"""Experimental classifier variants for the realistic benchmark (issue 11, items 2 and 3), as run.py specs.

A spec ``exp:NAME,key=value,...`` runs variant NAME; keys that are ``ClassifierConfig`` fields set the config
(run.py fills ``seed`` and ``budget_docs`` as for ``classifier``), the others are the variant's own (below).
Every variant is a :class:`ClassifierSelector` whose ``fit_features`` keeps the library's first fit and drop
share (``budget_share``: 1.5x the budget's share) and changes what comes after; each ends in one linear model
(weights + intercept), so it scores as cheaply as the default. They skip the library's share estimate
(``target_share``: two half-size fits), so their CPU-s is ~0.3-1 s below a like-for-like default's.

- ``ens`` (item 2): the mean of re-fits dropping ``drops`` (``/``-separated multiples of the budget's share,
  default ``0.5/1.5/3``), each with the hard-negative weight, each scaled to unit spread of its scores on the
  pool sample. Less sensitive to the one drop share a task wants.
- ``choose`` (item 3): the one of ``cands`` (``l2``, ``mix``, ``l1c1``, ``l1c10``; default ``l2/mix``) with the
  best 2-fold cross-validated ``metric`` (``pauc``, ``tpr``, ``auc``: ``pu.separation``) between held-out target
  documents and held-out kept negatives. ``folds=alt`` alternates rows (as ``penalty=auto``); ``folds=cluster``
  splits the targets by k-means clusters of their features (``k``, default 8), so the held-out targets are
  unlike the training ones (as the pool's relevant documents are unlike the held-out packages the targets come
  from). ``margin`` (default 0): the challenger must beat the first candidate by this much. ``drops`` as for
  ``ens`` makes each candidate an ensemble.
- ``lor`` (item 3): supervised feature selection: the re-fit sees only the ``k`` buckets (default 20000) with the
  largest smoothed log-odds of document frequency, target vs kept pool sample (``side=pos``: only buckets more
  frequent in the target; ``both``: by absolute value).
- ``soft`` (item 2): the top ``mult`` (default 2) x the budget's share of the sample stays in the re-fit at weight
  ``w`` (default 0.3) instead of being dropped: a hedge between the tasks that want a small drop and a large one.
- ``mixw``: the mix of L2 (C = c) and L1 (C = ``l1c``, default 10) with the L1 part scaled by ``alpha`` (default 1:
  the library's ``penalty=mix``).

``python bench/realistic/variants.py diag`` fits every candidate model on every task and prints (and saves) its
precision@R on the pool beside each fold scheme's cross-validated separation: which label-free figure picks
the model that is best on the pool.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from sievekit.selectors.classifier import MAX_DROP_SHARE, ClassifierSelector, Features, budget_share
from sievekit.selectors.pu import estimate_target_share, hard_negative_weights, pu_keep_mask, separation

CONFIG_FIELDS = {f.name for f in dataclasses.fields(ClassifierSelector.Config)}
Model = tuple[np.ndarray, float]


def split_opts(opts: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str]]:
    """A spec's options as (variant name, ClassifierConfig options, the variant's own)."""
    opts = dict(opts)
    name = opts.pop("variant")
    config = {k: v for k, v in opts.items() if k in CONFIG_FIELDS or k == "budget"}
    return name, config, {k: v for k, v in opts.items() if k not in config}


def _floats(raw: str) -> list[float]:
    return [float(x) for x in raw.split("/") if x]


class Variant(ClassifierSelector):
    """The library's first fit and drop share, then ``refit`` (one linear model)."""

    def __init__(self, config: Any, params: dict[str, str]) -> None:
        super().__init__(config)
        self.params = params

    def fit_features(self, positives: Features, negatives: Features, pool_docs: int | None = None) -> Variant:
        x_pos, x_neg = positives.to_scipy(), negatives.to_scipy()
        w0, b0 = self._logreg(x_pos, x_neg)
        share, self.pu_share_source = budget_share(self.config, pool_docs)
        if share is None:
            share = estimate_target_share(x_pos, x_neg, self._logreg)
        self.pu_share = min(share, MAX_DROP_SHARE)
        # the budget's own share (before the 1.5x multiple): what ``drops`` multiplies
        self.budget_share = self.pu_share / (self.config.pu_budget_multiple
                                             if self.pu_share_source.startswith("budget") else 1.0)
        first = negatives.dot(w0) + b0
        self.weights, self.intercept = self.refit(x_pos, x_neg, first)
        self.target_share = None
        self.fit_stats = {"positives": positives.n_docs, "negatives": negatives.n_docs}
        return self

    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        raise NotImplementedError

    # -- shared pieces ------------------------------------------------------------------------------
    def training_set(self, first: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray | None]:
        """The re-fit's kept negatives (mask) and their weights for a drop of ``share``."""
        keep = pu_keep_mask(first, share)
        return keep, hard_negative_weights(first[keep], share, self.config.hard_negative_weight)

    def fit_model(self, kind: str, x_pos: csr_matrix, x_neg: csr_matrix, weights: np.ndarray | None) -> Model:
        """``l2`` (C = c), ``mix`` (the library's), ``l1cC``/``l2cC`` (that C), ``mixw`` (alpha, l1c params)."""
        if kind == "l2":
            return self._logreg(x_pos, x_neg, "l2", self.config.c, weights)
        if kind == "mix":
            return self._mix(x_pos, x_neg, weights)
        if kind == "mixw":
            return self.mixed(x_pos, x_neg, weights, float(self.params.get("alpha", 1)),
                              float(self.params.get("l1c", 10)))
        penalty, c = kind[:2], float(kind[3:])
        return self._logreg(x_pos, x_neg, penalty, c, weights)

    def mixed(self, x_pos: csr_matrix, x_neg: csr_matrix, weights: np.ndarray | None, alpha: float,
              l1c: float) -> Model:
        total, bias = np.zeros(self.config.buckets), 0.0
        for penalty, c, scale in (("l2", self.config.c, 1.0), ("l1", l1c, alpha)):
            w, b = self._logreg(x_pos, x_neg, penalty, c, weights)
            spread = float(np.std(x_neg @ w)) or 1.0
            total += scale * w / spread
            bias += scale * b / spread
        return total, bias

    def ensemble(self, kind: str, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray,
                 drops: list[float]) -> Model:
        """The mean of models re-fitted at each drop share (multiples of the budget's), each scaled to unit
        spread of its scores on the whole pool sample."""
        total, bias = np.zeros(self.config.buckets), 0.0
        for mult in drops:
            share = min(mult * self.budget_share, MAX_DROP_SHARE)
            keep, weights = self.training_set(first, share)
            w, b = self.fit_model(kind, x_pos, x_neg[keep], weights)
            spread = float(np.std(x_neg @ w)) or 1.0
            total += w / spread
            bias += b / spread
        return total / len(drops), bias / len(drops)

    def model_at(self, kind: str, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        """One candidate as the variant fits it: at the library's drop share, or an ensemble over ``drops``."""
        if "drops" in self.params:
            return self.ensemble(kind, x_pos, x_neg, first, _floats(self.params["drops"]))
        keep, weights = self.training_set(first, self.pu_share)
        return self.fit_model(kind, x_pos, x_neg[keep], weights)


class Ensemble(Variant):
    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        drops = _floats(self.params.get("drops", "0.5/1.5/3"))
        return self.ensemble(self.params.get("kind", "l2"), x_pos, x_neg, first, drops)


def target_folds(x_pos: csr_matrix, scheme: str, k: int, seed: int, svd: str = "full") -> np.ndarray:
    """Each target row's fold (0/1): alternating, or whole k-means clusters dealt to the smaller fold.

    The clusters are k-means' on the rows' top-32 singular directions: ``svd=full`` by scikit-learn's randomized
    TruncatedSVD over all 2**20 columns (what the first screens ran: ~15 CPU-s of dense 2**20 x 42 blocks);
    ``svd=gram`` exactly, from the eigenvectors of the targets' 400 x 400 Gram matrix (milliseconds), with
    k-means on one thread (its OpenMP threads spin on a busy machine)."""
    if scheme == "alt":
        return np.arange(x_pos.shape[0]) % 2
    from sklearn.cluster import KMeans

    dims = min(32, x_pos.shape[0] - 1)
    if svd == "gram":
        from threadpoolctl import threadpool_limits

        values, vectors = np.linalg.eigh((x_pos @ x_pos.T).toarray())
        top = np.argsort(-values, kind="stable")[:dims]
        z = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))  # U S: the rows' SVD coordinates
        z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-12
        with threadpool_limits(1):
            labels = KMeans(k, n_init=4, random_state=seed).fit_predict(z)
    else:
        from sklearn.decomposition import TruncatedSVD

        z = TruncatedSVD(dims, random_state=seed).fit_transform(x_pos)
        z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-12
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(z)
    folds, sizes = np.zeros(len(labels), dtype=np.int64), [0, 0]
    for cluster in np.argsort(-np.bincount(labels, minlength=k), kind="stable"):
        f = int(sizes[1] < sizes[0])
        folds[labels == cluster] = f
        sizes[f] += int((labels == cluster).sum())
    return folds


def cv_separation(sel: Variant, kind: str, x_pos: csr_matrix, x_kept: csr_matrix, weights: np.ndarray | None,
                  pos_fold: np.ndarray, share: float) -> dict[str, float]:
    """``separation`` of held-out targets from held-out kept negatives, each fold's model fitted on the other."""
    neg_fold = np.arange(x_kept.shape[0]) % 2
    pos_s, neg_s = np.empty(x_pos.shape[0]), np.empty(x_kept.shape[0])
    for fold in (0, 1):
        tp, tn = pos_fold != fold, neg_fold != fold
        w, b = sel.fit_model(kind, x_pos[tp], x_kept[tn], None if weights is None else weights[tn])
        pos_s[~tp] = x_pos[~tp] @ w + b
        neg_s[~tn] = x_kept[~tn] @ w + b
    return separation(pos_s, neg_s, share)


class Choose(Variant):
    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        cands = self.params.get("cands", "l2/mix").split("/")
        metric = self.params.get("metric", "pauc")
        margin = float(self.params.get("margin", 0))
        t0 = time.process_time()
        folds = target_folds(x_pos, self.params.get("folds", "alt"), int(self.params.get("k", 8)), self.config.seed,
                             self.params.get("svd", "full"))
        keep, weights = self.training_set(first, self.pu_share)
        figures = {c: cv_separation(self, c, x_pos, x_neg[keep], weights, folds, self.pu_share) for c in cands}
        best = cands[0]
        for c in cands[1:]:
            if figures[c][metric] > figures[best][metric] + (margin if best == cands[0] else 0):
                best = c
        self.fit_info = {"chosen": best, "choice_cpu_s": time.process_time() - t0,
                         **{f"{c}_{m}": round(v, 4) for c, f in figures.items() for m, v in f.items()}}
        return self.model_at(best, x_pos, x_neg, first)


class LogOdds(Variant):
    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        keep, weights = self.training_set(first, self.pu_share)
        x_kept = x_neg[keep]
        cols = top_log_odds(x_pos, x_kept, int(self.params.get("k", 20000)), self.params.get("side", "pos"))
        mask = np.zeros(x_pos.shape[1])
        mask[cols] = 1.0
        restrict = csr_matrix((mask, (np.arange(len(mask)), np.arange(len(mask)))), shape=(len(mask),) * 2)
        return self.fit_model(self.params.get("kind", "l2"), x_pos @ restrict, x_kept @ restrict, weights)


def top_log_odds(x_pos: csr_matrix, x_neg: csr_matrix, k: int, side: str) -> np.ndarray:
    """The ``k`` buckets with the largest smoothed log-odds of document frequency, target vs pool sample."""
    width = x_pos.shape[1]
    df_pos = np.bincount(x_pos.indices, minlength=width).astype(np.float64)
    df_neg = np.bincount(x_neg.indices, minlength=width).astype(np.float64)
    used = np.flatnonzero(df_pos + df_neg)
    p = (df_pos[used] + 0.5) / (x_pos.shape[0] + 1.0)
    q = (df_neg[used] + 0.5) / (x_neg.shape[0] + 1.0)
    lor = np.log(p / (1 - p)) - np.log(q / (1 - q))
    key = lor if side == "pos" else np.abs(lor)
    return used[np.argsort(-key, kind="stable")[:k]]


class SoftDrop(Variant):
    """The re-fit keeps the top share's negatives at weight ``w`` (default 0.3) instead of dropping them; the
    share is ``mult`` (default 2) x the budget's, the hard-negative band below it as in the library."""

    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        share = min(float(self.params.get("mult", 2)) * self.budget_share, MAX_DROP_SHARE)
        keep, kept_weights = self.training_set(first, share)
        weights = np.full(x_neg.shape[0], float(self.params.get("w", 0.3)))
        weights[keep] = 1.0 if kept_weights is None else kept_weights
        return self.fit_model(self.params.get("kind", "l2"), x_pos, x_neg, weights)


class MixWeighted(Variant):
    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        return self.model_at("mixw", x_pos, x_neg, first)


class HardModel(Variant):
    """The library's re-fit plus ``lam`` (default 1) x a second L2 model fitted on the targets against only the
    hard negatives: the kept negatives the re-fit ranks highest, ``mult`` (default 3) x the drop share of the
    sample and at least ``floor`` (default 200). Both models' scores are scaled to unit spread over ``norm``
    (``all``: the pool sample; ``hard``: the hard negatives and the targets), so the sum is one linear model."""

    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        w1, b1 = self.model_at(self.params.get("kind", "l2"), x_pos, x_neg, first)
        keep = pu_keep_mask(first, self.pu_share)
        s1 = np.asarray(x_neg @ w1) + b1
        kept = np.flatnonzero(keep)
        m = max(int(self.params.get("floor", 200)),
                int(float(self.params.get("mult", 3)) * self.pu_share * x_neg.shape[0]))
        hard = kept[np.argsort(-s1[kept], kind="stable")[:m]]
        w2, b2 = self._logreg(x_pos, x_neg[hard], "l2", float(self.params.get("c2", self.config.c)))
        if self.params.get("norm", "all") == "hard":
            ref = [x_pos, x_neg[hard]]
            sd1 = float(np.std(np.concatenate([r @ w1 for r in ref]))) or 1.0
            sd2 = float(np.std(np.concatenate([r @ w2 for r in ref]))) or 1.0
        else:
            sd1, sd2 = float(np.std(s1)) or 1.0, float(np.std(x_neg @ w2)) or 1.0
        lam = float(self.params.get("lam", 1))
        self.fit_info = {"hard_negatives": len(hard)}
        return w1 / sd1 + lam * w2 / sd2, b1 / sd1 + lam * b2 / sd2


class IdfScaled(Variant):
    """The re-fit on columns scaled by ``idf ** p`` (default p = 1), idf from the pool sample's document
    frequencies (``log((N + 1) / (df + 1)) + 1``; labels unused): an L2 penalty that costs a rare n-gram less
    than a common one, so a marker (``async``, ``unsafe``) can carry the model without L1. The scaling folds into
    the weights (``w * idf ** p`` on the unscaled rows), so it scores as the default does."""

    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        n = x_neg.shape[0]
        df = np.bincount(x_neg.indices, minlength=x_neg.shape[1])
        scale = (np.log((n + 1) / (df + 1)) + 1.0) ** float(self.params.get("p", 1))
        if self.params.get("cap"):
            scale = np.minimum(scale, float(self.params["cap"]))
        from scipy.sparse import diags

        d = diags(scale)
        keep, weights = self.training_set(first, self.pu_share)
        w, b = self.fit_model(self.params.get("kind", "l2"), (x_pos @ d).tocsr(), (x_neg[keep] @ d).tocsr(), weights)
        return w * scale, b


class LengthDebiased(Variant):
    """The library's re-fit, scored minus ``frac`` (default 1) x the least-squares slope of its scores on log
    length over the pool sample (labels unused), so that the pool's length no longer moves the ranking. Length
    is ``log(1 + distinct n-grams)`` of a row. Not one linear model: it scores through ``score_features``."""

    def refit(self, x_pos: csr_matrix, x_neg: csr_matrix, first: np.ndarray) -> Model:
        w, b = self.model_at(self.params.get("kind", "l2"), x_pos, x_neg, first)
        s, ln = np.asarray(x_neg @ w) + b, np.log1p(np.diff(x_neg.indptr))
        self.beta = float(self.params.get("frac", 1)) * float(np.cov(s, ln)[0, 1] / (np.var(ln, ddof=1) or 1.0))
        self.fit_info = {"length_slope": self.beta}
        return w, b

    def score_features(self, pool: Features) -> np.ndarray:
        return pool.dot(self.weights) + self.intercept - self.beta * np.log1p(np.diff(pool.indptr))


VARIANTS: dict[str, type[Variant]] = {"ens": Ensemble, "choose": Choose, "lor": LogOdds, "mixw": MixWeighted,
                                      "soft": SoftDrop, "hard": HardModel, "idf": IdfScaled, "len": LengthDebiased}


def build(name: str, config: Any, params: dict[str, str]) -> Variant:
    if name not in VARIANTS:
        raise SystemExit(f"exp: unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    return VARIANTS[name](config, params)


# -- diagnosis: which label-free figure picks the model that is best on the pool ------------------------
def diagnose(args: argparse.Namespace) -> None:
    from metrics import precision_at_r
    from pool import load_benchmark
    from run import build_config

    from sievekit.selectors.classifier import reservoir_sample

    bench = load_benchmark(args.data)
    results = json.loads(args.json.read_text()) if args.json.exists() else []
    done = {(r["task"], r["seed"]) for r in results}
    tasks = args.tasks.split(",") if args.tasks else list(bench.targets)
    cands = args.cands.split("/")
    for seed in [int(s) for s in args.seeds.split(",")]:
        for task in tasks:
            if (task, seed) in done:
                continue
            t0 = time.process_time()
            relevant = bench.relevant(task)
            cfg = build_config(ClassifierSelector, {"budget_docs": str(int(relevant.sum()))}, seed)
            sel = Variant(cfg, {})
            pool = bench.pool_features(sel)
            positives = sel.featurize(bench.targets[task])
            rows, seen = reservoir_sample(range(pool.n_docs), int(np.ceil(10 * positives.n_docs)),
                                          np.random.default_rng(seed))
            negatives = pool.take(rows)
            x_pos, x_neg = positives.to_scipy(), negatives.to_scipy()
            w0, b0 = sel._logreg(x_pos, x_neg)
            sel.pu_share = min(budget_share(cfg, seen)[0] or 0.0, MAX_DROP_SHARE)
            first = negatives.dot(w0) + b0
            keep, weights = sel.training_set(first, sel.pu_share)
            out: dict[str, Any] = {"task": task, "seed": seed}
            schemes = {"alt": target_folds(x_pos, "alt", 0, seed),
                       **{f"cl{k}": target_folds(x_pos, "cluster", k, seed) for k in (2, 8)}}
            for c in cands:
                w, b = sel.fit_model(c, x_pos, x_neg[keep], weights)
                out[f"{c}:p_at_r"] = precision_at_r(pool.dot(w) + b, relevant)
                for name, folds in schemes.items():
                    for m, v in cv_separation(sel, c, x_pos, x_neg[keep], weights, folds, sel.pu_share).items():
                        out[f"{c}:{name}:{m}"] = v
            out["cpu_s"] = time.process_time() - t0
            results.append(out)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}),
                  file=sys.stderr, flush=True)
            args.json.write_text(json.dumps(results, indent=0) + "\n")


def table(args: argparse.Namespace) -> None:
    """Markdown: each method's precision@R per task (mean ± sd over the seeds it ran) and its difference from
    ``--base`` on the same seeds, with the sub-style mean difference and the worst difference."""
    from tasks import SUB_STYLES

    results = [r for path in args.files for r in json.loads(path.read_text())]
    methods = list(dict.fromkeys(r["method"] for r in results))
    tasks = list(dict.fromkeys(r["task"] for r in results))
    p = {(r["method"], r["task"], r["seed"]): r["p_at_r"] for r in results}
    print("| method | " + " | ".join(tasks) + " | mean Δ, sub-styles | worst Δ | max sd | CPU-s |")
    print("|---|" + "---|" * (len(tasks) + 4))
    for m in methods:
        cells, deltas, sds = [], {}, []
        for t in tasks:
            seeds = sorted(s for (mm, tt, s) in p if mm == m and tt == t)
            vals = np.array([p[(m, t, s)] for s in seeds])
            if not len(vals):
                cells.append("–")
                continue
            cell = f"{vals.mean():.3f}" + (f" ± {vals.std():.3f}" if len(vals) > 1 else "")
            sds.append(vals.std())
            base = [p.get((args.base, t, s)) for s in seeds]
            if m != args.base and all(b is not None for b in base):
                deltas[t] = float(vals.mean() - np.mean(base))
                cell += f" ({deltas[t]:+.3f})"
            cells.append(cell)
        subs = [d for t, d in deltas.items() if t in SUB_STYLES]
        cpu = np.mean([r["cpu_s"] for r in results if r["method"] == m])
        print(f"| {m} | " + " | ".join(cells) + f" | {np.mean(subs) if subs else float('nan'):+.3f} | "
              f"{min(deltas.values()) if deltas else float('nan'):+.3f} | {max(sds):.3f} | {cpu:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["diag", "table"])
    ap.add_argument("files", type=Path, nargs="*", help="table: run.py result files")
    ap.add_argument("--base", default="classifier:hard_negative_weight=3", help="table: the method to compare with")
    ap.add_argument("--data", type=Path, default=Path("bench/data/realistic"))
    ap.add_argument("--json", type=Path, default=Path("bench/out/s5-diag.json"))
    ap.add_argument("--tasks", default="")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--cands", default="l2/mix/l1c1")
    args = ap.parse_args()
    diagnose(args) if args.command == "diag" else table(args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
