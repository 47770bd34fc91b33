"""The units that flow through sievekit: a `Batch` of records from one shard, and a `Doc` view of one record.

A batch carries the texts a selector needs plus the format's own payload (the raw JSONL lines, or the
Arrow record batch), so a kept record is written back byte for byte (JSONL) or value for value (Parquet)
without ever being rebuilt from the parsed fields. What the payload means is the business of the batch's
format (``sievekit.io.formats``); the batch only asks it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

JsonlPayload = list[bytes]


class PayloadFormat(Protocol):
    """How a format shows a batch's payload: as records, as one column, as field names, as JSON lines."""

    name: ClassVar[str]

    def records(self, payload: Any) -> list[dict[str, Any]]:
        """Every record of the payload as a dict."""
        ...

    def column(self, batch: Batch, name: str) -> list[Any]:
        """One field of every record, None where a record lacks it."""
        ...

    def field_counts(self, batch: Batch) -> Counter[str]:
        """How many records of the batch carry each field."""
        ...

    def json_lines(self, payload: Any) -> Sequence[bytes] | None:
        """The records as the JSON lines they were read from, or None for a format that has none."""
        ...


@dataclass(slots=True)
class Doc:
    """One record: its key, text, id and all its fields."""

    shard: int
    row: int
    id: str | None
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Batch:
    """Consecutive records of one shard.

    Attributes:
        shard: index of the shard in the run's manifest order.
        start: row number (0-based, counting the records the reader yielded) of the first record.
        texts: the text field of every record.
        ids: the id field of every record, as strings, or None when no id field was asked for.
        payload: the format's own form of the records: raw JSONL lines (without the newline) or a
            ``pyarrow.RecordBatch`` with the columns that were read.
        format: the format that read the batch, which knows what its payload means.
    """

    shard: int
    start: int
    texts: list[str]
    ids: list[str | None] | None
    payload: Any
    format: PayloadFormat
    _parsed: list[dict[str, Any]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def rows(self) -> range:
        return range(self.start, self.start + len(self.texts))

    def column(self, name: str) -> list[Any]:
        """One field of every record (None where a record lacks it); Parquet reads just that column."""
        return self.format.column(self, name)

    def field_counts(self) -> Counter[str]:
        """How many records of the batch carry each field (a Parquet column counts for every row)."""
        return self.format.field_counts(self)

    def records(self) -> list[dict[str, Any]]:
        """The records as dicts (parses JSONL lines; converts Arrow rows), computed once per batch: report
        and the field readers ask for fields, columns and values of the same batch. Do not mutate them."""
        if self._parsed is None:
            self._parsed = self.format.records(self.payload)
        return self._parsed

    def docs(self) -> Iterator[Doc]:
        ids = self.ids if self.ids is not None else [None] * len(self.texts)
        for offset, (text, doc_id, rec) in enumerate(zip(self.texts, ids, self.records())):
            yield Doc(self.shard, self.start + offset, doc_id, text, rec)
