"""A run's inputs: the shard manifest, stdin spooled so it can be read twice, the shards of one array
task, and the check that no output would overwrite an input."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sievekit.errors import ConfigError
from sievekit.io import ReadOptions, Shard, fs, output_target
from sievekit.io.shards import resolve_inputs
from sievekit.io.streams import STDIO, sniff_codec


@contextmanager
def readable_twice(inputs: Sequence[str], opts: ReadOptions) -> Iterator[list[Shard]]:
    """The input shards; stdin is first spooled to a temporary file, since selection reads the pool twice."""
    shards = resolve_inputs(inputs)
    if shards[0].path != STDIO:
        yield shards
        return
    tmpdir = tempfile.mkdtemp(prefix="sievekit-stdin-")
    try:
        path = os.path.join(tmpdir, "stdin.jsonl")
        with open(path, "wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
        if opts.compression in (None, "infer"):  # the spooled copy keeps stdin's codec: sniff it once here
            with open(path, "rb") as fh:
                suffix = {"gzip": ".gz", "zstd": ".zst", "none": ""}[sniff_codec(fh.read(4))]
            os.rename(path, path + suffix)
            path += suffix
        yield [Shard(0, path, "stdin.jsonl", "jsonl")]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def check_output(output: str, shards: Sequence[Shard]) -> None:
    inputs = {fs.realpath(s.path) for s in shards}
    for shard in shards:
        target = output_target(output, shard)
        if target != STDIO and fs.realpath(target) in inputs:
            raise ConfigError(f"output {target} would overwrite an input", hint="choose another -o/--output")


def part_of(shards: list[Shard], part: tuple[int, int] | None) -> list[Shard]:
    """The shards of array task ``I`` of ``N`` (every N-th shard from the I-th), for Slurm arrays or xargs -P."""
    if part is None:
        return shards
    index, count = part
    if not 0 <= index < count:
        raise ConfigError(f"--shard-index must be within [0, {count - 1}] for --num-shards {count}, got {index}")
    mine = [s for s in shards if s.index % count == index]
    if not mine:
        raise ConfigError(f"array task {index} of {count} has no shard (there are {len(shards)})",
                          hint="use at most as many array tasks as shards")
    return mine
