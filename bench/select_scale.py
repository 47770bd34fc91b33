"""Global selection over pools far larger than memory: peak RSS must not grow with the pool beyond the
per-document score arrays.

    python bench/select_scale.py [--docs 75000 150000] [--method random] [--fraction 0.1]

For each pool size, writes a pool of real-text documents (bench/corpus.py) as .jsonl.zst shards of
10,000 documents, then runs ``sievekit select POOL --method M --fraction F -o OUT`` in a child process
and prints its wall time, end-to-end MB/s (uncompressed JSONL in), peak RSS, and the raw zstd decode
speed of the same shards measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).parent))
from corpus import iter_documents  # noqa: E402

SHARD_DOCS = 10_000


def write_pool(directory: Path, n_docs: int) -> int:
    """Write the pool as zstd JSONL shards; return its uncompressed size in bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    buf: list[bytes] = []
    shard = 0
    cctx = zstandard.ZstdCompressor(level=3)
    for doc in iter_documents(n_docs):
        line = json.dumps(doc, ensure_ascii=False).encode() + b"\n"
        total += len(line)
        buf.append(line)
        if len(buf) == SHARD_DOCS:
            (directory / f"part-{shard:05d}.jsonl.zst").write_bytes(cctx.compress(b"".join(buf)))
            buf, shard = [], shard + 1
    if buf:
        (directory / f"part-{shard:05d}.jsonl.zst").write_bytes(cctx.compress(b"".join(buf)))
    return total


def raw_decode_seconds(directory: Path) -> float:
    start = time.perf_counter()
    for path in sorted(directory.glob("*.zst")):
        with open(path, "rb") as fh:
            reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
            while reader.read(1 << 20):
                pass
    return time.perf_counter() - start


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command run in a fresh child of a fresh process."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], check=True, capture_output=True, text=True).stdout
    wall, rss_kb = out.split()
    return float(wall), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[75_000, 150_000])
    parser.add_argument("--method", default="random")
    parser.add_argument("--target", default=None, help="target set, for target-based methods")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sievekit-bench-select-"))
    print(f"{'docs':>8} {'MB in':>8} {'wall s':>7} {'MB/s':>7} {'raw zstd MB/s':>14} {'peak RSS MB':>12}")
    for n in args.docs:
        pool = tmp / f"pool-{n}"
        size_mb = write_pool(pool, n) / 1e6
        raw = size_mb / raw_decode_seconds(pool)
        cmd = [sys.executable, "-m", "sievekit", "select", str(pool), "--method", args.method, "--fraction",
               str(args.fraction), "-j", str(args.jobs), "-o", str(tmp / f"out-{n}"), "-q"]
        if args.target:
            cmd += ["--target", args.target]
        wall, rss = measure(cmd)
        print(f"{n:>8,} {size_mb:>8.0f} {wall:>7.1f} {size_mb / wall:>7.1f} {raw:>14.0f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
