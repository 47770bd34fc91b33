"""Run every target-aware selection method on every task of the realistic benchmark; report quality and CPU.

Methods are called through the library (``get_selector(name)``, its ``Config``, ``fit(target, raw)``,
``score_batch``) in this process on texts held in memory. A method spec is a registry name with options,
``classifier:penalty=l1,c=1``. The classifier runs as ``select --top-k R`` would run it: its ``budget_docs``
is R (the task's relevant count) unless the spec sets ``pu_top_fraction`` or ``budget=none`` (what ``score``
does). For speed the classifier featurises the pool once and fits on the rows ``fit`` would sample
(``reservoir_sample`` over the pool with the run's seed), which is the same model ``fit`` builds.

Per task, method and seed: precision@R (R = the relevant pool documents), ROC-AUC, Spearman(score, length in
bytes), CPU-s of fit + scoring the whole pool (the classifier's one-off pool featurisation is reported apart).
Methods without a ``seed`` option run once. ``zipfit`` compares every document with every target, which
takes hours on this pool: it runs on a seeded uniform subsample of ``--zipfit-docs`` documents, and the
report gives every method's precision@R on that same subsample beside it.

Results accumulate in ``--json`` (a run skips what it holds); ``--report FILE`` writes the Markdown tables.

Usage:
  python bench/realistic/run.py --data bench/data/realistic --json bench/out/realistic.json
  python bench/realistic/run.py --methods "classifier classifier:pu_top_fraction=0.01,c=3" --tasks py-async
  python bench/realistic/run.py --json bench/out/realistic.json --also more.json --report bench/realistic/results.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
import typing
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import precision_at_r, roc_auc, spearman  # noqa: E402
from pool import Benchmark, load_benchmark  # noqa: E402

from sievekit.selectors import available, get_selector  # noqa: E402
from sievekit.selectors.classifier import ClassifierSelector, reservoir_sample  # noqa: E402

BATCH = 2048
SWEEP = " ".join(f"classifier:pu_top_fraction={f}" for f in (0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2))
VARIANTS = ("classifier:budget=none classifier:penalty=auto classifier:penalty=l1,c=10 classifier:penalty=l1,c=1 "
            "classifier:hard_negative_weight=1 classifier:hard_negative_weight=3,penalty=mix "
            "classifier:negatives_ratio=30,bags=3 classifier:min_df=10 classifier:ngrams=3")


def default_methods() -> str:
    """Every registered target-aware method, then the classifier's drop-share sweep and variants."""
    return " ".join([n for n in available() if getattr(get_selector(n), "needs_target", False)] + [SWEEP, VARIANTS])


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    name, _, rest = spec.partition(":")
    # exp:NAME,key=value: NAME (no "=") is the experimental variant (variants.py)
    opts = dict(kv.split("=", 1) if "=" in kv else ("variant", kv) for kv in rest.split(",") if kv)
    return name, opts


def _convert(raw: str, tp: Any) -> Any:
    if raw.lower() == "none":
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    for conv in args:
        if conv is bool:
            return raw.lower() in ("1", "true", "yes")
        try:
            return conv(raw) if conv in (int, float) else raw
        except (TypeError, ValueError):
            continue
    return raw


def build_config(cls: Any, opts: dict[str, str], seed: int) -> Any:
    hints = typing.get_type_hints(cls.Config)
    values = {key: _convert(raw, hints[key]) for key, raw in opts.items()}
    if "seed" in hints and "seed" not in values:
        values["seed"] = seed
    return cls.Config(**values)


def seeded(name: str, opts: dict[str, str]) -> bool:
    if name == "exp":
        return True
    fields = {f.name for f in dataclasses.fields(get_selector(name).Config)}
    return "seed" in fields and not (name == "zipfit" and int(opts.get("target_sample", 0)) == 0)


def run_classifier(bench: Benchmark, task: str, opts: dict[str, str], seed: int,
                   make: Any = ClassifierSelector) -> tuple[np.ndarray, float, dict]:
    opts = dict(opts)
    no_budget = opts.pop("budget", "") == "none"
    if not no_budget and "pu_top_fraction" not in opts:
        opts["budget_docs"] = str(int(bench.relevant(task).sum()))
    sel = make(build_config(ClassifierSelector, opts, seed))
    pool = bench.pool_features(sel)  # once per feature setting; its CPU is reported apart
    t0 = time.process_time()
    positives = sel.featurize(bench.targets[task])
    wanted = max(1, int(np.ceil(sel.config.negatives_ratio * positives.n_docs)))
    rows, seen = reservoir_sample(range(pool.n_docs), wanted, np.random.default_rng(sel.config.seed))
    sel.fit_features(positives, pool.take(rows), pool_docs=seen)
    scores = sel.score_features(pool) if hasattr(sel, "score_features") else pool.dot(sel.weights) + sel.intercept
    extra = {"pu_share": sel.pu_share, "pu_share_source": sel.pu_share_source, "target_share": sel.target_share,
             **sel.fit_stats,
             "pool_featurize_cpu_s": sum(bench.featurize_cpu_s.values())}
    extra.update(getattr(sel, "fit_info", {}))
    return scores, time.process_time() - t0, extra


