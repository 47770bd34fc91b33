"""Label-free estimates of a task's share of the pool, against the truth (seed 0).

``above 0``: the share of the pool sample that 2-fold out-of-fold scores put above the balanced decision
boundary (``classifier.estimate_target_share``; the re-fit's drop when there is no budget). The others are the
estimate the classifier records for ``select -v`` and ``report`` (``pu.refit_target_share``): the same count
after the re-fit has dropped its share (each sampled document scored by a model that did not train on it),
with no budget (the drop is the first estimate) and with a ``--top-k`` budget of 0.3x, 1x, 3x and 10x the
task's true relevant count (the drop is 1.5x the budget's share, at most half the sample).

An earlier version of this script also tried 2x the share above the positives' median, the share above the
positives' 10th percentile / 0.9, in-sample scores and iterating the first estimate: all erred low (results.md).

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
    MAX_DROP_SHARE,
    ClassifierConfig,
    ClassifierSelector,
    reservoir_sample,  # noqa: E402
)
from sievekit.selectors.pu import cross_fitted_scores, pu_keep_mask, refit_target_share  # noqa: E402

BUDGETS = (0.3, 1.0, 3.0, 10.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("bench/data/realistic"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    bench = load_benchmark(args.data)
    print("| task | true share | above 0 | after the re-fit, no budget | "
          + " | ".join(f"budget {b:g}x" for b in BUDGETS) + " |")
    print("|---|---|---|---|" + "---|" * len(BUDGETS))
    for task, target in bench.targets.items():
        sel = ClassifierSelector(ClassifierConfig(seed=args.seed))
        pool = bench.pool_features(sel)
        pos = sel.featurize(target)
        rows, _ = reservoir_sample(range(pool.n_docs), 10 * pos.n_docs, np.random.default_rng(args.seed))
        x_pos, x_neg = pos.to_scipy(), pool.take(rows).to_scipy()
        _, held_out = cross_fitted_scores(x_pos, x_neg, sel._logreg)
        w, b = sel._logreg(x_pos, x_neg)
        first = x_neg @ w + b
        true, above = float(bench.relevant(task).mean()), float(np.mean(held_out > 0))
        drops = [above] + [min(1.5 * m * true, MAX_DROP_SHARE) for m in BUDGETS]
        after = [refit_target_share(x_pos, x_neg, pu_keep_mask(first, d), sel._logreg) for d in drops]
        print(f"| {task} | {true:.4f} | {above:.4f} | " + " | ".join(f"{e:.4f}" for e in after) + " |", flush=True)


if __name__ == "__main__":
    main()
