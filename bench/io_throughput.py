"""How far sievekit's shard I/O is from the raw decode speed of the same files.

    python bench/io_throughput.py [--mb 200] [--repeat 3]

Builds a JSONL pool from real text on this machine (CPython's Lib/**/*.py and the man pages under
/usr/share/man, chunked into documents of 0.2-8 KB with a few metadata fields), writes it as .jsonl.zst
(level 3) and as Parquet (zstd), then times, on the same files in the same run (best of --repeat):

  raw zstd      python-zstandard decompressing the .jsonl.zst stream (no parsing)
  raw parquet   pyarrow reading every column of the .parquet file into Arrow
  read          sievekit.iter_batches over the shard (all fields; JSON parsed per record)
  pass-through  read + write every record back out (the same codec/format), atomically

MB/s counts the uncompressed JSONL bytes of the pool for every row, so the figures compare directly.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from sievekit.io import ReadOptions, iter_batches, open_writer, resolve_inputs

sys.path.insert(0, str(Path(__file__).parent))
from corpus import documents  # noqa: E402


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="uncompressed pool size in MB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sievekit-bench-io-"))
    docs = documents(int(args.mb * 1e6))
    body = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()
    mb = len(body) / 1e6
    zst = tmp / "pool.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor(level=3).compress(body))
    parquet = tmp / "pool.parquet"
    pq.write_table(pa.Table.from_pylist(docs), parquet, compression="zstd", row_group_size=8192)
    del docs, body
    opts = ReadOptions(batch_size=args.batch_size)
    print(f"pool: {mb:.1f} MB of JSONL; {zst.stat().st_size / 1e6:.1f} MB as .jsonl.zst, "
          f"{parquet.stat().st_size / 1e6:.1f} MB as .parquet; batch size {args.batch_size}")

    def raw_zstd() -> None:
        with open(zst, "rb") as fh:
            reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
            while reader.read(1 << 20):
                pass

    def raw_parquet() -> None:
        pq.read_table(parquet, use_threads=False)

    def read(path: Path) -> Callable[[], None]:
        shard = resolve_inputs([str(path)])[0]
        return lambda: sum(len(b) for b in iter_batches(shard, opts))

    def passthrough(path: Path) -> Callable[[], None]:
        shard = resolve_inputs([str(path)])[0]
        out = tmp / "out" / path.name

        def run() -> None:
            with open_writer(str(out), shard) as writer:
                for batch in iter_batches(shard, opts):
                    writer.write(batch)
        return run

    rows = []
    for label, path, raw in (("jsonl.zst", zst, raw_zstd), ("parquet", parquet, raw_parquet)):
        t_raw = best_of(args.repeat, raw)
        t_read = best_of(args.repeat, read(path))
        t_pass = best_of(args.repeat, passthrough(path))
        rows.append((label, mb / t_raw, mb / t_read, mb / t_pass))
    print(f"{'format':<10} {'raw decode':>12} {'sievekit read':>14} {'pass-through':>13} {'read/raw':>9} "
          f"{'pass/raw':>9}")
    for label, raw_s, read_s, pass_s in rows:
        print(f"{label:<10} {raw_s:>9.0f} MB/s {read_s:>9.0f} MB/s {pass_s:>8.0f} MB/s {read_s / raw_s:>9.2f} "
              f"{pass_s / raw_s:>9.2f}")


if __name__ == "__main__":
    main()
