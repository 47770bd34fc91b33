"""Parquet shards: a reader that fetches only the columns it is asked for, and a writer that keeps the schema."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sievekit.errors import BadRecordError, InputError
from sievekit.io import fs
from sievekit.io.batch import Batch
from sievekit.io.options import ReadOptions, ShardStats


def open_parquet(path: str) -> pq.ParquetFile:
    if path == "-":
        raise InputError("<stdin>", "Parquet cannot be read from stdin (it needs a seekable file)",
                         hint="write the Parquet data to a file and pass its path")
    try:
        return pq.ParquetFile(fs.open(path, "rb") if fs.is_url(path) else path)
    except OSError as exc:
        raise InputError(path, f"cannot read as Parquet ({exc})", hint="is it a whole Parquet file?") from exc


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
                         all_columns: bool = True, groups: tuple[int, int, int] | None = None) -> Iterator[Batch]:
    """Stream one Parquet shard in record batches, reading every column or only text and id; with
    ``groups`` = (first, stop, first_row), only those row groups (batch rows then count from 0).

    A null text is a bad record (row numbers count from 0 in the file).
    """
    pf = open_parquet(path)
    columns = parquet_columns(pf, path, opts, all_columns)
    has_id = bool(opts.id_field) and opts.id_field in pf.schema_arrow.names
    start = 0
    row = groups[2] if groups else 0
    row_groups = list(range(groups[0], groups[1])) if groups else None
    try:
        for rb in pf.iter_batches(batch_size=opts.batch_size, columns=columns, use_threads=False,
                                  row_groups=row_groups):
            raw_rows = rb.num_rows
            texts = rb.column(opts.text_field).to_pylist()
            if rb.column(opts.text_field).null_count:
                rb, texts = _drop_null_texts(rb, texts, path, row, opts, stats)
            row += raw_rows
            if not texts:
                continue
            ids = _ids(rb, opts, has_id)
            stats.text_bytes += sum(map(len, texts))
            yield Batch(shard, start, texts, ids, rb)
            start += len(texts)
    except OSError as exc:
        raise InputError(path, f"cannot read as Parquet ({exc})", hint="it may be truncated; re-create it") from exc
    stats.rows = start
    read = row_groups if row_groups is not None else range(pf.metadata.num_row_groups)
    stats.bytes = int((0 if groups else pf.metadata.serialized_size)
                      + sum(pf.metadata.row_group(i).total_byte_size for i in read))


def _ids(rb: pa.RecordBatch, opts: ReadOptions, has_id: bool) -> list[str | None] | None:
    if not opts.id_field:
        return None
    if not has_id:
        return [None] * rb.num_rows
    return [None if v is None else str(v) for v in rb.column(opts.id_field).to_pylist()]


def _drop_null_texts(rb: pa.RecordBatch, texts: list[Any], path: str, first_row: int, opts: ReadOptions,
                     stats: ShardStats) -> tuple[pa.RecordBatch, list[str]]:
    nulls = [i for i, t in enumerate(texts) if t is None]
    if opts.on_bad_record == "fail":
        raise BadRecordError(path, f'"{opts.text_field}" is null', kind="non_string_text", line=first_row + nulls[0],
                             row_label="row", hint="drop rows with a null text, or pass --on-bad-record skip")
    stats.skipped["non_string_text"] += len(nulls)
    keep = pa.array([t is not None for t in texts])
    return rb.filter(keep), [t for t in texts if t is not None]


def parquet_schema(path: str) -> pa.Schema:
    return open_parquet(path).schema_arrow


def parquet_layout(path: str) -> tuple[str, int]:
    """The codec of the input's first column chunk and its first row group's size, so an output shard is
    laid out like its input."""
    meta = open_parquet(path).metadata
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
        rb: pa.RecordBatch = batch.payload
        if not isinstance(rb, pa.RecordBatch):
            rb = pa.RecordBatch.from_pylist(batch.records(), schema=self.schema)
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
