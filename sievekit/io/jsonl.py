"""JSON Lines shards, plain or compressed: a batching reader and a writer that keeps records byte for byte."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sievekit.errors import BadRecordError, InputError
from sievekit.io.batch import Batch
from sievekit.io.options import ReadOptions, ShardStats
from sievekit.io.streams import _Encoder, iter_decoded_chunks

try:  # orjson parses ~2.8x faster than json (bench/io_throughput.py); json stays the arbiter of validity
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but the reader must not need it
    _fast_loads = json.loads  # type: ignore[assignment]


def loads(line: bytes) -> Any:
    """Parse one JSON value. orjson first; what it refuses (NaN, huge integers) is retried with ``json``."""
    try:
        return _fast_loads(line)
    except ValueError:
        return json.loads(line)


def parse_record(line: bytes, path: str, lineno: int, opts: ReadOptions) -> tuple[str, str | None]:
    """Parse one JSONL line and return (text, id).

    Raises:
        BadRecordError: the line is not a JSON object, lacks the text field, or its text is not a string.
    """
    try:
        rec = loads(line)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise BadRecordError(
            path, f"malformed JSON ({exc})", kind="malformed_json", line=lineno,
            hint="fix or remove the line, or pass --on-bad-record skip",
        ) from exc
    if not isinstance(rec, dict):
        raise BadRecordError(
            path, f"a record must be a JSON object, not {type(rec).__name__}", kind="not_an_object", line=lineno,
            hint="each line must hold one JSON object, or pass --on-bad-record skip",
        )
    return _text_and_id(rec, path, lineno, opts)


def _text_and_id(rec: Mapping[str, Any], path: str, lineno: int, opts: ReadOptions) -> tuple[str, str | None]:
    text = rec.get(opts.text_field)
    if not isinstance(text, str):
        if opts.text_field not in rec:
            keys = ", ".join(sorted(rec)) or "none"
            raise BadRecordError(
                path, f'no "{opts.text_field}" field (keys: {keys})', kind="missing_text", line=lineno,
                hint=_field_hint(rec, opts.text_field),
            )
        raise BadRecordError(
            path, f'field "{opts.text_field}" is {_json_type(text)}, not a string', kind="non_string_text",
            line=lineno, hint="pass --text-field with the field that holds the text, or --on-bad-record skip",
        )
    doc_id = rec.get(opts.id_field) if opts.id_field else None
    return text, None if doc_id is None else str(doc_id)


def _field_hint(rec: Mapping[str, Any], wanted: str) -> str:
    strings = [key for key, value in rec.items() if isinstance(value, str)]
    if strings:
        return f"pass --text-field {strings[0]} (or another of: {', '.join(strings)})"
    return f"add a string field {wanted!r} to every record, or pass --on-bad-record skip"


def _json_type(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def iter_jsonl_batches(path: str, opts: ReadOptions, stats: ShardStats, shard: int = 0,
                       byte_range: tuple[int, int] | None = None) -> Iterator[Batch]:
    """Stream the records of one JSONL shard (or of bytes [start, stop) of a plain one, whose rows then count
    from 0) in batches of ``opts.batch_size``.

    Blank lines are ignored. A bad record raises, or is counted in ``stats.skipped`` under ``skip``.
    """
    try:
        yield from _jsonl_batches(path, opts, stats, shard, byte_range)
    except BadRecordError as exc:
        if not byte_range or not byte_range[0]:
            raise
        from sievekit.io.spans import lines_before

        raise exc.shifted(lines_before(path, byte_range[0])) from None


def _jsonl_batches(path: str, opts: ReadOptions, stats: ShardStats, shard: int,
                   byte_range: tuple[int, int] | None) -> Iterator[Batch]:
    texts: list[str] = []
    ids: list[str | None] = []
    lines: list[bytes] = []
    start = 0
    for first_lineno, block in _line_blocks(path, opts, stats, byte_range):
        b_texts, b_ids, b_lines = _parse_block(block, first_lineno, path, opts, stats)
        texts += b_texts
        ids += b_ids
        lines += b_lines
        while len(texts) >= opts.batch_size:
            n = opts.batch_size
            yield Batch(shard, start, texts[:n], ids[:n] if opts.id_field else None, lines[:n])
            start += n
            texts, ids, lines = texts[n:], ids[n:], lines[n:]
    stats.rows = start + len(texts)
    if texts:
        yield Batch(shard, start, texts, ids if opts.id_field else None, lines)


def _parse_block(block: list[bytes], first_lineno: int, path: str, opts: ReadOptions,
                 stats: ShardStats) -> tuple[list[str], list[str | None], list[bytes]]:
    """Parse a block of lines: one pass over the whole block when every record is good (the common case),
    else line by line, which names the bad line and applies ``on_bad_record``."""
    kept = [line for line in block if line.strip()]
    try:
        recs = list(map(_fast_loads, kept))
        texts = [rec[opts.text_field] for rec in recs]
        if any(type(t) is not str for t in texts):
            raise TypeError
        raw_ids = [rec.get(opts.id_field) for rec in recs] if opts.id_field else [None] * len(recs)
    except (ValueError, KeyError, TypeError, AttributeError):
        return _parse_lines(block, first_lineno, path, opts, stats)
    stats.text_bytes += sum(map(len, texts))
    ids = [v if v is None or type(v) is str else str(v) for v in raw_ids]
    return texts, ids, kept


def _parse_lines(block: list[bytes], first_lineno: int, path: str, opts: ReadOptions,
                 stats: ShardStats) -> tuple[list[str], list[str | None], list[bytes]]:
    texts: list[str] = []
    ids: list[str | None] = []
    lines: list[bytes] = []
    for lineno, line in enumerate(block, first_lineno):
        if not line.strip():
            continue
        try:
            text, doc_id = parse_record(line, path, lineno, opts)
        except BadRecordError as exc:
            if opts.on_bad_record == "fail":
                raise
            stats.skipped[exc.kind] += 1
            continue
        texts.append(text)
        ids.append(doc_id)
        lines.append(line)
        stats.text_bytes += len(text)
    return texts, ids, lines


def split_lines(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The lines of a byte stream (without their newlines, blank ones included), one list per chunk; a
    last line without a newline comes last. An error of the stream ends it before that partial line."""
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


