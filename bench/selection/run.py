"""Run selection methods on the labeled benchmark pools and print quality and speed per method and task.

Every method runs end to end through the CLI (`python -m sievekit score POOL --method M --target T -o DIR`)
in its own process, so its figures include start-up, reading and decompressing the shards, fitting and
writing the score sidecars; CPU time and peak RSS come from wait4() (CPU includes worker processes, RSS is
the largest single process). Methods are sievekit registry names, optionally with options:
`zstd-ml:background-draws=1,level=1`. Methods not registered in this build (e.g. `dsir`, `classifier`)
are skipped with a note. Target-free methods are scored once per pool.

Per task, R = the number of relevant pool documents; precision@R and recall@R are over the R best
(finite) scores and coincide unless a method leaves fewer than R documents selectable. "P@R strat" is
precision@R when the R are taken with sievekit.rules.stratify.stratified_top_k (10 equal-frequency length bins).

Usage:
  python bench/selection/build_pool.py
  python bench/selection/run.py [--pools files,chunks] [--methods ...] [--tasks ...] [-j 2] [--naive-docs 150]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import precision_recall_at_r, roc_auc, spearman, stratified_precision  # noqa: E402
from naive_zipfit import timed  # noqa: E402

from sievekit.io import ReadOptions, iter_batches, resolve_inputs  # noqa: E402
from sievekit.run.layout import sidecar_name  # noqa: E402
from sievekit.selectors import available, get_selector  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "data" / "selection"
SCRATCH = ROOT / "bench" / "out" / "selection"
DEFAULT_METHODS = "zipfit,zstd-ml,zstd-ratio,cratio,length,random,dsir,classifier"
TASKS = ("python", "c", "shell", "man", "markup", "numpydoc")


@dataclass
class Pool:
    name: str
    path: Path
    lengths: np.ndarray
    domains: np.ndarray
    numpydoc: np.ndarray
    texts: list[str] = field(repr=False)

    @property
    def nbytes(self) -> int:
        return int(self.lengths.sum())

    def relevant(self, task: str) -> np.ndarray:
        return self.numpydoc if task == "numpydoc" else self.domains == task


def load_pool(name: str) -> Pool:
    path = DATA / name / "pool"
    recs = [r for shard in resolve_inputs([str(path)]) for b in iter_batches(shard, ReadOptions(), all_columns=True)
            for r in b.records()]
    lengths = np.array([len(r["text"].encode("utf-8", "surrogatepass")) for r in recs], dtype=np.int64)
    return Pool(name, path, lengths, np.array([r["domain"] for r in recs]), np.array([r["numpydoc"] for r in recs]),
                [r["text"] for r in recs])


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    scores: np.ndarray
    warnings: str


def parse_method(spec: str) -> tuple[str, list[str]]:
    name, _, opts = spec.partition(":")
    args: list[str] = []
    for item in filter(None, opts.split(",")):
        key, _, value = item.partition("=")
        args += [f"--{key}", value]
    return name, args


def run_cli(pool: Pool, spec: str, target: Path | None, jobs: int) -> Run:
    name, opts = parse_method(spec)
    out = SCRATCH / f"{pool.name}-{spec.replace(':', '_').replace(',', '_').replace('=', '-')}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "sievekit", "score", str(pool.path), "--method", name, "-o", str(out), "-q",
           "-j", str(jobs)] + (["--target", str(target)] if target else []) + opts
    wall = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - wall
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr}")
    scores = read_scores(pool, out, name)
    shutil.rmtree(out, ignore_errors=True)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, scores, stderr.strip())


def read_scores(pool: Pool, out: Path, name: str) -> np.ndarray:
    parts = []
    for shard in resolve_inputs([str(pool.path)]):
        with zstandard.open(out / sidecar_name(shard), "rt", encoding="utf-8") as fh:
            vals = [json.loads(line)[name] for line in fh]
        parts.append(np.array([-np.inf if v is None else v for v in vals], dtype=np.float64))
    scores = np.concatenate(parts)
    assert len(scores) == len(pool.lengths)
    return scores


def evaluate(pool: Pool, run: Run, task: str) -> dict:
    rel = pool.relevant(task)
    p, r = precision_recall_at_r(run.scores, rel)
    return {"R": int(rel.sum()), "p_at_r": p, "r_at_r": r, "p_at_r_strat": stratified_precision(run.scores, rel,
            pool.lengths), "auc": roc_auc(run.scores, rel), "rho_len": spearman(run.scores, pool.lengths)}


STARTUP_CPU = [0.0]  # CPU seconds of `sievekit score` on a one-document pool, measured once per run


def startup_cpu() -> float:
    """The fixed cost of every CLI run (interpreter, imports, manifest), so it can be told apart from the work."""
    tiny = SCRATCH / "one-doc.jsonl"
    tiny.write_text(json.dumps({"text": "x" * 100}) + "\n")
    cmd = [sys.executable, "-m", "sievekit", "score", str(tiny), "--method", "length", "-q",
           "-o", str(SCRATCH / "one")]
    best = float("inf")
    for _ in range(3):
        shutil.rmtree(SCRATCH / "one", ignore_errors=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode})")
        best = min(best, usage.ru_utime + usage.ru_stime)
    return best


def speed(pool: Pool, run: Run) -> dict:
    work = max(run.cpu - STARTUP_CPU[0], 1e-9)
    return {"wall_s": run.wall, "cpu_s": run.cpu, "docs_per_s_core": len(pool.lengths) / run.cpu,
            "mb_per_s_core": pool.nbytes / 1e6 / run.cpu, "mb_per_s_core_excl_startup": pool.nbytes / 1e6 / work,
            "rss_mb": run.rss_mb}


def bench_pool(pool: Pool, methods: list[str], tasks: list[str], jobs: int) -> tuple[list[dict], dict]:
    rows, runs = [], {}
    for spec in methods:
        name = parse_method(spec)[0]
        if name not in available():
            print(f"# {spec}: not registered in this build, skipped", file=sys.stderr)
            continue
        needs_target = get_selector(name).needs_target
        shared = None if needs_target else run_cli(pool, spec, None, jobs)
        for task in tasks:
            run = shared or run_cli(pool, spec, DATA / pool.name / "targets" / f"{task}.jsonl", jobs)
            row = {"pool": pool.name, "task": task, "method": spec, **evaluate(pool, run, task), **speed(pool, run),
                   "warned": bool(run.warnings)}
            rows.append(row)
            runs[spec, task] = run
            print(_fmt(row), file=sys.stderr, flush=True)
    return rows, runs


def naive_check(pool: Pool, task: str, n_docs: int, zipfit_run: Run, jobs: int) -> dict:
    """sievekit's zipfit against the few-line gzip formula on a seeded subset: scores and speed."""
    targets = [json.loads(line)["text"] for line in (DATA / pool.name / "targets" / f"{task}.jsonl").open()]
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(pool.texts), size=min(n_docs, len(pool.texts)), replace=False))
    docs = [pool.texts[i] for i in idx]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as p:  # a fresh process: the default allocator, nothing of sievekit imported
        naive, wall, cpu = p.apply(timed, (docs, targets, False))
    with ctx.Pool(1) as p:
        _, wall_tuned, _ = p.apply(timed, (docs, targets, True))
    diff = float(np.max(np.abs(np.array(naive) - zipfit_run.scores[idx])))
    naive_dps, zipfit_dps = len(docs) / wall, len(pool.texts) / zipfit_run.wall
    return {"pool": pool.name, "task": task, "docs": len(docs), "targets": len(targets), "max_abs_diff": diff,
            "naive_docs_per_s": naive_dps, "naive_tuned_alloc_docs_per_s": len(docs) / wall_tuned,
            "zipfit_docs_per_s_wall": zipfit_dps, "zipfit_jobs": jobs, "speedup_wall": zipfit_dps / naive_dps,
            "zipfit_docs_per_s_core": len(pool.texts) / zipfit_run.cpu,
            "speedup_per_core": (len(pool.texts) / zipfit_run.cpu) / (len(docs) / cpu)}


