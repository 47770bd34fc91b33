"""Bytes per document that each dedupe stage allocates (numpy and Python heap, by tracemalloc; memory-mapped
signature pages, which the kernel can drop, are not counted), measured at two pool sizes.

Usage:  python bench/neardup/memory.py --docs 4000 16000   (pools made by generate.py)
"""

from __future__ import annotations

import argparse
import shutil
import tracemalloc
from pathlib import Path

import sievekit
from sievekit.duplicates import DedupeConfig

ROOT = Path(__file__).resolve().parents[2]


def stage_peaks(n: int) -> dict[str, int]:
    pool = ROOT / "bench" / "data" / f"neardup-{n}" / "pool"
    work = ROOT / "bench" / "out" / f"memory-{n}"
    shutil.rmtree(work, ignore_errors=True)
    peaks = {}
    for stage in ("sign", "bucket", "cluster", "filter"):
        tracemalloc.start()
        sievekit.dedupe([str(pool)], str(work / "out"), config=DedupeConfig(), work_dir=str(work / "w"),
                        stage=stage)
        peaks[stage] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peaks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, nargs=2, default=[4000, 16000])
    a, b = ap.parse_args().docs
    pa, pb = stage_peaks(a), stage_peaks(b)
    print(f"| stage | peak MB at {a} docs | peak MB at {b} docs | growth, bytes per document |")
    print("|---|---|---|---|")
    for stage in pa:
        per_doc = (pb[stage] - pa[stage]) / (b - a)
        print(f"| {stage} | {pa[stage] / 1e6:.1f} | {pb[stage] / 1e6:.1f} | {per_doc:.0f} |")


if __name__ == "__main__":
    main()