def run_generic(bench: Benchmark, task: str, name: str, opts: dict[str, str], seed: int,
                rows: np.ndarray) -> tuple[np.ndarray, float, dict]:
    cls = get_selector(name)
    t0 = time.process_time()
    sel = cls(build_config(cls, opts, seed))
    texts = [bench.texts[i] for i in rows.tolist()]
    sel.fit(bench.targets[task], iter(texts) if cls.needs_raw else None)
    scores = np.concatenate([sel.score_batch(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)])
    return scores, time.process_time() - t0, {}


def evaluate(scores: np.ndarray, relevant: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
    return {"p_at_r": precision_at_r(scores, relevant), "auc": roc_auc(scores, relevant),
            "spearman_len": spearman(scores, lengths)}


def run_one(bench: Benchmark, task: str, spec: str, seed: int, sub: np.ndarray) -> dict[str, Any]:
    name, opts = parse_spec(spec)
    if name == "classifier":
        scores, cpu, extra = run_classifier(bench, task, opts, seed)
        rows = np.arange(len(bench.texts))
    elif name == "exp":  # an experimental classifier variant (variants.py)
        import variants

        variant, config, params = variants.split_opts(opts)
        scores, cpu, extra = run_classifier(bench, task, config, seed,
                                            lambda cfg: variants.build(variant, cfg, params))
        rows = np.arange(len(bench.texts))
    else:
        rows = sub if name == "zipfit" else np.arange(len(bench.texts))
        scores, cpu, extra = run_generic(bench, task, name, opts, seed, rows)
    relevant, lengths = bench.relevant(task), bench.lengths
    full = np.full(len(bench.texts), np.nan)
    full[rows] = scores
    out: dict[str, Any] = {"task": task, "method": spec, "seed": seed, "cpu_s": cpu, "docs": len(rows), **extra}
    if len(rows) == len(bench.texts):
        out.update(evaluate(scores, relevant, lengths))
    out["sub_p_at_r"] = precision_at_r(full[sub], relevant[sub])
    out["sub_auc"] = roc_auc(full[sub], relevant[sub])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("bench/data/realistic"))
    ap.add_argument("--json", type=Path, default=Path("bench/out/realistic.json"))
    ap.add_argument("--methods", default="", help="specs separated by spaces or semicolons (default: every "
                    "registered target-aware method, the classifier's drop-share sweep and its variants)")
    ap.add_argument("--tasks", default="")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--zipfit-docs", type=int, default=2000)
    ap.add_argument("--near", type=float, default=0.0,
                    help="run a fixed pu_top_fraction only on tasks whose share is at least 1/NEAR of it (0: all)")
    ap.add_argument("--report", type=Path, help="write the Markdown report from --json (and --also) and exit")
    ap.add_argument("--also", type=Path, nargs="*", default=[], help="more result files for --report")
    ap.add_argument("--screened", type=Path, nargs="*", default=[],
                    help="result files of one-seed screens for --report (a table of differences from the default)")
    ap.add_argument("--header", type=Path, help="Markdown to put above --report's tables (the text of results.md)")
    args = ap.parse_args()
    if args.report:
        from report import write_report

        results = [r for path in [args.json, *args.also] for r in json.loads(path.read_text())]
        screened = [r for path in args.screened for r in json.loads(path.read_text())]
        # --header FILE: its text above the tables (the report's own file keeps what it said before its tables)
        header = args.header.read_text().split("\n## Pool and tasks")[0] if args.header else ""
        write_report(results, args.data, args.report, header, screened)
        return
    bench = load_benchmark(args.data)
    tasks = args.tasks.split(",") if args.tasks else list(bench.targets)
    sub = np.sort(np.random.default_rng(12345).choice(len(bench.texts), args.zipfit_docs, replace=False))
    results = json.loads(args.json.read_text()) if args.json.exists() else []
    done = {(r["task"], r["method"], r["seed"]) for r in results}
    for spec in re.split(r"[;\s]+", (args.methods or default_methods()).strip()):
        name, opts = parse_spec(spec)
        if name not in available() and name != "exp":
            print(f"skip {spec}: not registered", file=sys.stderr)
            continue
        for task in tasks:
            fixed = float(opts.get("pu_top_fraction", 0))
            if args.near and fixed > args.near * bench.relevant(task).mean():
                continue
            for seed in [int(s) for s in args.seeds.split(",")] if seeded(name, opts) else [0]:
                if (task, spec, seed) in done:
                    continue
                r = run_one(bench, task, spec, seed, sub)
                results.append(r)
                print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}),
                      file=sys.stderr, flush=True)
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(results, indent=0) + "\n")


if __name__ == "__main__":
    main()