def rates_for(pool: Pool, methods: list[str], task: str, zipfit_docs: int) -> list[dict]:
    out = []
    ctx = multiprocessing.get_context("spawn")
    for spec in methods:
        name = parse_method(spec)[0]
        if name not in available():
            continue
        n = zipfit_docs if name == "zipfit" else len(pool.texts)
        with ctx.Pool(1) as p:  # a fresh process per method
            out.append(p.apply(scoring_rate, (pool.name, spec, task, n)))
        print(json.dumps(out[-1]), file=sys.stderr)
    return out


def naive_line(c: dict) -> str:
    return (f"zipfit vs independent gzip formula ({c['pool']}/{c['task']}, {c['docs']} docs x "
            f"{c['targets']} targets): "
            f"max |diff| = {c['max_abs_diff']:.1e}; zipfit -j {c['zipfit_jobs']} {c['zipfit_docs_per_s_wall']:.1f} "
            f"docs/s wall vs naive {c['naive_docs_per_s']:.1f} docs/s = {c['speedup_wall']:.1f}x; per core "
            f"{c['speedup_per_core']:.1f}x; naive with sievekit's allocator setting "
            f"{c['naive_tuned_alloc_docs_per_s']:.1f} docs/s")


def scoring_rate(pool_name: str, spec: str, task: str, n_docs: int) -> dict:
    """In a fresh process: fit through the library, then time ``score_batch`` alone over the first n_docs."""
    from sievekit.scoring.methods import MethodSpec, make_selectors

    pool = load_pool(pool_name)
    name, opts = parse_method(spec)
    selector = make_selectors([MethodSpec(name, dict(zip([o[2:] for o in opts[::2]], opts[1::2])))], 0)[0]
    targets = [json.loads(line)["text"] for line in (DATA / pool_name / "targets" / f"{task}.jsonl").open()]
    selector.fit(targets, iter(pool.texts) if selector.needs_raw else None)
    docs = pool.texts[:n_docs]
    cpu = time.process_time()
    for i in range(0, len(docs), 1024):
        selector.score_batch(docs[i:i + 1024])
    cpu = time.process_time() - cpu
    return {"pool": pool_name, "task": task, "method": spec, "docs": len(docs), "docs_per_s": len(docs) / cpu,
            "mb_per_s": sum(len(d.encode("utf-8", "surrogatepass")) for d in docs) / 1e6 / cpu}


