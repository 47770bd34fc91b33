"""Label-free estimates of a task's share of the pool (for the classifier's re-fit when there is no budget).

For each task: the true relevant share, and estimates from 2-fold out-of-fold scores of the positives (the
target) and of the pool sample (the negatives): above the positives' median (x2), above the positives' 10th
percentile (/0.9), above 0 (the balanced decision boundary).

Usage: python bench/realistic/estimate_share.py [--data bench/data/realistic] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pool import load_benchmark  # noqa: E402

from sievekit.selectors.classifier import (  # noqa: E402
    ClassifierConfig,
    ClassifierSelector,
    cross_fitted_scores,
    pu_keep_mask,
    reservoir_sample,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("bench/data/realistic"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    bench = load_benchmark(args.data)
    print("| task | true share | 2 x above pos. median | above pos. p10 / 0.9 | above 0 | in-sample above 0 | "
          "above 0, iterated (1, 2, 3) | above 0 after the budget's re-fit (1.5 x true share) |")
    print("|---|---|---|---|---|---|---|---|")
    for task, target in bench.targets.items():
        sel = ClassifierSelector(ClassifierConfig(seed=args.seed))
        pool = bench.pool_features(sel)
        pos = sel.featurize(target)
        rows, _ = reservoir_sample(range(pool.n_docs), 10 * pos.n_docs, np.random.default_rng(args.seed))
        x_pos, x_neg = pos.to_scipy(), pool.take(rows).to_scipy()
        p, n = cross_fitted_scores(x_pos, x_neg, sel._logreg)
        w, b = sel._logreg(x_pos, x_neg)
        inside = x_neg @ w + b
        est = (2 * np.mean(n > np.median(p)), np.mean(n > np.quantile(p, 0.1)) / 0.9, np.mean(n > 0),
               np.mean(inside > 0))
        iterated, share, keep = [], float(np.mean(n > 0)), np.ones(x_neg.shape[0], dtype=bool)
        for _ in range(3):
            keep = pu_keep_mask(inside, share)
            _, n_kept = cross_fitted_scores(x_pos, x_neg[keep], sel._logreg)
            share = float(np.mean(~keep) + np.mean(keep) * np.mean(n_kept > 0))
            iterated.append(share)
        after = after_budget_refit(sel, x_pos, x_neg, inside, 1.5 * bench.relevant(task).mean())
        print(f"| {task} | {bench.relevant(task).mean():.4f} | " + " | ".join(f"{e:.4f}" for e in est)
              + " | " + ", ".join(f"{e:.4f}" for e in iterated) + f" | {after:.4f} |", flush=True)


def after_budget_refit(sel, x_pos, x_neg, first, drop_share: float) -> float:
    """The share above 0 after the budget's re-fit: the kept negatives scored out of fold by re-fitted models,
    the dropped ones by the model re-fitted on every kept negative (none of them trained on)."""
    keep = pu_keep_mask(first, drop_share)
    _, kept_scores = cross_fitted_scores(x_pos, x_neg[keep], sel._logreg)
    w, b = sel._logreg(x_pos, x_neg[keep])
    dropped_scores = x_neg[~keep] @ w + b
    return float((np.sum(kept_scores > 0) + np.sum(dropped_scores > 0)) / x_neg.shape[0])


if __name__ == "__main__":
    main()
