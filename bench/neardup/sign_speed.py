"""The sign stage's speed, this code against an older copy of the package, in one run (issue 14: ">= 5x
datasketch per core" rests on signing, which is most of dedupe's CPU time on long documents).

Two measures, each taken in fresh processes alternating old and new ``--repeat`` times (medians kept, the
machine is shared: trust the ratios):
- sign: ``Signer().sign_with_sets`` (the default, ``--verify exact``) over the pool's texts in batches of 1,024
  (dedupe's batch), CPU seconds in the process, the pool read beforehand and not timed;
- dedupe: a whole ``python -m sievekit dedupe POOL`` at its defaults, CPU seconds of the process.

Usage:
    git archive <commit> sievekit | tar -x -C /tmp/base
    python bench/neardup/sign_speed.py --base-code /tmp/base [--pool bench/data/natural/pool] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from run import timed_rss  # noqa: E402

BATCH = 1024


def child(pool: Path) -> None:
    from sievekit.duplicates.minhash import Signer

    shards = sorted(pool.glob("*.jsonl"))
    texts = [json.loads(line)["text"] for shard in shards for line in shard.open(encoding="utf-8")]
    signer = Signer()
    t = time.process_time()
    shingles = 0
    for lo in range(0, len(texts), BATCH):
        shingles += len(signer.sign_with_sets(texts[lo:lo + BATCH])[2])
    print(json.dumps({"cpu_s": time.process_time() - t, "docs": len(texts), "set_values": shingles}))


def env_for(code: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": code}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--base-code", required=True, help="a directory holding the older sievekit package")
    ap.add_argument("--code", default=str(ROOT))
    ap.add_argument("--pool", default=str(ROOT / "bench" / "data" / "natural" / "pool"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.pool))
        return
    codes = {"base": str(Path(args.base_code).resolve()), "new": str(Path(args.code).resolve())}
    sign: dict[str, list[float]] = {k: [] for k in codes}
    dedupe: dict[str, list[float]] = {k: [] for k in codes}
    values: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, code in codes.items():
            # from /tmp: `python -m` and a script's directory go first on sys.path, ahead of PYTHONPATH
            _, _, out, _ = timed_rss([sys.executable, str(Path(__file__).resolve()), "--child", "--base-code", "-",
                                      "--pool", args.pool], env=env_for(code), cwd="/tmp")
            res = json.loads(out)
            sign[name].append(res["cpu_s"])
            values[name] = res["set_values"]
            tmp = Path(tempfile.mkdtemp(prefix="sign-speed-"))
            try:
                _, _, _, cpu = timed_rss([sys.executable, "-m", "sievekit", "dedupe", args.pool, "-o",
                                          str(tmp / "kept"), "-q"], env=env_for(code), cwd="/tmp")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            dedupe[name].append(cpu)
            print(json.dumps({"code": name, "sign_cpu_s": round(res["cpu_s"], 2), "dedupe_cpu_s": round(cpu, 2)}),
                  flush=True)
    if values["base"] != values["new"]:
        raise SystemExit(f"the two codes made different shingle sets: {values}")
    med = {k: (statistics.median(sign[k]), statistics.median(dedupe[k])) for k in codes}
    print(f"\n| measure | base CPU s | new CPU s | speed-up |\n|---|---|---|---|\n"
          f"| sign ({res['docs']:,} docs) | {med['base'][0]:.2f} | {med['new'][0]:.2f} | "
          f"{med['base'][0] / med['new'][0]:.2f}x |\n"
          f"| dedupe (default) | {med['base'][1]:.2f} | {med['new'][1]:.2f} | {med['base'][1] / med['new'][1]:.2f}x |")


if __name__ == "__main__":
    main()
