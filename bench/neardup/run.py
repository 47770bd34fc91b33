"""Run sievekit, datasketch and rensa on the same generated benchmark, in the same run, and print the figures.

For each pool size (generated first if missing) and threshold:
- sievekit end to end in a worker process (timed after imports, like the baselines): the default (--verify
  exact) with -j 1 and -j 2, checking that both write byte-identical outputs, and --verify sig;
- each sievekit stage as its own ``python -m sievekit dedupe --stage`` process: wall time and peak RSS;
- datasketch and rensa through bench/neardup/baselines.py in their own processes;
- quality of every tool (and of an exact-Jaccard oracle) by bench/neardup/score.py.

Usage (from the repo root, in the bench venv that has rensa and datasketch, see bench/requirements-dedupe.txt):
    python bench/neardup/run.py --docs 4000 16000 --threshold 0.8 0.7
Writes bench/out/neardup.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from score import load_truth, oracle, score  # noqa: E402

STAGES = ("sign", "bucket", "cluster", "filter")


# Started by a small process: a child's ru_maxrss counts the memory of the process it was forked (or vforked)
# from at exec, so a benchmark that has loaded a pool's texts would lend its own peak to every tool it runs
# after (compare.py did: 1.3 GB "peaks" for runs that never exceeded 0.22 GB).
_LAUNCH = """
import os, subprocess, sys, json
cmd, cwd = json.loads(sys.argv[1]), sys.argv[2] or None
proc = subprocess.Popen(cmd, cwd=cwd)
_, status, usage = os.wait4(proc.pid, 0)
sys.stderr.write(json.dumps([status, usage.ru_maxrss, usage.ru_utime + usage.ru_stime]) + chr(10))
"""


def timed_rss(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None
              ) -> tuple[float, float, str, float]:
    """Run a process; return wall seconds, peak RSS (MB), stdout, and CPU seconds (with reaped workers).

    The process is started by a fresh, small Python process (see ``_LAUNCH``), which reports its rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, json.dumps(cmd), cwd or ""], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    lines = err.rstrip("\n").split("\n")
    status, maxrss, cpu = json.loads(lines[-1]) if proc.returncode == 0 and lines[-1].startswith("[") else (1, 0, 0)
    if status:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, maxrss / 1024, out, cpu


def sievekit_worker(pool: str, out: str, threshold: float, jobs: int, verify: str) -> None:
    """In-process timing of one end-to-end run (imports done first, as for the baselines)."""
    import sievekit
    from sievekit.duplicates import DedupeConfig

    t = time.perf_counter()
    res = sievekit.dedupe([pool], out, config=DedupeConfig(threshold=threshold, verify=verify),
                          run=sievekit.RunOptions(jobs=jobs))
    print(json.dumps({"total": time.perf_counter() - t, "kept": res.rows_out}))


def predictions_sievekit(out: Path) -> tuple[dict[str, str], set[str]]:
    pred, kept = {}, set()
    for line in (out / "clusters.jsonl").open(encoding="utf-8"):
        c = json.loads(line)
        pred[c["id"]] = str(c["cluster"])
    for shard in sorted(out.glob("part-*.jsonl")):
        for line in shard.open(encoding="utf-8"):
            kept.add(json.loads(line)["id"])
    return pred, kept


