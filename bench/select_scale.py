"""Selection throughput end to end on a real pool: CPU seconds, MB and documents per CPU-second, the -j 2 wall
speed-up and peak RSS of ``sievekit select`` for every method, beside the raw read pass and ``report``; and peak
RSS on the same pool listed four times (symlinks with distinct names), which must stay flat.

    nice .venv/bin/python bench/select_scale.py                       # the tree this script sits in
    nice .venv/bin/python bench/select_scale.py --tree /tmp/before . --label before after   # two, in turn

Defaults: the realistic pool (bench/data/realistic/pool, built by bench/realistic/build.py: 108,312 documents,
406 MB of text in 8 shards, jsonl.zst / jsonl / parquet) and its ``python`` task's 400 target documents,
``select --top-k 4000``. Every command runs in a fresh child; CPU-s are its user + system seconds including its
worker processes (``RUSAGE_CHILDREN``), so they hold on a shared machine where wall time does not: the -j 2
speed-up is a wall-time ratio and only as good as the machine was idle. MB means the pool's text in MB (UTF-8).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parent.parent
REALISTIC = ROOT / "bench" / "data" / "realistic"
METHODS = ("random", "zstd-ml", "dsir", "classifier")


def run(args: list[str], env: dict[str, str], tmp: Path) -> dict[str, float]:
    """Wall s, CPU s (user + sys, its workers included) and peak RSS (MB, the largest one process reached) of
    ``sievekit ARGS``, run in a fresh child of a fresh probe process."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
             "w = time.perf_counter() - t; r = resource.getrusage(resource.RUSAGE_CHILDREN); "
             "sys.stderr.write(p.stderr.decode()[-2000:]) if p.returncode else None; "
             "print(p.returncode, w, r.ru_utime + r.ru_stime, r.ru_maxrss)")
    cmd = [sys.executable, "-m", "sievekit", *args]
    # Run from ``tmp``: ``python -m`` puts the working directory ahead of PYTHONPATH, so from the repository
    # root every --tree would import this checkout's sievekit.
    out = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True, cwd=tmp)
    code, wall, cpu, rss_kb = out.stdout.split()
    if int(code):
        raise SystemExit(f"failed ({code}): {' '.join(args)}\n{out.stderr}")
    return {"wall": float(wall), "cpu": float(cpu), "rss": int(rss_kb) / 1024}


def raw_read(pool: Path, parse: bool) -> float:
    """CPU seconds of one read of the pool in this process: decode only (zstd / file read / Parquet text
    column), or decode and parse every JSON line with orjson."""
    start = time.process_time()
    for path in sorted(pool.iterdir()):
        if path.suffix == ".parquet":
            texts = pq.read_table(path, columns=["text"]).column("text")
            if parse:
                texts.to_pylist()
            continue
        with open(path, "rb") as fh:
            stream = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True) \
                if path.suffix == ".zst" else fh
            rest = b""
            while chunk := stream.read(1 << 22):
                if parse:
                    lines = (rest + chunk).split(b"\n")
                    rest = lines.pop()
                    for line in lines:
                        if line:
                            orjson.loads(line)["text"]
            if parse and rest:
                orjson.loads(rest)["text"]
    return time.process_time() - start


def scaled_pool(pool: Path, into: Path, times: int) -> Path:
    """The pool's shards listed ``times`` times under distinct names (symlinks)."""
    into.mkdir(parents=True, exist_ok=True)
    for k in range(times):
        for path in sorted(pool.iterdir()):
            name = path.name.split(".", 1)
            (into / f"{name[0]}-x{k}.{name[1]}").symlink_to(path.resolve())
    return into


