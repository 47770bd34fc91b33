"""The classifier against every other registered selector, on labeled tasks built from real text on this machine.

Data (nothing is downloaded; written under bench/data/classifier/, which git ignores):
  domains  python (the stdlib and the installed numpy/scipy/sklearn sources), c (/usr/include headers), man
           (troff pages), markup (.rst/.md docs), license (common-licenses and package copyright files),
           pydoc (the Python help topics)
  docs     files cut at line breaks into 300 B..8 KB pieces (log-uniform sizes), at most 3 per file
  hold-out per domain a quarter of the files (grouped by path inside the stdlib/site-packages, or by name) give
           the targets only, so no target's source file is in the pool
  tasks    python, c, man, markup, license, and the sub-style task numpydoc (targets and relevant pool documents:
           Python pieces holding a numpydoc section header such as "Parameters\\n----------")

Measured in one run, per task and method: precision@R (R = relevant documents in the pool), ROC-AUC,
Spearman(score, length in bytes), the standard deviation of precision@R over the seeds (the classifier's
seed draws its negative sample; dsir and length have no seed), fit CPU-seconds (fit as the CLI does it,
from the target list and a stream over the pool), and featurise+score throughput (score_batch over the pool
in batches of 1024; CPU time, so other load on the machine inflates it little).

The classifier's 3 seeds and variants reuse one featurisation of the pool (``Features.take`` of the rows the
seeded reservoir draw picks); for seed 0 the script checks that this gives the very weights ``fit`` gives.

Usage: python bench/classifier_vs_selectors.py [--seeds 0 1 2] [--targets 100] [--rebuild]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import re
import sys
import sysconfig
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

from sievekit.selectors import available, get_selector
from sievekit.selectors.classifier import ClassifierConfig, ClassifierSelector, reservoir_sample

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "classifier"
OUT = ROOT / "bench" / "out" / "classifier_vs_selectors.json"
NUMPYDOC = re.compile(r"^[ \t]*(Parameters|Returns|Yields|Raises|See Also|Notes|Examples|Attributes|"
                      r"Other Parameters|References)[ \t]*\n[ \t]*-{3,}[ \t]*$", re.M)
QUOTA = {"python": 900, "c": 400, "man": 400, "markup": 250, "license": 150, "pydoc": 80}
TASKS = ("python", "c", "man", "markup", "license", "numpydoc")
MAX_READ = 256 * 1024


# -- building the data ------------------------------------------------------------------------------------
def _walk(root: str, suffixes: tuple[str, ...]) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git"))
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(suffixes)]
    return out


def sources() -> dict[str, list[str]]:
    stdlib = sysconfig.get_paths()["stdlib"]
    purelib = sysconfig.get_paths()["purelib"]
    python = [p for p in _walk(stdlib, (".py",)) if "site-packages" not in p]
    for package in ("numpy", "scipy", "sklearn"):
        python += _walk(os.path.join(purelib, package), (".py",))
    markup = _walk("/usr/share/doc", (".md", ".rst")) + _walk(purelib, (".md", ".rst"))
    licenses = sorted(str(p) for p in Path("/usr/share/common-licenses").glob("*"))
    licenses += sorted(str(p) for p in Path("/usr/share/doc").glob("*/copyright"))
    man = sorted(str(p) for d in range(1, 9) for p in Path(f"/usr/share/man/man{d}").glob("*.gz"))
    return {"python": python, "c": _walk("/usr/include", (".h",)), "man": man, "markup": markup,
            "license": licenses, "pydoc": ["pydoc_data"]}


def group_key(path: str) -> str:
    """Files that are copies or versions of one another share a key, so they fall on one side of the split."""
    for marker in ("site-packages/", "python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    name = os.path.basename(path).removesuffix(".gz")
    return path if name == "copyright" else name  # every package's copyright file is its own text


def read(domain: str, path: str) -> list[tuple[str, str]]:
    if domain == "pydoc":
        from pydoc_data.topics import topics

        return [(f"pydoc#{k}", v) for k, v in sorted(topics.items())]
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as fh:
            text = fh.read(MAX_READ).decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return []
    return [] if "\x00" in text or not text.strip() else [(path, text)]


def pieces(text: str, rng: random.Random, lo: int = 300, hi: int = 8000) -> list[str]:
    """Cut at line breaks into pieces of log-uniform size in [lo, hi] bytes (a short remainder is dropped)."""
    out, start = [], 0
    while start < len(text):
        end = text.find("\n", start + int(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
        end = len(text) if end < 0 else end + 1
        if lo <= len(text[start:end].encode("utf-8", "surrogatepass")) <= 1.5 * hi:
            out.append(text[start:end])
        start = end
    return out


def build(seed: int, n_targets: int) -> None:
    rng = random.Random(seed)
    seen: set[bytes] = set()
    pool, held = [], defaultdict(list)
    for domain, paths in sources().items():
        groups: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            for source, text in read(domain, path):
                for piece in pieces(text, rng)[:3]:
                    digest = hashlib.blake2b(piece.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                    if digest not in seen:
                        seen.add(digest)
                        groups[group_key(source)].append(piece)
        keys = sorted(groups)
        rng.shuffle(keys)
        cut = max(1, len(keys) // 4)
        held[domain] = [p for k in keys[:cut] for p in groups[k]]
        docs = [p for k in keys[cut:] for p in groups[k]]
        rng.shuffle(docs)
        pool += [{"text": t, "domain": domain, "numpydoc": bool(domain == "python" and NUMPYDOC.search(t))}
                 for t in docs[: QUOTA[domain]]]
    rng.shuffle(pool)
    DATA.mkdir(parents=True, exist_ok=True)
    _write(DATA / "pool.jsonl", [{"id": f"doc-{i:05d}", **r} for i, r in enumerate(pool)])
    held["numpydoc"] = [t for t in held["python"] if NUMPYDOC.search(t)]
    for task in TASKS:
        docs = held[task][:]
        rng.shuffle(docs)
        _write(DATA / "targets" / f"{task}.jsonl", [{"text": t} for t in docs[:n_targets]])


def _write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- metrics ----------------------------------------------------------------------------------------------
def finite(scores: np.ndarray) -> np.ndarray:
    """-inf (never select) ranks below every real score."""
    low = scores[np.isfinite(scores)].min(initial=0.0) - 1.0
    return np.where(np.isfinite(scores), scores, low)


def metrics(scores: np.ndarray, relevant: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
    s = finite(scores)
    r = int(relevant.sum())
    top = np.argsort(-s, kind="stable")[:r]
    ranks = rankdata(s)
    auc = (ranks[relevant].sum() - r * (r + 1) / 2) / (r * (len(s) - r))
    return {"p_at_r": float(relevant[top].mean()), "auc": float(auc),
            "spearman_len": float(spearmanr(s, lengths).statistic)}


# -- methods ----------------------------------------------------------------------------------------------
def make(name: str, seed: int, **params: object):
    cls = get_selector(name)
    fields = set(cls.Config.__dataclass_fields__)
    if "seed" in fields:
        params.setdefault("seed", seed)
    return cls(cls.Config(**params))


def throughput(selector, texts: list[str], mb: float) -> dict[str, float]:
    selector.score_batch(texts[:1024])  # warm-up: lazily built tables and caches are not the steady rate
    t0 = time.process_time()
    for i in range(0, len(texts), 1024):
        selector.score_batch(texts[i:i + 1024])
    cpu = time.process_time() - t0
    return {"docs_per_cpu_s": len(texts) / cpu, "mb_per_cpu_s": mb / cpu}


def run_generic(name: str, params: dict, target: list[str], texts: list[str], seeds: list[int]) -> dict:
    out: dict = {"scores": [], "fit_cpu_s": None}
    seeded = "seed" in get_selector(name).Config.__dataclass_fields__
    for seed in seeds if seeded else seeds[:1]:
        if len(out["scores"]) == 2 and np.array_equal(out["scores"][0], out["scores"][1]):
            out["scores"].append(out["scores"][0])  # the seed changes nothing here (e.g. zipfit using every target)
            continue
        sel = make(name, seed, **params)
        t0 = time.process_time()
        if sel.needs_target or sel.needs_raw:
            sel.fit(target, iter(texts))
        fit_cpu = time.process_time() - t0
        out["fit_cpu_s"] = out["fit_cpu_s"] or fit_cpu
        out["scores"].append(np.concatenate([sel.score_batch(texts[i:i + 1024]) for i in range(0, len(texts), 1024)]))
        out["selector"] = sel
    return out


def run_classifier(params: dict, target: list[str], texts: list[str], pool_feats, seeds: list[int]) -> dict:
    """Fit as the CLI does for seed 0 (timed); every seed also through the reused pool features, checked equal."""
    out: dict = {"scores": [], "fit_cpu_s": None}
    for seed in seeds:
        sel = ClassifierSelector(ClassifierConfig(seed=seed, **params))
        wanted = math.ceil(sel.config.negatives_ratio * len(target))
        rows, _ = reservoir_sample(range(len(texts)), wanted, np.random.default_rng(seed))
        sel.fit_features(sel.featurize(target), pool_feats.take(rows))
        if seed == seeds[0]:
            ref = ClassifierSelector(ClassifierConfig(seed=seed, **params))
            t0 = time.process_time()
            ref.fit(target, iter(texts))
            out["fit_cpu_s"] = time.process_time() - t0
            assert np.array_equal(ref.weights, sel.weights) and ref.intercept == sel.intercept
            out["selector"], out["fit_stats"] = ref, ref.fit_stats
        out["scores"].append(pool_feats.dot(sel.weights) + sel.intercept)
    return out


# -- the run ----------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--targets", type=int, default=100, help="target documents per task (100)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild bench/data/classifier/")
    ap.add_argument("--throughput-only", nargs=2, metavar=("POOL", "TARGET"),
                    help="instead: featurise+score throughput of every method fitted on TARGET, over POOL")
    ap.add_argument("--pu-sweep", type=float, nargs="*", metavar="F",
                    help="instead: the classifier's precision@R for each --pu-top-fraction F, every task")
    args = ap.parse_args()
    if args.throughput_only:
        print(throughput_only(*args.throughput_only))
        return
    if args.rebuild or not (DATA / "pool.jsonl").exists():
        build(0, args.targets)
    pool = _read(DATA / "pool.jsonl")
    texts = [r["text"] for r in pool]
    lengths = np.array([len(t.encode("utf-8", "surrogatepass")) for t in texts])
    mb = lengths.sum() / 1e6
    domains = np.array([r["domain"] for r in pool])
    print(f"pool: {len(pool)} docs, {mb:.1f} MB; " + ", ".join(f"{d} {int((domains == d).sum())}"
                                                                 for d in sorted(set(domains))), file=sys.stderr)
    if args.pu_sweep:
        print(pu_sweep(args.pu_sweep, pool, texts, domains, lengths, args.seeds))
        return
    methods = method_table()
    feats_by_key: dict = {}
    results: dict = {"pool_docs": len(pool), "pool_mb": mb, "seeds": args.seeds, "tasks": {}, "throughput": {}}
    for task in TASKS:
        target = [r["text"] for r in _read(DATA / "targets" / f"{task}.jsonl")]
        relevant = np.array([r["numpydoc"] for r in pool]) if task == "numpydoc" else domains == task
        results["tasks"][task] = {"targets": len(target), "relevant": int(relevant.sum()), "methods": {}}
        for label, (name, params) in methods.items():
            if name == "classifier" and params.get("pu_top_fraction") == "oracle":
                params = {**params, "pu_top_fraction": float(relevant.mean())}
            if name == "classifier":
                key = (params.get("buckets", 1 << 20), params.get("ngrams", 2), params.get("lowercase", False))
                if key not in feats_by_key:
                    feats_by_key[key] = ClassifierSelector(ClassifierConfig(**params)).featurize(texts)
                run = run_classifier(params, target, texts, feats_by_key[key], args.seeds)
            else:
                run = run_generic(name, params, target, texts, args.seeds)
            per_seed = [metrics(s, relevant, lengths) for s in run["scores"]]
            row = {k: float(np.mean([m[k] for m in per_seed])) for k in per_seed[0]}
            row["p_at_r_std"] = float(np.std([m["p_at_r"] for m in per_seed]))
            row["n_seeds"] = len(per_seed)
            row["fit_cpu_s"] = run["fit_cpu_s"]
            results["tasks"][task]["methods"][label] = row
            if label not in results["throughput"]:
                results["throughput"][label] = throughput(run["selector"], texts, mb)
            print(f"{task:9s} {label:22s} P@R {row['p_at_r']:.3f} ±{row['p_at_r_std']:.3f}  AUC {row['auc']:.3f}  "
                  f"rho(len) {row['spearman_len']:+.2f}  fit {row['fit_cpu_s']:.2f} CPU-s", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(render(results))


def throughput_only(pool_path: str, target_path: str) -> str:
    from sievekit.io import ReadOptions, iter_texts, resolve_inputs

    texts = list(iter_texts(resolve_inputs([pool_path]), ReadOptions()))
    target = list(iter_texts(resolve_inputs([target_path]), ReadOptions()))
    mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    lines = [f"{pool_path}: {len(texts)} docs, {mb:.1f} MB (mean {mb * 1e3 / len(texts):.1f} KB)", "",
             "| method | docs/CPU-s | MB/CPU-s |", "|---|---|---|"]
    for name in available():
        sel = make(name, 0)
        if sel.needs_target or sel.needs_raw:
            sel.fit(target, iter(texts))
        r = throughput(sel, texts, mb)
        lines.append(f"| {name} | {r['docs_per_cpu_s']:,.0f} | {r['mb_per_cpu_s']:.1f} |")
    return "\n".join(lines)


def pu_sweep(fractions: list[float], pool: list[dict], texts: list[str], domains: np.ndarray, lengths: np.ndarray,
             seeds: list[int]) -> str:
    feats = ClassifierSelector().featurize(texts)
    lines = ["| task (R/N) | " + " | ".join(f"pu={f:g}" for f in fractions) + " |",
             "|---" * (len(fractions) + 1) + "|"]
    for task in TASKS:
        target = [r["text"] for r in _read(DATA / "targets" / f"{task}.jsonl")]
        relevant = np.array([r["numpydoc"] for r in pool]) if task == "numpydoc" else domains == task
        cells = []
        for f in fractions:
            run = run_classifier({"pu_top_fraction": f}, target, texts, feats, seeds)
            cells.append(f"{np.mean([metrics(s, relevant, lengths)['p_at_r'] for s in run['scores']]):.3f}")
        lines.append(f"| {task} ({relevant.mean():.2f}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def method_table() -> dict[str, tuple[str, dict]]:
    """Every registered selector with its defaults, plus variants that the comparison needs."""
    table: dict[str, tuple[str, dict]] = {name: (name, {}) for name in available()}
    table["classifier pu=0"] = ("classifier", {"pu_top_fraction": 0.0})
    table["classifier pu=0.05"] = ("classifier", {"pu_top_fraction": 0.05})
    table["classifier pu=R/N"] = ("classifier", {"pu_top_fraction": "oracle"})
    table["classifier lowercase"] = ("classifier", {"lowercase": True})
    if "dsir" in table:
        table["dsir min_length=0"] = ("dsir", {"min_length": 0})
    return table


def render(results: dict) -> str:
    labels = list(next(iter(results["tasks"].values()))["methods"])
    head = "| task (targets / relevant) | " + " | ".join(labels) + " |"
    lines = [f"precision@R (mean ± std over seeds {results['seeds']}), pool {results['pool_docs']} docs", "",
             head, "|" + "---|" * (len(labels) + 1)]
    for task, t in results["tasks"].items():
        cells = [f"{t['methods'][m]['p_at_r']:.3f} ± {t['methods'][m]['p_at_r_std']:.3f}" for m in labels]
        lines.append(f"| {task} ({t['targets']} / {t['relevant']}) | " + " | ".join(cells) + " |")
    for key, title in (("auc", "ROC-AUC"), ("spearman_len", "Spearman(score, length)"), ("fit_cpu_s", "fit CPU-s")):
        lines += ["", title, "", head, "|" + "---|" * (len(labels) + 1)]
        for task, t in results["tasks"].items():
            lines.append(f"| {task} | " + " | ".join(f"{t['methods'][m][key]:.3f}" for m in labels) + " |")
    lines += ["", "featurise+score throughput (score_batch over the pool, CPU time)", "",
              "| method | docs/CPU-s | MB/CPU-s |", "|---|---|---|"]
    for m, r in results["throughput"].items():
        lines.append(f"| {m} | {r['docs_per_cpu_s']:,.0f} | {r['mb_per_cpu_s']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
