"""The pool as a fit reads it: row counts without parsing, only the drawn rows parsed, per-shard work in parallel.

A fit that samples the pool (the classifier's negatives, zstd-ml's backgrounds) needs every record's chance,
not every record's text. So a sample is drawn in three steps: count each shard's records (JSON Lines: decode
and count its non-blank lines, no JSON parsing; Parquet: its metadata), draw the sample's positions from the
counts and the seed alone, then decode and parse only the drawn rows. The counting and the fetching run one
task per shard on the run's executor (handed in as a ``Mapper``, so this layer needs no executor), and the
positions are drawn in the parent from the seed, so the sample is the same for any ``-j`` and executor.

A position is a record's place in the pool: shards in manifest order, in each its non-blank lines (JSONL) or
rows (Parquet) from 0. That is the reader's row number unless records are skipped (``--on-bad-record
skip``): then a drawn bad record is left out (the classifier's sample is one short; zstd-ml's background
takes the next document in key order). A fit that needs every text (DSIR's raw count) runs one task per
shard through ``map_texts`` or ``map_shards``; where the tasks run on this machine (``local``), such a task
may keep what it computed on local disk for the scoring pass (DSIR keeps its features), so the pool is
featurised once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sievekit.errors import BadRecordError, InputError
from sievekit.io import formats, fs, notices
from sievekit.io.jsonl import JSONL, _check_head, parse_record
from sievekit.io.options import ReadOptions
from sievekit.io.parquet import _ARROW_ERRORS, PARQUET, open_parquet, parquet_columns
from sievekit.io.shards import Shard, iter_texts
from sievekit.io.streams import STDIO, describe_error, iter_decoded_chunks

R = TypeVar("R")
# Runs ``fn(*call)`` for each call and yields the results in order (``Executor.imap`` is one).
Mapper = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], Iterator[Any]]
Positions = npt.NDArray[np.int64]


def inline_map(fn: Callable[..., R], calls: Sequence[tuple[Any, ...]]) -> Iterator[R]:
    """The ``Mapper`` that runs every call here, in order."""
    return (fn(*call) for call in calls)


@dataclass(frozen=True)
class RowCount:
    """One shard's records and its decoded bytes (JSONL lines with their newlines; Parquet: the text column's
    uncompressed size), the latter for estimates only."""

    rows: int
    bytes: int


def count_shard_rows(shard: Shard, opts: ReadOptions) -> RowCount:
    """How many records ``shard`` holds, without parsing them: its non-blank lines, or its Parquet rows.

    Raises:
        InputError: the shard cannot be read (a corrupt or truncated stream, not Parquet), naming it.
    """
    return _BY_FORMAT[formats.by_name(shard.format)][0](shard, opts)


def _count_parquet(shard: Shard, opts: ReadOptions) -> RowCount:
    pf = open_parquet(shard.path, shard.label)
    parquet_columns(pf, shard.label, opts, all_columns=False)
    meta = pf.metadata
    column = pf.schema_arrow.get_field_index(opts.text_field)
    size = sum(meta.row_group(g).column(column).total_uncompressed_size for g in range(meta.num_row_groups))
    return RowCount(int(meta.num_rows), int(size))


def _count_jsonl(shard: Shard, opts: ReadOptions) -> RowCount:
    rows = size = 0
    for piece in _pieces(shard, opts):
        rows += _records(piece)[0]
        size += len(piece)
    return RowCount(rows, size)


def _pieces(shard: Shard, opts: ReadOptions) -> Iterator[bytes]:
    """A JSONL shard's decoded bytes in pieces of whole lines (the last may lack its newline), checked as the
    reader checks them (Parquet or doubly compressed data is named; under skip, a truncated stream ends
    after its last complete line, with the reader's warning)."""
    rest = b""
    first = True
    try:
        for chunk in iter_decoded_chunks(shard.path, opts.compression, label=shard.label):
            if first and chunk:
                _check_head(chunk[:4], shard.label, shard.path, opts)
                first = False
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest += chunk
                continue
            yield rest + chunk[: cut + 1] if rest or cut + 1 < len(chunk) else chunk
            rest = chunk[cut + 1:]
    except InputError as exc:
        if opts.on_bad_record == "fail" or "truncated" not in exc.reason:
            raise
        notices.warn_once(exc.message, f"{exc.message}; kept the complete lines before it")
        return
    if rest:
        yield rest


# A blank line (the reader skips it) is empty or all whitespace, so it starts (after a newline, or at the
# piece's start) with one of these bytes; a piece where no line does has no blank line.
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[list(b"\n\r\t \x0b\x0c")] = True


def _records(piece: bytes) -> tuple[int, int, npt.NDArray[np.intp], list[bytes] | None]:
    """A piece of whole lines: its records (non-blank lines), its lines, where each line starts (with the
    piece's length last), and its lines split out when it holds a blank one."""
    data = np.frombuffer(piece, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    bounds = np.concatenate([[0], ends + 1] if piece.endswith(b"\n") else [[0], ends + 1, [len(piece) + 1]])
    lines = len(bounds) - 1
    if not len(piece) or not _WHITESPACE[data[bounds[:-1]]].any():
        return lines, lines, bounds, None
    split = piece.split(b"\n")
    if piece.endswith(b"\n"):
        split.pop()
    return lines - _blank_count(split), lines, bounds, split


def _blank_count(block: Sequence[bytes]) -> int:
    # Empty lines, then lines of whitespace only (``isspace`` stops at the first other byte).
    return len(block) - sum(map(bool, block)) + sum(map(bytes.isspace, block))


def fetch_shard_rows(shard: Shard, opts: ReadOptions, rows: Positions) -> list[str | None]:
    """The texts of the records at ``rows`` (sorted positions within the shard), parsing only those; a bad
    record is None under ``--on-bad-record skip`` (else it raises, naming the file and line). Reading stops
    after the last wanted row."""
    if not len(rows):
        return []
    return _BY_FORMAT[formats.by_name(shard.format)][1](shard, opts, rows)


def _fetch_jsonl(shard: Shard, opts: ReadOptions, rows: Positions) -> list[str | None]:
    out: list[str | None] = []
    wanted = rows.tolist()
    k = record = 0
    lineno = 1  # of the piece's first line
    for piece in _pieces(shard, opts):
        n, n_lines, bounds, split = _records(piece)
        if wanted[k] < record + n:
            lines = range(n_lines) if split is None else [i for i, line in enumerate(split)
                                                          if line and not line.isspace()]
            while k < len(wanted) and wanted[k] < record + n:
                i = lines[wanted[k] - record]
                line = piece[bounds[i]:bounds[i + 1] - 1]
                out.append(_text_of(line, shard.label, lineno + i, opts))
                k += 1
            if k == len(wanted):
                return out
        record += n
        lineno += n_lines
    raise InputError(shard.label, f"holds {record} records, fewer than when it was counted (row {wanted[k]} was "
                                  "drawn)", hint="the file changed during the run; run again")


def _text_of(line: bytes, label: str, lineno: int, opts: ReadOptions) -> str | None:
    try:
        return parse_record(line, label, lineno, opts)[0]
    except BadRecordError:
        if opts.on_bad_record == "fail":
            raise
        return None


def _fetch_parquet(shard: Shard, opts: ReadOptions, rows: Positions) -> list[str | None]:
    pf = open_parquet(shard.path, shard.label)
    parquet_columns(pf, shard.label, opts, all_columns=False)
    meta = pf.metadata
    starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
    out: list[str | None] = []
    try:
        groups = np.searchsorted(starts, rows, side="right") - 1
        for g in np.unique(groups).tolist():
            local = rows[groups == g] - starts[g]
            column = pf.read_row_group(g, columns=[opts.text_field], use_threads=False).column(0).take(local)
            for i, value in zip(local.tolist(), _values(column)):
                if value is None and opts.on_bad_record == "fail":
                    raise BadRecordError(shard.label, "the text is null or not valid UTF-8", kind="null_text",
                                         line=int(starts[g] + i), hint="fix the row, or pass --on-bad-record skip")
                out.append(value)
    except _ARROW_ERRORS as exc:
        raise InputError(shard.label, f"cannot read as Parquet ({describe_error(exc)})",
                         hint="it may be truncated or damaged; re-create or re-copy it") from None
    return out


def _values(column: pa.ChunkedArray) -> list[str | None]:
    try:
        return column.to_pylist()  # type: ignore[no-any-return]
    except (UnicodeDecodeError, pa.ArrowException):  # a string that is not UTF-8: that row alone is bad
        out: list[str | None] = []
        for value in column:
            try:
                out.append(value.as_py())
            except (UnicodeDecodeError, pa.ArrowException):
                out.append(None)
        return out


# Each format's row count and row fetch, by its format object (``formats`` tells formats apart).
_BY_FORMAT: dict[object, tuple[Callable[[Shard, ReadOptions], RowCount],
                               Callable[[Shard, ReadOptions, Positions], list[str | None]]]] = {
    JSONL: (_count_jsonl, _fetch_jsonl), PARQUET: (_count_parquet, _fetch_parquet)}


def reservoir_positions(n_items: int, n: int, rng: np.random.Generator, chunk: int) -> Positions:
    """The positions, sorted, that reservoir sampling (Vitter's algorithm R, random draws made ``chunk`` items
    at a time) keeps of a stream of ``n_items`` items: the same draws from ``rng`` as sampling the stream
    itself, made without it (``selectors.classifier.reservoir_sample`` over ``range(n_items)`` agrees).

    Item ``t`` past the first ``n`` replaces slot ``j ~ U{0..t}`` when ``j < n``; within a chunk the last
    replacement of a slot wins.
    """
    where = np.arange(min(n, n_items), dtype=np.int64)
    for seen in range(0, n_items, chunk):
        size = min(chunk, n_items - seen)
        fill = max(0, min(n - seen, size))
        if fill == size:
            continue
        t = np.arange(seen + fill, seen + size, dtype=np.int64)
        slots = rng.integers(0, t + 1)
        hit = np.flatnonzero(slots < n)
        if len(hit):
            # The last replacement of each slot: unique over the hits reversed.
            last_first, first = np.unique(slots[hit][::-1], return_index=True)
            where[last_first] = t[hit][::-1][first]
    return np.sort(where)


def key_prefix(keys: Callable[[int, int], npt.NDArray[np.float64]], n_items: int, m: int,
               block: int = 1 << 20) -> Positions:
    """The positions of the ``m`` smallest keys, in key order (then by position); ``keys(start, stop)`` gives
    the keys of positions [start, stop). Memory holds ``m`` keys and one block."""
    best_keys = np.empty(0)
    best_pos = np.empty(0, dtype=np.int64)
    for start in range(0, n_items, block):
        stop = min(n_items, start + block)
        k = np.concatenate([best_keys, keys(start, stop)])
        pos = np.concatenate([best_pos, np.arange(start, stop, dtype=np.int64)])
        if len(k) > m:
            part = np.argpartition(k, m - 1)[:m]
            k, pos = k[part], pos[part]
        best_keys, best_pos = k, pos
    order = np.lexsort((best_pos, best_keys))
    return best_pos[order]


def _texts_task(fn: Callable[..., R], shard: Shard, opts: ReadOptions, args: tuple[Any, ...]) -> R:
    return fn(iter_texts([shard], opts), *args)


def _fetch_task(fn: Callable[..., R], shard: Shard, opts: ReadOptions, rows: Positions, args: tuple[Any, ...]) -> R:
    return fn(fetch_shard_rows(shard, opts, rows), *args)


class ShardPool:
    """The pool's shards, read the cheap way where a fit allows it. Iterating it yields every text in order
    (what a plain stream gives), so a fit that needs no more can treat it as any iterable of texts.

    Example:
        >>> pool = ShardPool(resolve_inputs(["pool/"]), ReadOptions())  # doctest: +SKIP
        >>> pool.fetch(np.array([0, 5]))  # doctest: +SKIP
        ['the first text', 'the sixth text']
    """

    def __init__(self, shards: Sequence[Shard], opts: ReadOptions, mapper: Mapper = inline_map,
                 jobs: int = 1, local: bool = True) -> None:
        self.shards, self.opts, self.mapper, self.jobs = list(shards), opts, mapper, jobs
        # Whether the tasks run on this machine (here or in local workers), so that files one task writes to
        # a local temporary directory are there for the next (not so on a Ray cluster).
        self.local = local
        self._counts: list[RowCount] | None = None

    def __iter__(self) -> Iterator[str]:
        return iter_texts(self.shards, self.opts)

    @property
    def positional(self) -> bool:
        """Whether rows can be counted and fetched (a second read: not so for stdin that was not spooled)."""
        return all(s.path != STDIO for s in self.shards)

    def counts(self) -> list[RowCount]:
        """Each shard's records (counted once, one task per shard)."""
        if self._counts is None:
            self._counts = list(self.mapper(count_shard_rows, [(s, self.opts) for s in self.shards]))
        return self._counts

    @property
    def rows(self) -> int:
        """Records in the whole pool."""
        return sum(c.rows for c in self.counts())

    def fetch(self, positions: Iterable[int]) -> list[str | None]:
        """The texts at pool ``positions`` (any order, no repeats), in that order; None for a bad record
        under ``--on-bad-record skip``. Only shards holding a drawn row are read, one task each."""
        wanted = np.asarray(list(positions) if not isinstance(positions, np.ndarray) else positions, dtype=np.int64)
        order = np.argsort(wanted, kind="stable")
        texts = [text for part in self.mapper(fetch_shard_rows, self._by_shard(wanted[order])) for text in part]
        out: list[str | None] = [None] * len(texts)
        for i, text in zip(order.tolist(), texts):
            out[i] = text
        return out

    def fetch_map(self, positions: Positions, fn: Callable[..., R], args: tuple[Any, ...] = ()) -> Iterator[R]:
        """``fn(texts, *args)`` over the drawn rows of each shard holding some, one task per shard, results in
        pool order: the work a fit does on its sample (the classifier featurises it) runs where the rows are
        read, in parallel. ``positions`` are sorted without repeats; ``texts`` are as ``fetch`` gives them (None
        for a skipped bad record); ``fn`` must be importable by name."""
        ordered = np.asarray(positions, dtype=np.int64)
        if len(ordered) > 1 and not bool(np.all(np.diff(ordered) > 0)):
            raise ValueError("fetch_map needs sorted positions without repeats")
        return self.mapper(_fetch_task, [(fn, *call, args) for call in self._by_shard(ordered)])

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` as one task of the run: in a worker where the run has them (whose fork server loaded the
        code it needs), else here."""
        result: R = next(iter(self.mapper(fn, [args])))
        return result

    def _by_shard(self, ordered: Positions) -> list[tuple[Shard, ReadOptions, Positions]]:
        """``fetch_shard_rows`` calls for sorted pool positions: one per shard holding one, rows within it."""
        starts = np.cumsum([0] + [c.rows for c in self.counts()])
        if len(ordered) and (ordered[0] < 0 or ordered[-1] >= starts[-1]):
            raise ValueError(f"positions must be within [0, {starts[-1]}), got {ordered[0]}..{ordered[-1]}")
        cuts = np.searchsorted(ordered, starts)
        return [(shard, self.opts, ordered[cuts[i]:cuts[i + 1]] - starts[i]) for i, shard in enumerate(self.shards)
                if cuts[i + 1] > cuts[i]]

    def sizes(self) -> list[int]:
        """Each shard's size on disk, in bytes."""
        return [fs.getsize(s.path) for s in self.shards]

    def map_texts(self, fn: Callable[..., R], args: tuple[Any, ...], which: Sequence[int]) -> Iterator[R]:
        """``fn(texts, *args)`` over the texts of each shard in ``which``, one task each, results in that
        order; ``fn`` must be importable by name (it may run in another process)."""
        return self.mapper(_texts_task, [(fn, self.shards[i], self.opts, args) for i in which])

    def map_shards(self, fn: Callable[..., R], args: tuple[Any, ...], which: Sequence[int]) -> Iterator[R]:
        """``fn(shard, opts, *args)`` for each shard in ``which``, one task each, results in that order (for a
        task that reads its shard itself, e.g. with its counters); ``fn`` must be importable by name."""
        return self.mapper(fn, [(self.shards[i], self.opts, *args) for i in which])

    def texts(self, index: int) -> Iterator[str]:
        """The texts of one shard, read here."""
        return iter_texts([self.shards[index]], self.opts)
