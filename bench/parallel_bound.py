"""How far `-j 2` can go on this machine and pool: the measured `-j 2` wall speed-up of `select` beside an upper
bound made of two measured figures.

- the machine's factor ``c``: two `-j 1` runs of the same command at once, each one's wall over one run alone
  (two cores that share caches, memory bandwidth and a clock budget give each of two busy processes less than
  one idle core);
- the start-up ``S``: the wall time of `sievekit methods`, i.e. the interpreter and sievekit's imports, which
  every run pays before its first task and no worker can take over.

If everything after start-up split perfectly over two workers, a run would take ``S + c (T1 - S) / 2``; the bound
is ``T1`` over that. Every other serial step (the fork server's loading before the first task, a fit, the last
shard's tail) only lowers the real figure below it.

    cd /tmp && nice /work/main/.venv/bin/python /work/main/bench/parallel_bound.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from select_scale import ROOT, run, select_arguments  # noqa: E402


def least(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: min(r[key] for r in results) for key in results[0]}


def two_at_once(args_a: list[str], args_b: list[str], env: dict[str, str], tmp: Path) -> dict[str, float]:
    """The slower of two runs started together."""
    got: list[dict[str, float]] = []
    threads = [threading.Thread(target=lambda a=a: got.append(run(a, env, tmp))) for a in (args_a, args_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {key: max(g[key] for g in got) for key in got[0]}


def main() -> None:
    parser = select_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--tree", type=Path, default=ROOT, help="the sievekit checkout to run (PYTHONPATH)")
    parser.add_argument("--repeat", type=int, default=3, help="least of this many runs of each measurement")
    args = parser.parse_args()
    pool, target = args.pool.resolve(), args.target.resolve()
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
    tmp = Path(tempfile.mkdtemp(prefix="sievekit-bench-bound-"))
    print(f"pool {pool}; target {target.name}; --top-k {args.top_k}; tree {args.tree}; least of {args.repeat}")
    print("| method | -j 1 wall s | each of two -j 1 at once | machine factor c | start-up S s | bound on -j 2 "
          "speed-up | measured -j 2 speed-up | -j 2 wall s |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        start = least([run(["methods"], env, tmp) for _ in range(args.repeat)])["wall"]
        for method in args.methods:
            def cmd(jobs: int, name: str, method: str = method) -> list[str]:
                out = tmp / name
                shutil.rmtree(out, ignore_errors=True)
                return ["select", str(pool), "--method", method, "--top-k", str(args.top_k), "-j", str(jobs),
                        "-o", str(out), "-q", *(["--target", str(target)] if method != "random" else [])]
            one, both, par = [], [], []
            for _ in range(args.repeat):
                one.append(run(cmd(1, "a"), env, tmp))
                both.append(two_at_once(cmd(1, "a"), cmd(1, "b"), env, tmp))
                par.append(run(cmd(2, "a"), env, tmp))
            t1, t11, t2 = least(one)["wall"], least(both)["wall"], least(par)["wall"]
            c = t11 / t1
            bound = t1 / (start + c * (t1 - start) / 2)
            print(f"| {method} | {t1:.2f} | {t11:.2f} | {c:.2f} | {start:.2f} | {bound:.2f}x | {t1 / t2:.2f}x | "
                  f"{t2:.2f} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