def select_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The pool, target, budget and methods of the ``select`` runs (shared with parallel_bound.py)."""
    parser.add_argument("--pool", type=Path, default=REALISTIC / "pool")
    parser.add_argument("--target", type=Path, default=REALISTIC / "targets" / "python.jsonl")
    parser.add_argument("--top-k", type=int, default=4000)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    return parser


def main() -> None:
    parser = select_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scale", type=int, default=4, help="peak RSS also on the pool listed this many times "
                                                             "(0: skip)")
    parser.add_argument("--tree", type=Path, nargs="+", default=[ROOT],
                        help="the sievekit checkouts to run (PYTHONPATH); several are run in turn, command by "
                             "command, so that they share the machine's load")
    parser.add_argument("--label", nargs="+", default=[])
    parser.add_argument("--env", nargs="+", default=[],
                        help="per tree, environment variables for its runs as NAME=VALUE[,NAME=VALUE] or - for "
                             "none (e.g. one checkout twice: SIEVEKIT_JIT=0 and -)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each select this many times, the trees in turn each time, and keep the least CPU "
                             "and least wall time of each (a shared machine only ever adds to them)")
    args = parser.parse_args()
    args.pool, args.target = args.pool.resolve(), args.target.resolve()  # the runs start in a scratch folder
    meta = json.loads((args.pool.parent / "meta.json").read_text()) if (args.pool.parent / "meta.json").exists() \
        else {}
    docs = int(meta.get("pool_docs", 0)) or None
    mb = (int(meta["pool_bytes"]) if "pool_bytes" in meta
          else sum(p.stat().st_size for p in args.pool.iterdir())) / 1e6
    extra = [dict(kv.split("=", 1) for kv in spec.split(",")) if spec != "-" else {}
             for spec in args.env + ["-"] * (len(args.tree) - len(args.env))]
    envs = [{**os.environ, **more, "PYTHONPATH": str(tree.resolve())} for tree, more in zip(args.tree, extra)]
    tmp = Path(tempfile.mkdtemp(prefix="sievekit-bench-scale-"))
    rows: list[list[dict[str, object]]] = [[] for _ in args.tree]
    try:
        for parse in (False, True):
            for k in range(len(args.tree)):
                cpu = raw_read(args.pool, parse)
                rows[k].append({"run": "decode + JSON parse (orjson)" if parse else "decode only", "cpu": cpu})
        for k, env in enumerate(envs):
            rows[k].append({"run": "report (one read pass)", **run(["report", str(args.pool), "-q"], env, tmp)})
        big = scaled_pool(args.pool, tmp / f"pool-x{args.scale}", args.scale) if args.scale > 1 else None
        for method in args.methods:
            row: list[dict[str, object]] = [{"run": f"select --method {method}"} for _ in args.tree]
            for jobs in args.jobs:
                for rep in range(args.repeat):
                    for k, env in enumerate(envs):
                        out = tmp / f"out-{method}-{jobs}-{k}-{rep}"
                        cmd = ["select", str(args.pool), "--method", method, "--top-k", str(args.top_k), "-j",
                               str(jobs), "-o", str(out), "-q"]
                        cmd += ["--target", str(args.target)] if method != "random" else []
                        got, best = run(cmd, env, tmp), row[k].get(f"j{jobs}")
                        shutil.rmtree(out, ignore_errors=True)
                        if isinstance(best, dict):
                            got = {key: min(got[key], best[key]) for key in got}
                        row[k][f"j{jobs}"] = got
                for k in range(len(envs)):
                    if jobs == args.jobs[0]:
                        row[k].update(row[k][f"j{jobs}"])  # type: ignore[arg-type]
            for k, env in enumerate(envs):
                if big is not None:
                    cmd = ["select", str(big), "--method", method, "--top-k", str(args.top_k),
                           "-j", str(args.jobs[0]), "-o", str(tmp / f"out-{method}-big"), "-q"]
                    cmd += ["--target", str(args.target)] if method != "random" else []
                    row[k]["rss_scaled"] = run(cmd, env, tmp)["rss"]
                    shutil.rmtree(tmp / f"out-{method}-big", ignore_errors=True)
                rows[k].append(row[k])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    labels = args.label + [""] * (len(args.tree) - len(args.label))
    for k, tree in enumerate(args.tree):
        print_table(rows[k], mb, docs, args, tree, f"{labels[k]} {' '.join(f'{a}={b}' for a, b in extra[k].items())}")
    if args.json:
        args.json.write_text(json.dumps([{"label": label, "tree": str(tree), "mb": mb, "docs": docs,
                                          "top_k": args.top_k, "rows": tree_rows}
                                         for label, tree, tree_rows in zip(labels, args.tree, rows)], indent=1) + "\n")


def print_table(rows: list[dict[str, object]], mb: float, docs: int | None, args: argparse.Namespace, tree: Path,
                label: str) -> None:
    j1, jn, n = f"j{args.jobs[0]}", f"j{args.jobs[-1]}", args.jobs[-1]
    print(f"pool {args.pool} ({mb:.0f} MB of text, {docs or '?'} documents); target {args.target.name}; "
          f"--top-k {args.top_k}; tree {tree} {label}")
    more = f"-j {n}" if len(args.jobs) > 1 else "-j N (not run)"
    print(f"| run | -j {args.jobs[0]} CPU s | MB per CPU-s | docs per CPU-s | {more} wall speed-up | {more} CPU s | "
          f"peak RSS MB | peak RSS {args.scale}x pool |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        cpu = float(row["cpu"])  # type: ignore[arg-type]
        speed = many = "—"
        if jn in row and j1 != jn:
            speed = f"{row[j1]['wall'] / row[jn]['wall']:.2f}x"  # type: ignore[index]
            many = f"{row[jn]['cpu']:.1f}"  # type: ignore[index]
        rss = f"{row['rss']:.0f}" if "rss" in row else "—"
        scaled = (f"{row['rss_scaled']:.0f} ({row['rss_scaled'] / row['rss']:.2f}x)"  # type: ignore[operator]
                  if "rss_scaled" in row else "—")
        per_doc = f"{docs / cpu / 1000:.1f}k" if docs else "—"
        print(f"| {row['run']} | {cpu:.1f} | {mb / cpu:.0f} | {per_doc} | {speed} | {many} | {rss} | {scaled} |")
    print(f"(peak RSS at -j {args.jobs[0]}; CPU s = user + system seconds of the command and its workers"
          + (f"; each the least of {args.repeat} runs)" if args.repeat > 1 else ")"))


if __name__ == "__main__":
    main()
