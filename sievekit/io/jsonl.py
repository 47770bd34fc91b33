"""JSON Lines shards, plain or compressed: the format, a batching reader, and a writer that keeps records byte
for byte."""

from __future__ import annotations

import bisect
import codecs
import contextlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from sievekit.errors import BadRecordError, InputError, ShardError, option
from sievekit.io import fs, notices
from sievekit.io.batch import Batch
from sievekit.io.jsonvalue import MAX_DEPTH, RecordValueError, dumps, fast_loads, loads
from sievekit.io.options import ReadOptions, ShardStats, Span
from sievekit.io.streams import (
    GZIP_MAGIC,
    STDIO,
    ZSTD_MAGIC,
    _Encoder,
    iter_decoded_chunks,
    open_output,
    resolve_codec,
)

PARQUET_MAGIC = b"PAR1"
__all__ = ["JSONL", "MAX_DEPTH", "JsonlFormat", "JsonlWriter", "RecordValueError", "dumps", "fields_among",
           "iter_jsonl_batches", "iter_jsonl_lines", "lines_before", "loads", "parse_record", "split_lines"]

NUL = b"\x00"


def parse_record(line: bytes, path: str, lineno: int, opts: ReadOptions) -> tuple[str, str | None]:
    """Parse one JSONL line and return (text, id).

    Raises:
        BadRecordError: the line is not a JSON object, lacks the text field, or its text is not a string.
    """
    try:
        rec = loads(line)
    except RecordValueError as exc:
        raise BadRecordError(path, str(exc), kind=exc.kind, line=lineno,
                             hint="fix or remove the line, or pass --on-bad-record skip") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        if NUL in line:  # what a crash leaves in a preallocated file: say so rather than quote the parser
            raise BadRecordError(
                path, f"malformed JSON: NUL bytes at offset {line.index(NUL)}",
                kind="malformed_json", line=lineno,
                hint="a zero-filled or binary region (a file cut short by a crash?): restore the file, or pass "
                     "--on-bad-record skip") from None
        raise BadRecordError(
            path, f"malformed JSON ({' '.join(str(exc).split())})", kind="malformed_json", line=lineno,
            hint="fix or remove the line, or pass --on-bad-record skip",
        ) from None
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
            keys = ", ".join(_shown(k) for k in sorted(rec)[:20]) + (", …" if len(rec) > 20 else "") or "none"
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
    strings = [_shown(key) for key, value in rec.items() if isinstance(value, str)][:20]
    if strings:
        return f"pass --text-field {strings[0]} (or another of: {', '.join(strings)})"
    return f"add a string field {wanted!r} to every record, or pass --on-bad-record skip"


def _shown(key: str) -> str:
    """A field name from the data as a message shows it: on one line, control characters escaped."""
    return key if key.isprintable() else repr(key)[1:-1]


