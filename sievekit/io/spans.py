"""Splitting one large shard into spans that tasks can read on their own, so one huge file does not
serialise a run: byte ranges of a plain JSONL file (cut after a newline) or ranges of Parquet row groups.

Compressed JSONL cannot be entered in the middle, so it stays whole. Where a shard is cut depends only on
the file and the span size, never on the number of workers, so results do not depend on ``-j``. Each format
cuts its own files (``Format.plan_spans``).
"""

from __future__ import annotations

from sievekit.io import formats
from sievekit.io.jsonl import lines_before
from sievekit.io.options import ReadOptions, Span
from sievekit.io.streams import STDIO

__all__ = ["Span", "lines_before", "plan_spans"]


def plan_spans(path: str, fmt: str, opts: ReadOptions, span_bytes: int | None) -> list[Span | None]:
    """The spans to read ``path`` in: ``[None]`` (the whole shard) unless it is larger than ``span_bytes``."""
    if not span_bytes or path == STDIO:
        return [None]
    return formats.by_name(fmt).plan_spans(path, opts, span_bytes)
