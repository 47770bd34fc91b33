"""Does the default keep the threshold's promise? sievekit's verification options (and the reference tools) on the
graded synthetic set (generate.py) and on natural near duplicates (natural.py), at t = 0.7, 0.8, 0.9.

Every run is its own ``python -m sievekit dedupe`` process (one job), timed by CPU seconds and peak RSS (the
machine is shared: trust CPU seconds and same-run ratios). Scores per run:
- recall per true-Jaccard band: the share of labelled pairs with J in the band that end in one cluster
  (synthetic: same-source pairs; natural: every pair found by natural.py's permissive search);
- removal precision: the share of removed documents that share their cluster with a true near duplicate
  (synthetic: a document of the same source; natural: an exact copy, or a document with true Jaccard >= t,
  computed here from the texts when natural.py did not list the pair).

Usage (the figures in bench/neardup/README.md):
    python bench/neardup/compare.py --pool synthetic natural --threshold 0.7 0.8 0.9 \\
        --variant sig exact [--base-code DIR] [--baselines [datasketch] [rensa]]
and on the 134k-document pool (``natural.py --set large``):
    python bench/neardup/compare.py --pool natural-large --threshold 0.8 --variant exact sig --baselines
``--base-code DIR`` adds the previous ``--verify exact`` (shingle sets rebuilt from the inputs and held in memory)
from a checkout of the previous commit (``git archive 8316f3f sievekit | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from run import timed_rss  # noqa: E402
from score import BANDS, load_truth, score  # noqa: E402

POOLS = {"synthetic": ROOT / "bench" / "data" / "neardup-16000", "natural": ROOT / "bench" / "data" / "natural",
         "natural-large": ROOT / "bench" / "data" / "natural-large"}  # natural.py --set large
VARIANTS = {"sig": ["--verify", "sig"], "exact": ["--verify", "exact"], "none": ["--verify", "none"]}
WORD = re.compile(r"\w+")


def clusters_of(path: Path) -> tuple[dict[str, str], set[str]]:
    """``id -> cluster`` of every document in a cluster of two or more, and the removed ids."""
    pred, removed = {}, set()
    for line in path.open(encoding="utf-8"):
        c = json.loads(line)
        pred[c["id"]] = str(c["cluster"])
        if not c["kept"]:
            removed.add(c["id"])
    return pred, removed


def band_recall(pred: dict[str, str], pairs: list[dict]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for lo, hi in BANDS[3:]:
        sel = [p for p in pairs if p["same"] and lo <= p["j"] < hi]
        hit = sum(pred.get(p["a"]) is not None and pred.get(p["a"]) == pred.get(p["b"]) for p in sel)
        out[f"[{lo:.1f},{min(hi, 1.0):.1f}{')' if hi <= 1.0 else ']'}"] = round(hit / len(sel), 4) if sel else None
    return out


def shingles(text: str) -> set[tuple[str, ...]]:
    w = WORD.findall(text.lower())
    return {tuple(w[i:i + 5]) for i in range(len(w) - 4)} if len(w) >= 5 else {tuple(w)}


class NaturalTruth:
    """natural.py's pairs, and the texts to settle any other pair a run put together."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.labels, self.pairs = load_truth(root)
        self.j = {(p["a"], p["b"]): p["j"] for p in self.pairs}
        self.j.update({(p["b"], p["a"]): p["j"] for p in self.pairs})
        self._texts: dict[str, str] | None = None

    def jaccard(self, a: str, b: str) -> float:
        ra, rb = self.labels[a], self.labels[b]  # the first exact copy of each
        if ra == rb:
            return 1.0
        if (ra, rb) in self.j:
            return self.j[(ra, rb)]
        if self._texts is None:
            self._texts = {}
            for shard in sorted((self.root / "pool").glob("*.jsonl")):
                for line in shard.open(encoding="utf-8"):
                    d = json.loads(line)
                    self._texts[d["id"]] = d["text"]
        sa, sb = shingles(self._texts[a]), shingles(self._texts[b])
        j = len(sa & sb) / len(sa | sb)
        self.j[(ra, rb)] = self.j[(rb, ra)] = j
        return j


def removal_precision(pred: dict[str, str], removed: set[str], ok: object) -> float:
    members: dict[str, list[str]] = defaultdict(list)
    for doc, c in pred.items():
        members[c].append(doc)
    good = sum(any(ok(d, m) for m in members[pred[d]][:200] if m != d) for d in removed)  # type: ignore[operator]
    return round(good / len(removed), 5) if removed else 1.0