def run_size(n: int, thresholds: list[float], py: str, report: dict) -> None:
    data = ROOT / "bench" / "data" / f"neardup-{n}"
    if not (data / "truth.jsonl").exists():
        subprocess.run([py, str(HERE / "generate.py"), "--docs", str(n)], check=True)
    pool = data / "pool"
    mb = sum(p.stat().st_size for p in pool.glob("*.jsonl")) / 1e6
    labels, pairs = load_truth(data)
    docs = len(labels)
    work = ROOT / "bench" / "out" / f"neardup-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for t in thresholds:
        key = f"{n}@{t}"
        entry: dict = {"docs": docs, "mb": round(mb, 2), "threshold": t, "tools": {}}
        # per-stage processes: wall time (including ~interpreter start) and peak RSS
        wd, out = work / f"w-{t}", work / f"out-{t}"
        stages = {}
        for stage in STAGES:
            wall, rss, _, _ = timed_rss([py, "-m", "sievekit", "dedupe", str(pool), "--work-dir", str(wd),
                                         "-o", str(out), "--threshold", str(t), "--stage", stage, "-q"])
            stages[stage] = {"wall_s": round(wall, 3), "peak_rss_mb": round(rss, 1)}
        entry["sievekit_stages"] = stages
        for verify in ("sig", "exact"):
            for jobs in ((1, 2) if verify == "exact" else (1,)):
                o = work / f"e2e-{t}-{verify}-j{jobs}"
                wall, rss, stdout, cpu = timed_rss([py, __file__, "--worker", str(pool), str(o), str(t), str(jobs),
                                                    verify])
                res = json.loads(stdout)
                pred, kept = predictions_sievekit(o)
                name = f"sievekit -j {jobs}" + (" --verify sig" if verify == "sig" else "")
                entry["tools"][name] = {"seconds": round(res["total"], 3), "peak_rss_mb": round(rss, 1),
                                        "cpu_s": round(cpu, 2),
                                        **score(pred, kept, labels, pairs, t)}
        same = all(filecmp.cmp(work / f"e2e-{t}-exact-j1" / p.name, p, shallow=False)
                   for p in (work / f"e2e-{t}-exact-j2").iterdir() if p.name != "manifest.json")
        entry["j1_j2_identical"] = same
        for tool in ("datasketch", "rensa"):
            pred_file = work / f"pred-{tool}-{t}.json"
            wall, rss, stdout, cpu = timed_rss([py, str(HERE / "baselines.py"), tool, str(pool), str(t),
                                                str(pred_file)])
            res = json.loads(stdout)
            p = json.loads(pred_file.read_text())
            entry["tools"][tool] = {"seconds": round(res["total"], 3), "peak_rss_mb": round(rss, 1),
                                    "cpu_s": round(cpu, 2), "steps": res,
                                    **score(p["clusters"], set(p["kept"]), labels, pairs, t)}
        orc = oracle(pairs, t)
        entry["tools"]["exact-Jaccard oracle"] = {"seconds": None, "peak_rss_mb": None, "cpu_s": None,
                                                  **score(orc, set(), labels, pairs, t)}
        for v in entry["tools"].values():
            if v["seconds"]:
                v["docs_per_s"] = round(docs / v["seconds"])
                v["mb_per_s"] = round(mb / v["seconds"], 2)
        report[key] = entry
        print_entry(entry)


def print_entry(e: dict) -> None:
    base = e["tools"]["sievekit -j 1"]["seconds"]
    print(f"\n### {e['docs']} documents, {e['mb']} MB, threshold {e['threshold']}"
          f" (sievekit -j 1 vs -j 2 outputs identical: {e['j1_j2_identical']})\n")
    print(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")
    print("| tool | seconds | docs/s | MB/s | time vs sievekit -j 1 | process CPU s | peak RSS MB | precision "
          "| recall J>=t | recall [t,t+0.1) | F1 | one survivor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, v in e["tools"].items():
        secs = v["seconds"]
        ratio = f"{secs / base:.2f}x" if secs else "-"
        print(f"| {name} | {secs if secs else '-'} | {v.get('docs_per_s', '-')} | {v.get('mb_per_s', '-')} | {ratio} "
              f"| {v['cpu_s'] or '-'} | {v['peak_rss_mb'] or '-'} | {v['precision']} | {v['recall']} "
              f"| {v['recall_t_band']} | {v['f1']} | {v['one_survivor'] if secs else '-'} |")
    print("\nrecall by exact-Jaccard band: " + "; ".join(
        f"{name}: " + ", ".join(f"{b} {r}" for b, r in v["recall_by_band"].items()) for name, v in e["tools"].items()))
    print("\nsievekit stages (own process, wall incl. interpreter start, peak RSS): " + ", ".join(
        f"{s} {v['wall_s']} s / {v['peak_rss_mb']} MB" for s, v in e["sievekit_stages"].items()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        pool, out, t, jobs, verify = sys.argv[2:7]
        sievekit_worker(pool, out, float(t), int(jobs), verify)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[4000, 16000])
    ap.add_argument("--threshold", type=float, nargs="+", default=[0.8, 0.7])
    args = ap.parse_args()
    report: dict = {}
    for n in args.docs:
        run_size(n, args.threshold, sys.executable, report)
    out = ROOT / "bench" / "out" / "neardup.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