def _json_type(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def iter_jsonl_batches(path: str, opts: ReadOptions, stats: ShardStats, shard: int = 0,
                       byte_range: tuple[int, int] | None = None, label: str | None = None) -> Iterator[Batch]:
    """Stream the records of one JSONL shard (or of bytes [start, stop) of a plain one, whose rows then count
    from 0) in batches of ``opts.batch_size``. Errors name the file ``label`` (default: ``path``).

    Blank lines are ignored. A bad record raises, or is counted in ``stats.skipped`` under ``skip``.
    """
    try:
        yield from _jsonl_batches(path, opts, stats, shard, byte_range, label or path)
    except BadRecordError as exc:
        if not byte_range or not byte_range[0]:
            raise
        raise exc.shifted(lines_before(path, byte_range[0])) from None


def _jsonl_batches(path: str, opts: ReadOptions, stats: ShardStats, shard: int,
                   byte_range: tuple[int, int] | None, name: str) -> Iterator[Batch]:
    texts: list[str] = []
    ids: list[str | None] = []
    lines: list[bytes] = []
    start = 0
    for first_lineno, block in _line_blocks(path, opts, stats, byte_range, name):
        b_texts, b_ids, b_lines = _parse_block(block, first_lineno, name, opts, stats)
        texts += b_texts
        ids += b_ids
        lines += b_lines
        while len(texts) >= opts.batch_size:
            n = opts.batch_size
            yield Batch(shard, start, texts[:n], ids[:n] if opts.id_field else None, lines[:n], JSONL)
            start += n
            texts, ids, lines = texts[n:], ids[n:], lines[n:]
    stats.rows = start + len(texts)
    if texts:
        yield Batch(shard, start, texts, ids if opts.id_field else None, lines, JSONL)


def _parse_block(block: list[bytes], first_lineno: int, path: str, opts: ReadOptions,
                 stats: ShardStats) -> tuple[list[str], list[str | None], list[bytes]]:
    """Parse a block of lines: one pass over the whole block when every record is good (the common case),
    else line by line, which names the bad line and applies ``on_bad_record``."""
    kept = [line for line in block if line.strip()]
    try:
        recs = list(map(fast_loads, kept))
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


def iter_jsonl_lines(path: str, opts: ReadOptions, stats: ShardStats,
                     label: str | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """The records of one whole JSONL shard as their raw lines, unparsed: ``(first row, lines)`` in the batches
    ``iter_jsonl_batches`` yields when every record is good (blank lines and a byte order mark dropped, the
    stream checked and counted in ``stats`` the same way). Nothing checks that a line is a good record: this
    is for a shard a reader has already parsed whole without skipping any line.
    """
    size = opts.batch_size
    pending: list[bytes] = []
    start = 0
    for _, block in _line_blocks(path, opts, stats, None, label or path):
        pending += [line for line in block if line.strip()]
        if len(pending) >= size:
            whole = len(pending) - len(pending) % size
            for i in range(0, whole, size):
                yield start + i, pending[i:i + size]
            start += whole
            pending = pending[whole:]
    stats.rows = start + len(pending)
    if pending:
        yield start, pending


def fields_among(lines: Sequence[bytes], names: Iterable[str]) -> set[str]:
    """Which of the field ``names`` some record among ``lines`` holds, parsing only the lines that may spell
    one. JSON writes a name as is (``"score"``) or with escapes; a name of printable ASCII other than ``"``,
    ``\\`` and ``/`` can only be escaped as ``\\u00XX`` (XX from 20 to 7e), any other character as ``\\u``
    too; a name with a character that has a short escape (``\\/``, ``\\n``) makes every line a candidate.

    Raises:
        ValueError: a candidate line is not JSON (the lines were meant to be parsed records).
    """
    wanted = set(names)
    if any(c in '"\\/' or c < " " for name in wanted for c in name):
        candidates: Iterable[int] = range(len(lines))
    else:
        candidates = _lines_holding(lines, wanted, ascii_escapes=all(name.isascii() for name in wanted))
    found: set[str] = set()
    for i in candidates:
        rec = loads(lines[i])
        found.update(wanted.intersection(rec) if isinstance(rec, dict) else ())
    return found


def _lines_holding(lines: Sequence[bytes], names: Iterable[str], ascii_escapes: bool) -> list[int]:
    """The indices of the lines holding one of ``names`` quoted, or an escape (``\\u00`` + [2-7], a printable
    ASCII character, when ``ascii_escapes``, else any ``\\u``). Two scans of the lines joined: the names as one
    pattern led by its quote (an alternation at the top of a pattern scans ten times slower), the escape with
    ``bytes.find``; each goes on past the line of a hit, so a batch costs a step per candidate line."""
    blob = b"\n".join(lines)
    ends = np.cumsum([len(line) + 1 for line in lines]).tolist()  # each line's end in the blob, past its newline
    quoted = re.compile(b'"(?:' + b"|".join(re.escape(n.encode("utf-8", "surrogatepass")) for n in names) + b')"')
    escape = b"\\u00" if ascii_escapes else b"\\u"
    found: set[int] = set()
    hit = quoted.search(blob)
    while hit is not None:
        found.add(line := bisect.bisect_right(ends, hit.start()))
        hit = quoted.search(blob, ends[line])
    pos = blob.find(escape)
    while pos >= 0:
        if ascii_escapes and not (pos + 4 < len(blob) and blob[pos + 4] in b"234567"):
            pos = blob.find(escape, pos + 1)
            continue
        found.add(line := bisect.bisect_right(ends, pos))
        pos = blob.find(escape, ends[line])
    return sorted(found)


def split_lines(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The lines of a byte stream (without their newlines, blank ones included), one list per chunk; a
    last line without a newline comes last. An error of the stream ends it before that partial line."""
    rest = b""
    for chunk in chunks:
        parts = chunk.split(b"\n")
        if rest:  # the line cut by the chunk's start: joined alone, not the whole chunk copied behind it
            parts[0] = rest + parts[0]
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


def _line_blocks(path: str, opts: ReadOptions, stats: ShardStats, byte_range: tuple[int, int] | None,
                 name: str) -> Iterator[tuple[int, list[bytes]]]:
    """The lines of each decoded chunk (blank ones included, so numbering stays right), with the number
    of the block's first line."""
    lineno = 1
    chunks = _counted(iter_decoded_chunks(path, opts.compression, byte_range, label=name), stats)
    if not byte_range or not byte_range[0]:
        chunks = _sniffed(chunks, name, path, opts)
    try:
        for parts in split_lines(chunks):
            yield lineno, parts
            lineno += len(parts)
    except InputError as exc:
        if opts.on_bad_record == "fail" or "truncated" not in exc.reason:
            raise
        # Under skip, a truncated stream keeps the complete lines before the break and counts the loss.
        notices.warn_once(exc.message, f"{exc.message}; kept the complete lines before it")
        stats.skipped["truncated_stream"] += 1


def _sniffed(chunks: Iterable[bytes], name: str, path: str, opts: ReadOptions) -> Iterator[bytes]:
    """The chunks, after a look at the first: data that is plainly not JSON Lines (Parquet, or still
    compressed under a name that says it is not) is named for what it is rather than as a malformed line."""
    it = iter(chunks)
    for chunk in it:
        if chunk:
            # a UTF-8 byte order mark is no part of the first record: copied with its line, it would sit
            # mid-file in an output that joins shards, where JSON readers refuse it
            chunk = chunk[len(codecs.BOM_UTF8):] if chunk.startswith(codecs.BOM_UTF8) else chunk
            _check_head(chunk[:4], name, path, opts)
            yield chunk
            break
    yield from it


def _check_head(head: bytes, name: str, path: str, opts: ReadOptions) -> None:
    if head.startswith(PARQUET_MAGIC):
        if name == "<stdin>" or path == STDIO:
            raise InputError(name, "holds Parquet data, which cannot be read from stdin (it needs a seekable file)",
                             hint="save it to a file named *.parquet and pass its path")
        raise InputError(name, "holds Parquet data, not JSON Lines", hint="name Parquet files *.parquet")
    for codec, magic in (("gzip", GZIP_MAGIC), ("zstd", ZSTD_MAGIC)):
        if not head.startswith(magic):
            continue
        read_as = resolve_codec(path, opts.compression)
        if read_as != "none":
            raise InputError(name, f"holds {codec}-compressed data inside its {read_as} stream (compressed twice?)",
                             hint="decompress it and write it again")
        stdin = name == "<stdin>" or path == STDIO
        raise InputError(name, f"holds {codec}-compressed data but was read as uncompressed",
                         hint=f"drop {option('compression')} none (stdin's codec is detected)" if stdin else
                         f"name it {name}{'.gz' if codec == 'gzip' else '.zst'}, or pass {option('compression')} "
                         f"{codec}")


def _counted(chunks: Iterable[bytes], stats: ShardStats) -> Iterator[bytes]:
    for chunk in chunks:
        stats.bytes += len(chunk)
        yield chunk


class JsonlWriter:
    """Writes batches as JSON lines; unchanged records are copied byte for byte from their input line."""

    def __init__(self, encoder: _Encoder, source: str | None = None) -> None:
        self.encoder = encoder
        self.source = source  # the input, as error messages name it
        self.rows = 0

    def write(self, batch: Batch, keep: Sequence[bool] | np.ndarray | None = None,
              extra: Mapping[str, Sequence[Any]] | None = None) -> None:
        picked = _picked(len(batch), keep)
        if not picked:
            return
        raw = None if extra else batch.format.json_lines(batch.payload)
        if raw is not None:
            self._put([raw[i] for i in picked])
            return
        records = batch.records()
        where = f"{self.source}: record" if self.source else f"shard {batch.shard}, record"
        # a copy of each record: the batch keeps its parsed records for other readers
        self._put([_encoded(dict(records[i]), extra, i, f"{where} {batch.start + i}") for i in picked])

    def write_lines(self, start: int, lines: Sequence[bytes], keep: Sequence[bool] | np.ndarray | None = None,
                    extra: Mapping[str, Sequence[Any]] | None = None) -> None:
        """Write the kept ones of a shard's raw record ``lines`` (its rows from ``start``) as they are, or,
        with ``extra`` fields to add, each kept line parsed, extended and encoded again: the lines dropped are
        never parsed.

        Raises:
            ShardError: a kept line is not a JSON object, or its record cannot be encoded with the fields added.
        """
        picked = _picked(len(lines), keep)
        if not picked:
            return
        if not extra:
            self._put([lines[i] for i in picked])
            return
        where = f"{self.source or 'the input'}: record"
        self._put([_encoded(_record(lines[i], f"{where} {start + i}"), extra, i, f"{where} {start + i}")
                   for i in picked])

    def _put(self, lines: list[bytes]) -> None:
        """The one place records leave: each batch's kept lines in one write."""
        self.encoder.write(b"\n".join(lines) + b"\n")
        self.rows += len(lines)


def _picked(n: int, keep: Sequence[bool] | np.ndarray | None) -> list[int]:
    return list(range(n)) if keep is None else np.flatnonzero(np.asarray(keep, dtype=bool)).tolist()


def _record(line: bytes, where: str) -> dict[str, Any]:
    """A kept line parsed again to add fields to it; the reading pass parsed it once, so a failure here means
    the shard changed in between."""
    try:
        rec = loads(line)
    except ValueError:
        rec = None
    if not isinstance(rec, dict):
        raise ShardError(f"{where} is no longer a JSON object", hint="the shard changed during the run; run again")
    return rec


def _encoded(rec: dict[str, Any], extra: Mapping[str, Sequence[Any]] | None, i: int, where: str) -> bytes:
    """One record, with the ``extra`` fields' ``i``-th values added, as a JSON line."""
    for name, values in (extra or {}).items():
        rec[name] = values[i]
    try:
        return dumps(rec)
    except RecordValueError as exc:
        raise ShardError(f"{where}: {exc}", hint="flatten or drop the record in the input") from None


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


class JsonlFormat:
    """JSON Lines, plain or gzip/zstd-compressed: one JSON object per line.

    A batch's payload is its raw lines, so unchanged records are written back byte for byte.
    """

    name: ClassVar[str] = "jsonl"
    stems: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson", ".json")
    codecs: ClassVar[tuple[str, ...]] = ("", ".gz", ".zst", ".zstd")
    # Several shards may share one output file (or stdout): a JSONL stream is just its lines one after another.
    concatenates: ClassVar[bool] = True

    def iter_batches(self, path: str, opts: ReadOptions, stats: ShardStats, shard: int = 0,
                     all_columns: bool = True, span: Span | None = None, label: str | None = None) -> Iterator[Batch]:
        return iter_jsonl_batches(path, opts, stats, shard, (span.start, span.stop) if span else None, label)

    def raw_batches(self, path: str, opts: ReadOptions, stats: ShardStats,
                    label: str | None = None) -> Iterator[tuple[int, list[bytes]]]:
        """A whole shard's records as raw lines, unparsed (``iter_jsonl_lines``)."""
        return iter_jsonl_lines(path, opts, stats, label)

    @contextlib.contextmanager
    def open_writer(self, target: str, compression: str | None, *, like: str | None,
                    source: str) -> Iterator[JsonlWriter]:
        with open_output(target, compression) as enc:
            yield JsonlWriter(enc, source)

    def count_rows(self, path: str) -> int:
        return sum(chunk.count(b"\n") for chunk in iter_decoded_chunks(path))

    def plan_spans(self, path: str, opts: ReadOptions, span_bytes: int) -> list[Span | None]:
        """Byte ranges cut just after a newline; compressed files cannot be entered in the middle."""
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

    def records(self, payload: Any) -> list[dict[str, Any]]:
        return [loads(line) for line in payload]

    def column(self, batch: Batch, name: str) -> list[Any]:
        return [rec.get(name) for rec in batch.records()]

    def field_counts(self, batch: Batch) -> Counter[str]:
        counts: Counter[str] = Counter()
        for rec in batch.records():
            counts.update(rec.keys())
        return counts

    def json_lines(self, payload: Any) -> Sequence[bytes] | None:
        return payload  # type: ignore[no-any-return]

    def __reduce__(self) -> str:
        return "JSONL"  # one format object per process, also in batches that crossed to a worker


JSONL = JsonlFormat()