def rate_table(rates: list[dict]) -> str:
    lines = ["| pool | task | method | docs scored | docs/s (score_batch only) | MB/s |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['pool']} | {r['task']} | {r['method']} | {r['docs']} | {r['docs_per_s']:.1f} | "
              f"{r['mb_per_s']:.2f} |" for r in rates]
    return "\n".join(lines)


def _fmt(row: dict) -> str:
    return (f"{row['pool']:<7}{row['task']:<9}{row['method']:<34}R={row['R']:<4} P@R={row['p_at_r']:.3f} "
            f"strat={row['p_at_r_strat']:.3f} AUC={row['auc']:.3f} rho_len={row['rho_len']:+.2f} "
            f"{row['docs_per_s_core']:8.1f} docs/s/core {row['mb_per_s_core']:6.2f} MB/s/core "
            f"wall {row['wall_s']:6.1f}s RSS {row['rss_mb']:.0f} MB{' (warned)' if row['warned'] else ''}")


def table(rows: list[dict]) -> str:
    head = ("| pool | task | method | R | P@R | R@R | P@R strat | ROC-AUC | Spearman(score,len) | docs/s/core "
            "| MB/s/core | MB/s/core excl. start-up | wall s | peak RSS MB |\n|" + "---|" * 14)
    lines = [f"| {r['pool']} | {r['task']} | {r['method']} | {r['R']} | {r['p_at_r']:.3f} | {r['r_at_r']:.3f} | "
             f"{r['p_at_r_strat']:.3f} | {r['auc']:.3f} | {r['rho_len']:+.2f} | {r['docs_per_s_core']:.1f} | "
             f"{r['mb_per_s_core']:.2f} | {r['mb_per_s_core_excl_startup']:.2f} | {r['wall_s']:.1f} | "
             f"{r['rss_mb']:.0f} |" for r in rows]
    return "\n".join([head, *lines])


def comparison(rows: list[dict], fast: str = "zstd-ml", slow: str = "zipfit") -> str:
    by = {(r["pool"], r["task"], r["method"]): r for r in rows}
    out = [f"| pool | task | P@R {fast} | P@R {slow} | difference | per-core throughput {fast}/{slow} |",
           "|---|---|---|---|---|---|"]
    for (pool, task, method), r in by.items():
        other = by.get((pool, task, slow))
        if method == fast and other:
            ratio = r["docs_per_s_core"] / other["docs_per_s_core"]
            out.append(f"| {pool} | {task} | {r['p_at_r']:.3f} | {other['p_at_r']:.3f} | "
                       f"{r['p_at_r'] - other['p_at_r']:+.3f} | {ratio:.0f}x |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pools", default="files,chunks")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--naive-docs", type=int, default=150, help="documents for the formula check (0: skip)")
    ap.add_argument("--rate-docs", type=int, default=200, help="zipfit documents for the score_batch-only rate "
                    "(other methods: the whole pool; 0: skip)")
    ap.add_argument("--naive-task", default="python")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = ap.parse_args()
    print(f"# {' '.join(sys.argv)}  (load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)", file=sys.stderr)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    STARTUP_CPU[0] = startup_cpu()
    print(f"# start-up CPU of one CLI run: {STARTUP_CPU[0]:.2f} s", file=sys.stderr)
    rows, checks, rates = [], [], []
    for name in args.pools.split(","):
        pool = load_pool(name)
        print(f"# pool {name}: {len(pool.lengths)} docs, {pool.nbytes / 1e6:.1f} MB", file=sys.stderr)
        pool_rows, runs = bench_pool(pool, args.methods.split(","), args.tasks.split(","), args.jobs)
        rows += pool_rows
        if args.naive_docs and ("zipfit", args.naive_task) in runs:
            checks.append(naive_check(pool, args.naive_task, args.naive_docs, runs["zipfit", args.naive_task],
                                      args.jobs))
            print(json.dumps(checks[-1]), file=sys.stderr)
        if args.rate_docs:
            rates += rates_for(pool, args.methods.split(","), args.naive_task, args.rate_docs)
    print(table(rows))
    print()
    print(comparison(rows))
    for c in checks:
        print("\n" + naive_line(c))
    if rates:
        print("\n" + rate_table(rates))
    if args.json:
        args.json.write_text(json.dumps({"argv": sys.argv, "rows": rows, "naive": checks, "rates": rates}, indent=2))


if __name__ == "__main__":
    main()
