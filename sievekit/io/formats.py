"""The one format dispatch: which format a file name is, and the format objects that own everything else.

Each format (``jsonl.JSONL``, ``parquet.PARQUET``) owns its suffixes, its reader, its writer, its row count,
how a shard of it is cut into spans, and what a batch's payload means (records, one column, field names).
Code elsewhere asks the format instead of testing suffixes or payload types.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from sievekit.io.batch import Batch, PayloadFormat
from sievekit.io.jsonl import JSONL
from sievekit.io.options import ReadOptions, ShardStats, Span
from sievekit.io.parquet import PARQUET


class BatchWriter(Protocol):
    rows: int

    def write(self, batch: Batch, keep: Any = None, extra: Any = None) -> None: ...


class Format(PayloadFormat, Protocol):
    """A shard format: its names, reader, writer, row count and spans (and, as a ``PayloadFormat``, what its
    batches' payloads mean)."""

    stems: ClassVar[tuple[str, ...]]  # the format's own suffixes: ``.jsonl``
    codecs: ClassVar[tuple[str, ...]]  # stream-codec suffixes that may follow them: ``.gz``
    concatenates: ClassVar[bool]  # several shards may share one output file

    def iter_batches(self, path: str, opts: ReadOptions, stats: ShardStats, shard: int = 0,
                     all_columns: bool = True, span: Span | None = None,
                     label: str | None = None) -> Iterator[Batch]: ...

    def open_writer(self, target: str, compression: str | None, *, like: str | None,
                    source: str) -> AbstractContextManager[BatchWriter]: ...

    def count_rows(self, path: str) -> int: ...

    def plan_spans(self, path: str, opts: ReadOptions, span_bytes: int) -> list[Span | None]: ...


FORMATS: tuple[Format, ...] = (JSONL, PARQUET)
DEFAULT = JSONL  # stdin and stdout, which have no name to go by


def suffixes(fmt: Format) -> tuple[str, ...]:
    """Every file suffix of a format: its stems, each with each codec suffix."""
    return tuple(stem + codec for stem in fmt.stems for codec in fmt.codecs)


def by_name(name: str) -> Format:
    """The format called ``name`` (``jsonl``, ``parquet``).

    Raises:
        ValueError: no format has that name.
    """
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise ValueError(f"unknown format {name!r}; formats: {', '.join(f.name for f in FORMATS)}")


def for_path(path: str) -> Format | None:
    """The format a file name says (by suffix, case-insensitively), or None."""
    name = path.lower()
    for fmt in FORMATS:
        if name.endswith(suffixes(fmt)):
            return fmt
    return None


def stem(name: str) -> str:
    """A file name without its codec and format suffixes: ``a/b.jsonl.zst`` -> ``a/b``."""
    out = name
    for codec in dict.fromkeys(c for fmt in FORMATS for c in fmt.codecs if c):
        if out.lower().endswith(codec):
            out = out[: -len(codec)]
    for fmt in FORMATS:
        for suffix in fmt.stems:
            if out.lower().endswith(suffix):
                return out[: -len(suffix)]
    return out