def run_variant(pool: str, root: Path, t: float, variant: str, out: Path, code: str, base_code: str | None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ)
    flags = VARIANTS[variant if variant != "exact-in-memory" else "exact"]
    env["PYTHONPATH"] = str(base_code) if variant == "exact-in-memory" else code
    cmd = [sys.executable, "-m", "sievekit", "dedupe", str(root / "pool"), "-o", str(out / "kept"), "--clusters",
           str(out / "clusters.jsonl"), "--threshold", str(t), "-q", *flags]
    # from /tmp: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH
    wall, rss, _, cpu = timed_rss(cmd, env=env, cwd="/tmp")
    pred, removed = clusters_of(out / "clusters.jsonl")
    return {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "peak_rss_mb": round(rss), "pred": pred,
            "removed": removed}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--pool", nargs="+", default=["synthetic", "natural"], choices=list(POOLS))
    ap.add_argument("--threshold", type=float, nargs="+", default=[0.7, 0.8, 0.9])
    ap.add_argument("--variant", nargs="*", default=["sig", "exact"])
    ap.add_argument("--code", default=str(ROOT), help="where the sievekit package to measure is (default: here)")
    ap.add_argument("--base-code", help="a checkout of the previous sievekit, for the exact-in-memory variant")
    ap.add_argument("--baselines", nargs="*", choices=["datasketch", "rensa"],
                    help="also these reference tools (baselines.py; no name: both)")
    ap.add_argument("--tag", default="compare", help="results go to bench/out/TAG.json")
    args = ap.parse_args()
    variants = args.variant + (["exact-in-memory"] if args.base_code else [])
    report = []
    for pool in args.pool:
        root = POOLS[pool]
        natural = NaturalTruth(root) if pool.startswith("natural") else None
        labels, pairs = (natural.labels, natural.pairs) if natural else load_truth(root)
        for t in args.threshold:
            tools = {f"sievekit --verify {v}": v for v in variants}
            if args.baselines is not None:
                tools.update({b: b for b in args.baselines or ["datasketch", "rensa"]})
            for name, v in tools.items():
                out = ROOT / "bench" / "out" / "compare" / f"{pool}-{t}-{v}"
                if v in ("datasketch", "rensa"):
                    res = run_baseline(v, root, t, out)
                else:
                    res = run_variant(pool, root, t, v, out, args.code, args.base_code)
                pred, removed = res.pop("pred"), res.pop("removed")
                if natural:
                    prec = removal_precision(pred, removed, lambda a, b, t=t, n=natural: n.jaccard(a, b) >= t)
                else:
                    prec = removal_precision(pred, removed, lambda a, b, lab=labels: lab[a] == lab[b])
                row = {"pool": pool, "threshold": t, "tool": name, **res, "removed": len(removed),
                       "removal_precision": prec, "recall": band_recall(pred, pairs)}
                if not natural:
                    row["pair_precision"] = score(pred, set(), labels, pairs, t)["precision"]
                report.append(row)
                print(json.dumps(row), flush=True)
    (ROOT / "bench" / "out" / f"{args.tag}.json").write_text(json.dumps(report, indent=1))
    print_table(report)


def run_baseline(tool: str, root: Path, t: float, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    pylib = ROOT / "bench" / "out" / "pylib"  # pip install --target bench/out/pylib rensa
    env["PYTHONPATH"] = str(pylib) + os.pathsep + env.get("PYTHONPATH", "")
    pred_file = out / "pred.json"
    wall, rss, _, cpu = timed_rss([sys.executable, str(HERE / "baselines.py"), tool, str(root / "pool"), str(t),
                                   str(pred_file)], env=env)
    p = json.loads(pred_file.read_text())
    kept = set(p["kept"])
    pred = {d: str(c) for d, c in p["clusters"].items()}
    return {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "peak_rss_mb": round(rss), "pred": pred,
            "removed": {d for d in pred if d not in kept}}


def print_table(report: list[dict]) -> None:
    bands = list(report[0]["recall"]) if report else []
    print("\n| pool | t | tool | " + " | ".join(f"recall {b}" for b in bands)
          + " | removal precision | removed | CPU s | peak RSS MB | speed per core vs datasketch (same run) |")
    print("|---|---|---|" + "---|" * (len(bands) + 5))
    base = {(r["pool"], r["threshold"]): r["cpu_s"] for r in report if r["tool"] == "datasketch"}
    for r in report:
        rec = " | ".join("-" if r["recall"][b] is None else f"{r['recall'][b]:.3f}" for b in bands)
        ds = base.get((r["pool"], r["threshold"]))
        ratio = f"{ds / r['cpu_s']:.1f}x" if ds and r["tool"] != "datasketch" else "-"
        print(f"| {r['pool']} | {r['threshold']} | {r['tool']} | {rec} | {r['removal_precision']:.4f} "
              f"| {r['removed']:,} | {r['cpu_s']} | {r['peak_rss_mb']:,} | {ratio} |")


if __name__ == "__main__":
    main()
