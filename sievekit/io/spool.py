"""Standard input spooled to a temporary file, since selection reads its pool twice."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sievekit.io.options import ReadOptions
from sievekit.io.shards import Shard, resolve_inputs
from sievekit.io.streams import STDIO, sniff_codec


@contextmanager
def readable_twice(inputs: Sequence[str], opts: ReadOptions) -> Iterator[list[Shard]]:
    """The input shards; stdin is first spooled to a temporary file (named ``<stdin>`` in messages)."""
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
        yield [Shard(0, path, "stdin.jsonl", "jsonl", origin="<stdin>")]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


@contextmanager
def scratch_dir(prefix: str = "sievekit-") -> Iterator[str]:
    """A temporary local directory, removed with everything in it when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield tmp


def copy_to_stdout(paths: Sequence[str]) -> None:
    """The bytes of each file, in order, on stdout (for outputs that were first written per shard)."""
    for path in paths:
        with open(path, "rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer, 1 << 20)
    sys.stdout.buffer.flush()
