"""The write pass of ``select`` alone: parsing every record again vs copying the kept lines, on a real pool.

    cd /tmp && nice /work/main/.venv/bin/python /work/main/bench/writeback_pass.py [--keep 4000] [--repeat 5]

Default pool: bench/data/realistic/pool (built by bench/realistic/build.py; JSON Lines, plain and zstd, and
Parquet). One reading pass gives each shard's counters, as the scoring pass does; then ``write_shard_file``
writes ``--keep`` documents drawn at random (seeded) from the pool, once forced down the parsing path and once
as the run chooses (copying the lines of every JSON Lines shard), in turn, ``--repeat`` times; the least CPU
seconds of each (``time.process_time``: this process and zstd's threads) per format, and the ratio. With
``--annotate``, the kept records get ``score`` and ``rank`` fields, as ``select --annotate`` adds. The outputs
of both paths are compared byte for byte.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sievekit.io import ReadOptions, ShardStats, iter_batches, resolve_inputs
from sievekit.run import writeback

POOL = Path(__file__).resolve().parent / "data" / "realistic" / "pool"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=Path, default=POOL)
    parser.add_argument("--keep", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--annotate", action="store_true")
    args = parser.parse_args()
    opts = ReadOptions()
    shards = resolve_inputs([str(args.pool)])
    scored = []
    for shard in shards:  # the scoring pass's counters (text and id only, as it reads)
        stats = ShardStats()
        for _ in iter_batches(shard, opts, stats, all_columns=False):
            pass
        scored.append(stats)
    total = sum(s.rows for s in scored)
    keep = np.zeros(total, dtype=bool)
    keep[np.random.default_rng(0).choice(total, size=min(args.keep, total), replace=False)] = True
    extra = {"score": np.linspace(0, 1, total), "rank": np.arange(total)} if args.annotate else None
    bounds = np.cumsum([0, *(s.rows for s in scored)]).tolist()
    best: dict[tuple[str, str], float] = {}  # least CPU s by (shard, path)
    original = writeback.copies_lines
    with tempfile.TemporaryDirectory(prefix="sievekit-bench-writeback-") as tmp:
        for _rep in range(args.repeat):
            for path in ("parse", "copy"):
                writeback.copies_lines = original if path == "copy" else (lambda *a: False)  # type: ignore
                for shard, stats, lo, hi in zip(shards, scored, bounds[:-1], bounds[1:]):
                    target = Path(tmp) / path / shard.name
                    target.parent.mkdir(exist_ok=True)
                    cols = {k: v[lo:hi] for k, v in extra.items()} if extra else None
                    start = time.process_time()
                    writeback.write_shard_file(shard, keep[lo:hi], cols, str(target), opts, None, None, stats)
                    cpu = time.process_time() - start
                    best[(shard.name, path)] = min(best.get((shard.name, path), cpu), cpu)
            writeback.copies_lines = original
        same = all((Path(tmp) / "parse" / s.name).read_bytes() == (Path(tmp) / "copy" / s.name).read_bytes()
                   for s in shards)
    kinds: dict[str, list[str]] = {}
    for shard in shards:
        kinds.setdefault(shard.format + "".join(Path(shard.name).suffixes[1:]), []).append(shard.name)
    print(f"pool {args.pool}: {total:,} documents in {len(shards)} shards; {int(keep.sum()):,} kept"
          + (" (annotated)" if args.annotate else "") + f"; least CPU s of {args.repeat}")
    print("| shards | parse CPU s | copy CPU s | ratio |\n|---|---|---|---|")
    sums = {"parse": 0.0, "copy": 0.0}
    for kind, names in kinds.items():
        cpu = {p: sum(best[(n, p)] for n in names) for p in sums}
        for p in sums:
            sums[p] += cpu[p]
        print(f"| {kind} ({len(names)}) | {cpu['parse']:.2f} | {cpu['copy']:.2f} | "
              f"{cpu['parse'] / cpu['copy']:.1f}x |")
    print(f"| all | {sums['parse']:.2f} | {sums['copy']:.2f} | {sums['parse'] / sums['copy']:.1f}x |")
    print(f"outputs identical: {same}")


if __name__ == "__main__":
    main()
