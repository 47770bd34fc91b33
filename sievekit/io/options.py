"""Options every reader shares, the per-shard counters readers and writers fill in, and the span a reader
may be asked to read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BAD_RECORD_POLICIES = ("fail", "skip")


@dataclass(frozen=True)
class ReadOptions:
    """How records are read.

    Attributes:
        text_field: the field holding the document text (default ``text``).
        id_field: the field holding a document id, or None (default ``id``; a record without it is fine).
        batch_size: records per batch; memory is bounded by it, not by the pool (default 1024).
        compression: ``infer`` (from the suffix; sniffed for stdin), ``none``, ``gzip`` or ``zstd``.
        on_bad_record: ``fail`` (stop with the file and line) or ``skip`` (count it in the stats, go on).
    """

    text_field: str = "text"
    id_field: str | None = "id"
    batch_size: int = 1024
    compression: str = "infer"
    on_bad_record: str = "fail"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.on_bad_record not in BAD_RECORD_POLICIES:
            raise ValueError(f"on_bad_record must be one of {BAD_RECORD_POLICIES}, got {self.on_bad_record!r}")


@dataclass
class ShardStats:
    """What a reader saw in one shard: records, decoded bytes, text bytes, and skips by reason."""

    rows: int = 0
    bytes: int = 0
    text_bytes: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, other: ShardStats) -> None:
        """Count another span of the same shard in."""
        self.rows += other.rows
        self.bytes += other.bytes
        self.text_bytes += other.text_bytes
        self.skipped.update(other.skipped)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "bytes": self.bytes, "text_bytes": self.text_bytes, "skipped": dict(self.skipped)}


@dataclass(frozen=True)
class Span:
    """A piece of a shard: bytes [start, stop) of a plain JSONL file, or row groups [start, stop) of a
    Parquet file, whose first row is the shard's row ``first_row`` (known up front for Parquet only)."""

    start: int
    stop: int
    first_row: int = 0
