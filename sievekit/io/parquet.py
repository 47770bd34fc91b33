"""Parquet shards: the format, a reader that fetches only the columns it is asked for, and a writer that keeps
the schema."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sievekit.errors import BadRecordError, InputError, ShardError
from sievekit.io import fs
from sievekit.io.batch import Batch
from sievekit.io.options import ReadOptions, ShardStats, Span
from sievekit.io.streams import STDIO, atomic_output, describe_error

# What pyarrow raises for a file that is not whole Parquet: ArrowInvalid (bad magic, bad footer, a 0-byte
# file), OSError (truncated pages, unreadable), and the rest of its tree for oddities of a damaged file.
_ARROW_ERRORS = (OSError, pa.ArrowException)


def open_parquet(path: str, label: str | None = None) -> pq.ParquetFile:
    """The Parquet file at ``path`` (errors name it ``label``, default the path).

    Raises:
        InputError: stdin, or not a whole Parquet file (empty, truncated, not Parquet, a damaged footer).
    """
    if path == STDIO:
        raise InputError("<stdin>", "Parquet cannot be read from stdin (it needs a seekable file)",
                         hint="write the Parquet data to a file and pass its path")
    try:
        return pq.ParquetFile(fs.open(path, "rb") if fs.is_url(path) else path)
    except _ARROW_ERRORS as exc:
        raise InputError(label or path, f"cannot read as Parquet ({describe_error(exc)})",
                         hint="is it a whole Parquet file? re-create or re-copy it") from None


def parquet_columns(pf: pq.ParquetFile, path: str, opts: ReadOptions, all_columns: bool) -> list[str] | None:
    schema = pf.schema_arrow
    names = schema.names
    if opts.text_field not in names:
        strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        hint = f"pass --text-field {strings[0]}" if strings else "the file has no string column to use as text"
        raise InputError(path, f'no "{opts.text_field}" column (columns: {", ".join(names)})', hint=hint)
    text_type = schema.field(opts.text_field).type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        raise InputError(path, f'column "{opts.text_field}" is {text_type}, not a string',
                         hint="pass --text-field with the column that holds the text")
    if all_columns:
        return None
    return [opts.text_field] + ([opts.id_field] if opts.id_field and opts.id_field in names else [])


def iter_parquet_batches(path: str, opts: ReadOptions, stats: ShardStats, shard: int = 0,
                         all_columns: bool = True, groups: tuple[int, int, int] | None = None,
                         label: str | None = None) -> Iterator[Batch]:
    """Stream one Parquet shard in record batches, reading every column or only text and id; with
    ``groups`` = (first, stop, first_row), only those row groups (batch rows then count from 0).

    A null text, or a value that is not valid (a string that is not UTF-8), is a bad record (row numbers
    count from 0 in the file). A file that cannot be decoded is an ``InputError`` naming ``label``.
    """
    name = label or path
    pf = open_parquet(path, name)
    try:
        columns = parquet_columns(pf, name, opts, all_columns)
        has_id = bool(opts.id_field) and opts.id_field in pf.schema_arrow.names
        row_groups = list(range(groups[0], groups[1])) if groups else None
        batches = pf.iter_batches(batch_size=opts.batch_size, columns=columns, use_threads=False,
                                  row_groups=row_groups)
        yield from _batches(batches, name, opts, stats, shard, has_id, groups[2] if groups else 0)
        read = row_groups if row_groups is not None else range(pf.metadata.num_row_groups)
        stats.bytes = int((0 if groups else pf.metadata.serialized_size)
                          + sum(pf.metadata.row_group(i).total_byte_size for i in read))
    except _ARROW_ERRORS as exc:
        raise InputError(name, f"cannot read as Parquet ({describe_error(exc)})",
                         hint="it may be truncated or damaged; re-create or re-copy it") from None


def _batches(batches: Iterator[pa.RecordBatch], name: str, opts: ReadOptions, stats: ShardStats, shard: int,
             has_id: bool, row: int) -> Iterator[Batch]:
    start = 0
    for rb in batches:
        raw_rows = rb.num_rows
        rb, texts = _good_rows(rb, name, row, opts, stats)
        row += raw_rows
        if not texts:
            continue
        ids = _ids(rb, opts, has_id)
        stats.text_bytes += sum(map(len, texts))
        yield Batch(shard, start, texts, ids, rb, PARQUET)
        start += len(texts)
    stats.rows = start


def _ids(rb: pa.RecordBatch, opts: ReadOptions, has_id: bool) -> list[str | None] | None:
    if not opts.id_field:
        return None
    if not has_id:
        return [None] * rb.num_rows
    return [None if v is None else str(v) for v in rb.column(opts.id_field).to_pylist()]


def _good_rows(rb: pa.RecordBatch, name: str, first_row: int, opts: ReadOptions,
               stats: ShardStats) -> tuple[pa.RecordBatch, list[str]]:
    """The rows of ``rb`` with a text and only valid values, and their texts; the other rows raise or, under
    skip, are counted and dropped."""
    texts = _texts_if_valid(rb, opts.text_field)
    invalid, why = ([], "") if texts is not None else _invalid_rows(rb, name)
    text = rb.column(opts.text_field)
    nulls = np.flatnonzero(text.is_null().to_numpy(zero_copy_only=False)).tolist() if text.null_count else []
    if texts is not None and not nulls:
        return rb, texts
    if opts.on_bad_record == "fail":
        if invalid and (not nulls or invalid[0] < nulls[0]):
            raise BadRecordError(name, f"invalid value ({why})", kind="invalid_utf8", line=first_row + invalid[0],
                                 row_label="row", hint="fix the file's encoding, or pass --on-bad-record skip")
        raise BadRecordError(name, f'"{opts.text_field}" is null', kind="non_string_text",
                             line=first_row + nulls[0], row_label="row",
                             hint="drop rows with a null text, or pass --on-bad-record skip")
    bad = set(invalid)
    stats.skipped["invalid_utf8"] += len(bad)
    stats.skipped["non_string_text"] += len(set(nulls) - bad)
    bad.update(nulls)
    rb = rb.filter(pa.array([i not in bad for i in range(rb.num_rows)]))
    return rb, rb.column(opts.text_field).to_pylist()


def _texts_if_valid(rb: pa.RecordBatch, text_field: str) -> list[str] | None:
    """The batch's texts if every value is valid, else None. Decoding the texts checks their UTF-8 on the way;
    the other columns (small, as a rule) are checked by Arrow."""
    try:
        for field, column in zip(rb.schema, rb.columns):
            if field.name != text_field:
                column.validate(full=True)
        texts: list[str] = rb.column(text_field).to_pylist()
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return texts


def _invalid_rows(rb: pa.RecordBatch, name: str) -> tuple[list[int], str]:
    """The rows holding a value Arrow finds invalid (strings that are not UTF-8), found row by row: only a
    batch that failed the fast check comes here."""
    why = "invalid UTF-8"
    bad: list[int] = []
    for i in range(rb.num_rows):
        try:
            rb.slice(i, 1).validate(full=True)
        except pa.ArrowInvalid as exc:
            why = why if bad else describe_error(exc)
            bad.append(i)
    if not bad:
        raise InputError(name, "damaged data (a batch fails to decode, but no single row does)",
                         hint="re-create or re-copy the file")
    return bad, why


def parquet_schema(path: str, label: str | None = None) -> pa.Schema:
    return open_parquet(path, label).schema_arrow


def parquet_layout(path: str, label: str | None = None) -> tuple[str, int]:
    """The codec of the input's first column chunk and its first row group's size, so an output shard is
    laid out like its input."""
    meta = open_parquet(path, label).metadata
    if meta.num_row_groups == 0 or meta.num_columns == 0:
        return "zstd", 65536
    group = meta.row_group(0)
    return str(group.column(0).compression).lower(), max(1024, min(group.num_rows, 1 << 20))


class ParquetWriter:
    """Writes batches to one Parquet file with the input's schema (plus any added columns).

    Kept rows are buffered into row groups of ``row_group_rows`` (the input's own row-group size), since
    one row group per small batch would make the output slow to read and poorly compressed.
    """

    def __init__(self, sink: Any, schema: pa.Schema, compression: str = "zstd", row_group_rows: int = 65536) -> None:
        self.sink = sink
        self.schema = schema
        self.compression = "none" if compression == "uncompressed" else compression
        self.row_group_rows = row_group_rows
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.sink, schema, compression=self.compression)
        return self._writer

    def write(self, batch: Batch, keep: Sequence[bool] | np.ndarray | None = None,
              extra: Mapping[str, Sequence[Any]] | None = None) -> None:
        rb: pa.RecordBatch = batch.payload if batch.format is PARQUET else \
            pa.RecordBatch.from_pylist(batch.records(), schema=self.schema)
        mask = None if keep is None else pa.array(np.asarray(keep, dtype=bool))
        for name, values in (extra or {}).items():
            rb = rb.append_column(name, pa.array(np.asarray(values)))
        if mask is not None:
            rb = rb.filter(mask)
        if rb.num_rows:
            self._pending.append(rb)
            self._pending_rows += rb.num_rows
            self.rows += rb.num_rows
            if self._pending_rows >= self.row_group_rows:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = pa.Table.from_batches(self._pending)
            self._open(table.schema).write_table(table, row_group_size=max(self.row_group_rows, table.num_rows))
            self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self._flush()
        # An empty selection still yields a valid Parquet file with the input's schema.
        self._open(self.schema).close()


class ParquetFormat:
    """Parquet files, read by row group and column; a batch's payload is its Arrow record batch, so kept rows
    are written back value for value with the input's schema, codec and row-group size."""

    name: ClassVar[str] = "parquet"
    stems: ClassVar[tuple[str, ...]] = (".parquet", ".pq")
    codecs: ClassVar[tuple[str, ...]] = ("",)  # compression lives inside the file, per column chunk
    concatenates: ClassVar[bool] = False  # one file per shard: shards may differ in schema

    def iter_batches(self, path: str, opts: ReadOptions, stats: ShardStats, shard: int = 0,
                     all_columns: bool = True, span: Span | None = None, label: str | None = None) -> Iterator[Batch]:
        groups = (span.start, span.stop, span.first_row) if span else None
        return iter_parquet_batches(path, opts, stats, shard, all_columns, groups, label)

    @contextlib.contextmanager
    def open_writer(self, target: str, compression: str | None, *, like: str | None,
                    source: str) -> Iterator[ParquetWriter]:
        """A writer laid out like the Parquet input ``like`` (``source`` names that input in errors).

        Raises:
            ShardError: the input is not Parquet, or the output cannot be written (full or read-only disk).
        """
        if like is None:
            raise ShardError(f"{target}: cannot write Parquet from JSON Lines input {source}",
                             hint="write to a directory (outputs keep their input's format) or to stdout")
        codec, group_rows = parquet_layout(like, source)
        schema = parquet_schema(like, source)
        with atomic_output(target) as tmp, fs.open(tmp, "wb") as sink:
            writer = ParquetWriter(sink, schema, codec, group_rows)
            yield writer
            writer.close()

    def count_rows(self, path: str) -> int:
        return int(open_parquet(path).metadata.num_rows)

    def plan_spans(self, path: str, opts: ReadOptions, span_bytes: int) -> list[Span | None]:
        """Runs of whole row groups of about ``span_bytes`` each."""
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

    def records(self, payload: Any) -> list[dict[str, Any]]:
        return list(payload.to_pylist())

    def column(self, batch: Batch, name: str) -> list[Any]:
        if name not in batch.payload.schema.names:
            return [None] * len(batch)
        return list(batch.payload.column(name).to_pylist())

    def field_counts(self, batch: Batch) -> Counter[str]:
        return Counter({name: len(batch) for name in batch.payload.schema.names})

    def json_lines(self, payload: Any) -> Sequence[bytes] | None:
        return None

    def __reduce__(self) -> str:
        return "PARQUET"  # one format object per process, also in batches that crossed to a worker


PARQUET = ParquetFormat()
