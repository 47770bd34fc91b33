"""Profile the cluster stage (verification of every band, then the components and outputs) on a bucketed work dir.

Make the work directory first, through the bucket stage (one process per stage, defaults but the threshold):
    python -m sievekit dedupe POOL --work-dir W -o OUT --stage sign
    python -m sievekit dedupe POOL --work-dir W -o OUT --stage bucket
then
    python bench/neardup/profile_cluster.py W [--threshold 0.8] [--top 25]
copies W (without its cluster/ folder) to W-profile and runs the stage there in this process under cProfile, so
the same bucketed directory can be profiled again with other code. Prints CPU seconds of the two steps, the
number of candidate checks and of shingle-set reads (pairs) and the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import time

from sievekit.duplicates import verify
from sievekit.duplicates.options import DedupeConfig
from sievekit.duplicates.sources import plan_sources, run_shards
from sievekit.duplicates.stages import cluster_stage, verify_band
from sievekit.duplicates.workdir import digest
from sievekit.io import ReadOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("work")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    copy = args.work.rstrip("/") + "-profile"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(args.work, copy, ignore=lambda d, names: ["cluster"] if d == args.work else [])
    cfg = DedupeConfig(threshold=args.threshold)
    shards, _ = run_shards(copy)
    sources = plan_sources(copy, shards, [])
    sign = cfg.sign_params(ReadOptions())
    params = {**sign, "sources": digest([(s.work, s.shard.name, s.rows) for s in sources]), **cfg.bucket_params(),
              **cfg.cluster_params()}
    counts = {"checks": 0, "set_reads": 0}
    where = "_read_jaccard" if hasattr(verify.ShingleSets, "_read_jaccard") else "jaccard"  # older code: no memo
    check, read = verify.exact_check, getattr(verify.ShingleSets, where)

    def counted_check(sets, store, t, u, v):  # type: ignore[no-untyped-def]
        counts["checks"] += len(u)
        return check(sets, store, t, u, v)

    def counted_read(self, u, v):  # type: ignore[no-untyped-def]
        counts["set_reads"] += len(u)
        return read(self, u, v)

    verify.exact_check = counted_check  # type: ignore[assignment]
    setattr(verify.ShingleSets, where, counted_read)
    for name, step in (("verify every band", lambda: [verify_band(copy, sources, cfg, b, p, params)
                                                       for b in range(cfg.banding.bands)
                                                       for p in range(cfg.key_parts)]),
                       ("components and outputs", lambda: cluster_stage(copy, sources, cfg, params))):
        prof = cProfile.Profile()
        cpu = time.process_time()
        prof.enable()
        step()
        prof.disable()
        print(f"== {name}: {time.process_time() - cpu:.2f} CPU s (under cProfile); {counts}")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
