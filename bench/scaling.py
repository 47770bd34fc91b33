"""Throughput of score, select and dedupe with 1 and 2 workers, on the local pool and on Ray.

    python bench/scaling.py [--docs 100000] [--shards 16] [--ray]

Builds a pool of real-text documents (bench/corpus.py) in --shards zstd JSONL shards, then times, on the
same pool in the same run: `score --method zstd-ml` (target: the demo's held-out Python; its fit reads the
pool once, in the parent), `score --state` (the same scoring with the fit reused: the parallel part), `select
--scores … --top-k`, `dedupe --stage sign` (a fresh work dir each time) and a whole `dedupe`, each with
`-j 1`, `-j 2` and, with --ray, `--executor ray -j 2` (a local Ray started by the run; its start-up is
included). Prints wall seconds, MB/s, the speed-up over -j 1 and peak RSS of the sievekit process and
its local workers (Ray's workers are not its children, so their memory is not in that figure).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import select_scale  # noqa: E402
from select_scale import measure, write_pool  # noqa: E402

ROOT = Path(__file__).parent.parent
TARGET = ROOT / "sievekit" / "demo" / "target.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--ray", action="store_true", help="also run on a local Ray (pip install 'sievekit[ray]')")
    parser.add_argument("--steps", nargs="+", default=None, help="run only these steps (by name)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sievekit-bench-scaling-"))
    select_scale.SHARD_DOCS = -(-args.docs // args.shards)
    pool = tmp / "pool"
    mb = write_pool(pool, args.docs) / 1e6
    sk = [sys.executable, "-m", "sievekit"]
    modes = [("-j 1", ["-j", "1"]), ("-j 2", ["-j", "2"])]
    if args.ray:
        modes.append(("ray -j 2", ["-j", "2", "--executor", "ray"]))
    scores = tmp / "scores"
    subprocess.run([*sk, "score", str(pool), "--method", "zstd-ml", "--target", str(TARGET), "-o", str(scores),
                    "-q"], check=True)
    steps = {
        "score zstd-ml": lambda out: [*sk, "score", str(pool), "--method", "zstd-ml", "--target", str(TARGET),
                                      "-o", str(out), "-q"],
        "score --state": lambda out: [*sk, "score", str(pool), "--state", str(scores), "-o", str(out), "-q"],
        "select --scores": lambda out: [*sk, "select", str(pool), "--scores", str(scores), "--top-k",
                                        str(args.docs // 10), "-o", str(out), "-q"],
        "dedupe sign": lambda out: [*sk, "dedupe", str(pool), "--work-dir", str(out), "--stage", "sign", "-q"],
        "dedupe (all)": lambda out: [*sk, "dedupe", str(pool), "-o", str(out), "-q"],
    }
    print(f"pool: {args.docs:,} documents, {mb:.0f} MB of JSONL in {args.shards} shards")
    print(f"{'step':<16} {'mode':<10} {'wall s':>7} {'MB/s':>7} {'speed-up':>9} {'peak RSS MB':>12}")
    for step, cmd in steps.items():
        if args.steps and step not in args.steps:
            continue
        base = None
        for label, flags in modes:
            out = tmp / "out"
            shutil.rmtree(out, ignore_errors=True)
            wall, rss = measure([*cmd(out), *flags])
            base = base or wall
            print(f"{step:<16} {label:<10} {wall:>7.1f} {mb / wall:>7.1f} {base / wall:>8.2f}x {rss:>12.0f}")


if __name__ == "__main__":
    main()
