"""Peak RSS of each dedupe stage, each in its own process, at two pool sizes: does any stage grow with the pool?

Each stage runs as ``python -m sievekit dedupe POOL --work-dir W --stage S`` (one job); its peak RSS
(``ru_maxrss`` of the child, which counts the memory-mapped pages it touched) and CPU seconds are printed per
pool, with the growth between the pools in bytes per document. The pools are generate.py's (make them first:
``python bench/neardup/generate.py --docs 4000`` and ``--docs 16000``).

Usage:  python bench/neardup/memory.py --docs 4000 16000 [--verify exact sig] [--memory-mb MB]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from run import timed_rss  # noqa: E402

STAGES = ("sign", "bucket", "cluster", "filter")


def stage_peaks(n: int, verify: str, memory_mb: float | None = None) -> dict[str, tuple[float, float]]:
    """``stage -> (peak RSS MB, CPU s)`` for the pool of ``n`` generated documents (``memory_mb``: the cluster
    stage's budget, default the command's)."""
    pool = ROOT / "bench" / "data" / f"neardup-{n}" / "pool"
    work = ROOT / "bench" / "out" / f"memory-{n}-{verify}"
    shutil.rmtree(work, ignore_errors=True)
    peaks = {}
    for stage in STAGES:
        _, rss, _, cpu = timed_rss([sys.executable, "-m", "sievekit", "dedupe", str(pool), "--work-dir",
                                    str(work / "w"), "-o", str(work / "out"), "--verify", verify, "--stage", stage,
                                    "-q", *(["--memory-mb", str(memory_mb)] if memory_mb else [])])
        peaks[stage] = (rss, cpu)
    return peaks


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--docs", type=int, nargs=2, default=[4000, 16000])
    ap.add_argument("--verify", nargs="+", default=["exact"])
    ap.add_argument("--memory-mb", type=float, help="the cluster stage's budget (default: the command's, 1024)")
    args = ap.parse_args()
    a, b = args.docs
    rows = []
    print(f"| verify | stage | peak RSS MB at {a:,} docs | at {b:,} docs | ratio | growth, bytes per document "
          f"| CPU s at {a:,} | at {b:,} |")
    print("|---|---|---|---|---|---|---|---|")
    for verify in args.verify:
        pa, pb = stage_peaks(a, verify, args.memory_mb), stage_peaks(b, verify, args.memory_mb)
        for stage in STAGES:
            (ra, ca), (rb, cb) = pa[stage], pb[stage]
            per_doc = (rb - ra) * 1024 * 1024 / (b - a)
            rows.append({"verify": verify, "stage": stage, "rss_mb": [ra, rb], "cpu_s": [ca, cb]})
            print(f"| {verify} | {stage} | {ra:.1f} | {rb:.1f} | {rb / ra:.3f} | {per_doc:.0f} | {ca:.2f} "
                  f"| {cb:.2f} |")
    (ROOT / "bench" / "out" / "memory.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
