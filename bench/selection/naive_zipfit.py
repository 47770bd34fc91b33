"""An independent, straightforward ZIP-FIT written from the paper's formula, to check sievekit's `zipfit`.

It computes every C(x), C(t) and C(x+t) with ``gzip.compress`` for every pair, as the formula reads.
"""

from __future__ import annotations

import gzip
import time


def naive_zipfit(docs: list[str], targets: list[str], level: int = 1) -> list[float]:
    out = []
    for x in docs:
        xb, ncds = x.encode("utf-8"), []
        for t in targets:
            tb = t.encode("utf-8")
            cx, ct = len(gzip.compress(xb, level)), len(gzip.compress(tb, level))
            cxt = len(gzip.compress(xb + tb, level))
            ncds.append((cxt - min(cx, ct)) / max(cx, ct))
        out.append(1.0 - sum(ncds) / len(ncds))
    return out


def timed(docs: list[str], targets: list[str], tuned_allocator: bool = False) -> tuple[list[float], float, float]:
    """Scores, wall seconds and CPU seconds, run in a fresh process (see run.py) so nothing else is measured."""
    if tuned_allocator:
        from sievekit.selectors.compress_align import tune_allocator

        tune_allocator()
    wall, cpu = time.perf_counter(), time.process_time()
    scores = naive_zipfit(docs, targets)
    return scores, time.perf_counter() - wall, time.process_time() - cpu
