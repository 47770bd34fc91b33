"""Standard input spooled to a temporary file, since selection reads its pool twice."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sievekit.errors import ShardError
from sievekit.io import tempdirs
from sievekit.io.options import ReadOptions
from sievekit.io.shards import Shard, resolve_inputs
from sievekit.io.streams import STDIO, describe_error, sniff_codec, stdout_sink, writing_stdout


@contextmanager
def readable_twice(inputs: Sequence[str], opts: ReadOptions) -> Iterator[list[Shard]]:
    """The input shards; stdin is first spooled to a temporary file (named ``<stdin>`` in messages).

    Raises:
        ShardError: the temporary directory cannot hold stdin (full, read-only).
    """
    shards = resolve_inputs(inputs)
    if shards[0].path != STDIO:
        yield shards
        return
    tmpdir = _mkdtemp("sievekit-stdin-")
    try:
        try:
            path = _spool(tmpdir, opts)
        except OSError as exc:
            raise ShardError(f"<stdin>: cannot spool it to {tmpdir}: {describe_error(exc)}",
                             hint="set TMPDIR to a folder with room") from None
        yield [Shard(0, path, "stdin.jsonl", shards[0].format, origin="<stdin>")]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _spool(tmpdir: str, opts: ReadOptions) -> str:
    path = os.path.join(tmpdir, "stdin.jsonl")
    with open(path, "wb") as fh:
        shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
    if opts.compression in (None, "infer"):  # the spooled copy keeps stdin's codec: sniff it once here
        with open(path, "rb") as fh:
            suffix = {"gzip": ".gz", "zstd": ".zst", "none": ""}[sniff_codec(fh.read(4))]
        os.rename(path, path + suffix)
        path += suffix
    return path


def _mkdtemp(prefix: str) -> str:
    return tempdirs.make(prefix)


@contextmanager
def scratch_dir(prefix: str = "sievekit-") -> Iterator[str]:
    """A temporary local directory, removed with everything in it when the block ends."""
    tmp = _mkdtemp(prefix)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_to_stdout(paths: Sequence[str]) -> None:
    """The bytes of each file, in order, on stdout (for outputs that were first written per shard); every
    byte, even on a non-blocking stdout.

    Raises:
        ShardError: stdout fails (other than a closed pipe, which raises ``BrokenPipeError``).
    """
    with writing_stdout():
        sink = stdout_sink()
        for path in paths:
            with open(path, "rb") as fh:
                shutil.copyfileobj(fh, sink, 1 << 20)
        sink.flush()