def _line_blocks(path: str, opts: ReadOptions, stats: ShardStats,
                 byte_range: tuple[int, int] | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """The lines of each decoded chunk (blank ones included, so numbering stays right), with the number
    of the block's first line."""
    lineno = 1
    try:
        for parts in split_lines(_counted(iter_decoded_chunks(path, opts.compression, byte_range), stats)):
            yield lineno, parts
            lineno += len(parts)
    except InputError as exc:
        if opts.on_bad_record == "fail" or "truncated" not in exc.reason:
            raise
        # Under skip, a truncated stream keeps the complete lines before the break and counts the loss.
        print(f"Warning: {exc.message}; kept the {lineno - 1} complete lines before it", file=sys.stderr)
        stats.skipped["truncated_stream"] += 1


def _counted(chunks: Iterable[bytes], stats: ShardStats) -> Iterator[bytes]:
    for chunk in chunks:
        stats.bytes += len(chunk)
        yield chunk


def _json_default(value: Any) -> Any:
    # Arrow values JSON cannot hold (dates, decimals, bytes) become strings rather than failing the write.
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def dumps(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, default=_json_default).encode("utf-8")


class JsonlWriter:
    """Writes batches as JSON lines; unchanged records are copied byte for byte from their input line."""

    def __init__(self, encoder: _Encoder) -> None:
        self.encoder = encoder
        self.rows = 0

    def write(self, batch: Batch, keep: Sequence[bool] | np.ndarray | None = None,
              extra: Mapping[str, Sequence[Any]] | None = None) -> None:
        picked = range(len(batch)) if keep is None else np.flatnonzero(np.asarray(keep, dtype=bool)).tolist()
        if not picked:
            return
        if isinstance(batch.payload, list) and not extra:
            lines = [batch.payload[i] for i in picked]
        else:
            records = batch.records()
            lines = []
            for i in picked:
                rec = dict(records[i])  # a copy: the batch keeps its parsed records for other readers
                for name, values in (extra or {}).items():
                    rec[name] = values[i]
                lines.append(dumps(rec))
        self.encoder.write(b"\n".join(lines) + b"\n")
        self.rows += len(lines)
