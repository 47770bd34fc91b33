"""Splitting one large shard into spans that tasks can read on their own, so one huge file does not
serialise a run: byte ranges of a plain JSONL file (cut after a newline) or ranges of Parquet row groups.

Compressed JSONL cannot be entered in the middle, so it stays whole. Where a shard is cut depends only on
the file and the span size, never on the number of workers, so results do not depend on ``-j``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sievekit.io import fs
from sievekit.io.options import ReadOptions
from sievekit.io.streams import STDIO, resolve_codec


@dataclass(frozen=True)
class Span:
    """A piece of a shard: bytes [start, stop) of a plain JSONL file, or row groups [start, stop) of a
    Parquet file, whose first row is the shard's row ``first_row`` (known up front for Parquet only)."""

    start: int
    stop: int
    first_row: int = 0


def plan_spans(path: str, fmt: str, opts: ReadOptions, span_bytes: int | None) -> list[Span | None]:
    """The spans to read ``path`` in: ``[None]`` (the whole shard) unless it is larger than ``span_bytes``."""
    if not span_bytes or path == STDIO:
        return [None]
    if fmt == "parquet":
        return _parquet_spans(path, span_bytes)
    if resolve_codec(path, opts.compression) != "none":
        return [None]
    size = fs.getsize(path)
    if size <= span_bytes:
        return [None]
    cuts = [0]
    with fs.open(path, "rb") as fh:
        for k in range(1, -(-size // span_bytes)):
            fh.seek(max(k * span_bytes, cuts[-1]))
            fh.readline()  # to the end of the line the cut fell in
            pos = fh.tell()
            if cuts[-1] < pos < size:
                cuts.append(pos)
    cuts.append(size)
    return [Span(a, b) for a, b in zip(cuts[:-1], cuts[1:])] if len(cuts) > 2 else [None]


def _parquet_spans(path: str, span_bytes: int) -> list[Span | None]:

    from sievekit.io.parquet import open_parquet

    meta = open_parquet(path).metadata
    spans: list[Span | None] = []
    start = first_row = rows = size = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        size += group.total_byte_size
        rows += group.num_rows
        if size >= span_bytes:
            spans.append(Span(start, g + 1, first_row))
            start, first_row, size = g + 1, first_row + rows, 0
            rows = 0
    if start < meta.num_row_groups:
        spans.append(Span(start, meta.num_row_groups, first_row))
    return spans if len(spans) > 1 else [None]


def lines_before(path: str, offset: int) -> int:
    """How many lines end before byte ``offset`` (to name the file's line number in a span's error)."""
    count = 0
    with fs.open(path, "rb") as fh:
        while offset > 0:
            chunk = fh.read(min(offset, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count
