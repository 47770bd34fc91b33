"""The one writer of kept records: every command that drops documents (select, dedupe) writes through it.

Each shard is read again and its kept records written to the output the ``Layout`` names for it (one per
shard, atomically), or all shards in order to one stream. Into one stream with local workers, each shard's
kept lines are rendered by a worker into a scratch file and this process copies them into the stream in shard
order (its codec compresses them here), so the bytes are those of the serial write. A JSON Lines shard that a
reader of this run parsed whole, skipping nothing, is copied line by line without parsing (only the kept
lines, to add fields); any other shard (scores from sidecars, skipped records, ids to check against a sidecar,
Parquet) is parsed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sievekit.errors import ConfigError, ShardError, option
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, open_writer, tempdirs
from sievekit.io.jsonl import JSONL, JsonlWriter, fields_among
from sievekit.run.executor import Executor
from sievekit.run.layout import Layout
from sievekit.run.progress import Tracker


@dataclass
class RunResult:
    """What a command did: per-shard counters, the paths it wrote, and whether it found the work done."""

    shards: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    up_to_date: bool = False

    @property
    def rows_in(self) -> int:
        return sum(s["rows_in"] or 0 for s in self.shards)

    @property
    def rows_out(self) -> int:
        return sum(s.get("rows_out", 0) for s in self.shards)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], extra: Sequence[str] = ()) -> RunResult:
        """The result a finished run recorded (``extra``: the manifest keys to carry over)."""
        return cls(shards=list(manifest.get("shards", [])), up_to_date=True,
                   extra={k: manifest[k] for k in extra if k in manifest})


class IdDigest:
    """An order-sensitive digest of a shard's ids, to compare a sidecar with its shard in O(1) memory."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=16)

    def update(self, ids: Iterable[str | None]) -> None:
        for doc_id in ids:
            self._h.update(b"\x00" if doc_id is None else doc_id.encode("utf-8", "surrogatepass") + b"\x01")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def write_kept(shards: Sequence[Shard], rows: Sequence[int], keep: np.ndarray, extra: dict[str, np.ndarray] | None,
               layout: Layout, opts: ReadOptions, output_compression: str | None, stats: Sequence[ShardStats],
               digests: Sequence[str | None] | None = None, resume: bool = False,
               executor: Executor | None = None, progress: Tracker | None = None) -> RunResult:
    """Write the kept records of every shard (one output per shard, or one stream), with every field.

    ``rows`` gives each shard's record count; ``keep`` and the ``extra`` columns run over all documents in
    manifest order. ``digests`` (from sidecars) are checked against the shards' ids. Into a directory, each
    shard is one task on ``executor`` (the bytes are the same for any number of workers). ``progress`` gets
    a "write" phase, each shard reported as it is done.
    """
    result = RunResult()
    _sweep_scratch()
    digests = digests if digests is not None else [None] * len(shards)
    offsets = np.cumsum([0, *rows])
    spans = list(zip(shards, offsets[:-1].tolist(), offsets[1:].tolist(), stats, digests))
    track = progress or Tracker()
    sizes = dict(zip((s.index for s in shards), track.phase_of("write", shards)))

    def done(shard: Shard) -> None:
        track.advance(0, sizes[shard.index])
        track.shard_done()

    if layout.single:
        with open_writer(layout.output, shards[0], output_compression) as shared:
            serial = spans
            if isinstance(shared, JsonlWriter) and executor is not None and executor.kind == "local" \
                    and executor.jobs > 1 and len(spans) > 1:
                tasks = [(shard, keep[lo:hi], _slice(extra, lo, hi), opts, digest, st)
                         for shard, lo, hi, st, digest in spans]
                serial = spans[_write_in_workers(shared, tasks, executor, done):]
            for shard, lo, hi, st, digest in serial:
                _write_shard(shared, shard, opts, keep[lo:hi], _slice(extra, lo, hi), digest, st)
                done(shard)
    else:
        todo = [(shard, lo, hi, st, digest) for shard, lo, hi, st, digest in spans
                if not (resume and fs.exists(layout.shard_output(shard)))]  # else written whole by a killed run
        calls = [(shard, keep[lo:hi], _slice(extra, lo, hi), layout.shard_output(shard), opts, output_compression,
                  digest, st) for shard, lo, hi, st, digest in todo]
        finished = (write_shard_file(*call) for call in calls) if executor is None \
            else executor.imap(write_shard_file, calls)
        for (shard, *_), _ in zip(todo, finished):
            done(shard)
    track.complete()
    for shard, lo, hi, st, _ in spans:
        target = layout.shard_output(shard)
        result.shards.append({"name": shard.name, "input": shard.label, "output": target, "rows_in": hi - lo,
                              "rows_out": int(keep[lo:hi].sum()), **stat_fields(st)})
        if target not in result.outputs:
            result.outputs.append(target)
    return result


def _write_in_workers(shared: JsonlWriter, tasks: Sequence[tuple[Any, ...]], executor: Executor,
                      done: Callable[[Shard], None]) -> int:
    """Each shard's kept lines rendered by a worker into a scratch file, then copied into ``shared`` in shard
    order; returns how many of ``tasks`` (the first ones) are written, and the caller writes the rest itself: none
    when no scratch folder can be made, those after a shard whose scratch file could not be written (a scratch
    disk too small or failing: that shard is written here, and the workers are not given more). The serial
    write needs no scratch, so a small ``$TMPDIR`` never fails a run that one worker would finish.
    Workers run at most ``WRITE_AHEAD`` shards per worker ahead of the copy, so the scratch space holds the
    kept lines of that many shards, not of the whole output. A failure stops the workers before the scratch
    folder goes, so that none is left writing into it."""
    try:
        folder = tempdirs.make(SCRATCH)
    except ShardError:  # no temporary folder (missing, read-only, full): the serial write needs none
        return 0
    written = 0
    try:
        window = WRITE_AHEAD * executor.jobs
        while written < len(tasks):
            part = tasks[written: written + window]
            scratch = [os.path.join(folder, f"shard-{written + k:06d}.jsonl") for k in range(len(part))]
            rendered = executor.imap(render_shard_lines, [(task[0], path, *task[1:])
                                                          for task, path in zip(part, scratch)])
            short = False
            for task, path, rows in zip(part, scratch, rendered):
                if rows is None:  # its scratch file could not be written: this shard goes as the serial write
                    shard, keep, extra, opts, digest, scored = task
                    _write_shard(shared, shard, opts, keep, extra, digest, scored)
                    short = True
                else:
                    _append_file(shared, path, rows)
                done(task[0])
            written += len(part)
            if short:
                break
    except BaseException:
        executor.close(failed=True)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return written


# Shards a worker may render ahead of the copy into the one output stream (each waits as a scratch file).
WRITE_AHEAD = 2
SCRATCH = "sievekit-write-"  # the prefix of the scratch folders under $TMPDIR


def _sweep_scratch() -> None:
    """Remove the scratch folders of killed runs (``kill -9`` gives a run no chance to): every write pass
    sweeps them, so a killed run's rendered shards go with the next write, whatever its -j or output."""
    with contextlib.suppress(OSError):  # no temporary directory at all: nothing there to sweep
        tempdirs.sweep(tempfile.gettempdir(), SCRATCH)


def render_shard_lines(shard: Shard, path: str, keep: np.ndarray, extra: dict[str, np.ndarray] | None,
                       opts: ReadOptions, digest: str | None, scored: ShardStats | None) -> int | None:
    """One shard's kept records as JSON lines in the scratch file ``path`` (a task: runs in a worker as well as
    here); returns how many it wrote, or None when the scratch file could not be written (its disk full, over
    quota, failing: an ``OSError`` under the writer's error), for the caller to write the shard itself. A
    reader's ``OSError`` comes back the same way, and the caller's own read of the shard then reports it."""
    try:
        with open_writer(path, shard, "none") as writer:
            assert isinstance(writer, JsonlWriter)  # the scratch name says JSON Lines
            _write_shard(writer, shard, opts, keep, extra, digest, scored)
            return writer.rows
    except ShardError as exc:
        if isinstance(exc.__cause__, OSError):
            return None
        raise


def _append_file(shared: JsonlWriter, path: str, rows: int) -> None:
    """Copy a rendered shard's lines into the output stream, then delete them."""
    with fs.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            shared.encoder.write(chunk)
    shared.rows += rows
    os.remove(path)


def _slice(extra: dict[str, np.ndarray] | None, lo: int, hi: int) -> dict[str, np.ndarray] | None:
    return {name: values[lo:hi] for name, values in extra.items()} if extra else None


def write_shard_file(shard: Shard, keep: np.ndarray, extra: dict[str, np.ndarray] | None, target: str,
                     opts: ReadOptions, output_compression: str | None, digest: str | None,
                     scored: ShardStats | None = None) -> int:
    """One shard's kept records into its own output file (a task: runs in a worker as well as here); returns
    the number of records written. ``scored``: the counters of the run's reader of the shard, if any."""
    with open_writer(target, shard, output_compression) as writer:
        _write_shard(writer, shard, opts, keep, extra, digest, scored)
    return int(keep.sum())


def _write_shard(writer: Any, shard: Shard, opts: ReadOptions, keep: np.ndarray,
                 extra: dict[str, np.ndarray] | None, digest: str | None, scored: ShardStats | None = None) -> None:
    """Write one shard's kept records (copied as lines where ``copies_lines`` says so, else parsed again);
    check it still matches its scores."""
    if isinstance(writer, JsonlWriter) and scored is not None and copies_lines(shard, len(keep), scored, digest):
        _copy_lines(writer, shard, opts, keep, extra, scored)
    else:
        _parse_and_write(writer, shard, opts, keep, extra, digest)


def copies_lines(shard: Shard, rows: int, scored: ShardStats, digest: str | None) -> bool:
    """Whether the kept records of ``shard`` may be copied as raw lines without parsing the shard again: a
    JSON Lines shard that a reader of this run (scoring, or dedupe's signing) parsed whole into exactly ``rows``
    records, skipping none, so that its non-blank lines are those records in order. Scores from sidecars come
    with no reader's counters (the shard was never parsed in this run), and a sidecar's ids (``digest``) are
    checked against the parsed shard."""
    return (shard.format == JSONL.name and digest is None and rows > 0 and scored.rows == rows
            and not any(scored.skipped.values()))


def _copy_lines(writer: JsonlWriter, shard: Shard, opts: ReadOptions, keep: np.ndarray,
                extra: dict[str, np.ndarray] | None, scored: ShardStats) -> None:
    """Copy the kept lines of a shard parsed whole before (``copies_lines``); the shard must still hold as many
    records in as many decoded bytes as its reader counted."""
    seen = ShardStats()
    rows = 0
    for start, lines in JSONL.raw_batches(shard.path, opts, seen, shard.label):
        sl = slice(start, start + len(lines))
        if extra:
            _check_clash_in_lines(shard, lines, extra)
        writer.write_lines(start, lines, keep[sl], {name: values[sl].tolist() for name, values in extra.items()}
                           if extra else None)
        rows = start + len(lines)
    _check_rows(shard, rows, len(keep))
    if seen.bytes != scored.bytes:
        raise ShardError(f"{shard.label} has {seen.bytes:,} bytes, {scored.bytes:,} when it was scored",
                         hint="the shard changed during the run; run again")


def _parse_and_write(writer: Any, shard: Shard, opts: ReadOptions, keep: np.ndarray,
                     extra: dict[str, np.ndarray] | None, digest: str | None) -> None:
    """Re-read one shard with every field and write its kept records; check it still matches its scores."""
    rows = 0
    ids = IdDigest()
    for batch in iter_batches(shard, opts, all_columns=True):
        if extra:
            _check_clash(shard, set(batch.field_counts()), extra)
        sl = slice(batch.start, batch.start + len(batch))
        cols = {name: values[sl].tolist() for name, values in extra.items()} if extra else None
        writer.write(batch, keep[sl], cols)
        rows += len(batch)
        if digest is not None:
            ids.update(batch.ids or [None] * len(batch))
    _check_rows(shard, rows, len(keep))
    if digest is not None and ids.hexdigest() != digest:
        raise ShardError(f"{shard.label}: its sidecar's ids differ from the shard's",
                         hint="the scores belong to other data; re-run `sievekit score` on these inputs")


def _check_rows(shard: Shard, rows: int, scores: int) -> None:
    if rows != scores:
        raise ShardError(f"{shard.label} has {rows} records but {scores} scores",
                         hint="the scores belong to other data, or the shard changed during the run")


def _check_clash_in_lines(shard: Shard, lines: list[bytes], extra: dict[str, np.ndarray]) -> None:
    try:
        fields = fields_among(lines, extra)
    except ValueError:
        raise ShardError(f"{shard.label}: a record is no longer JSON",
                         hint="the shard changed during the run; run again") from None
    _check_clash(shard, fields, extra)


def _check_clash(shard: Shard, fields: set[str], extra: dict[str, np.ndarray]) -> None:
    """Added fields (``--annotate``) never overwrite a record's own (``fields``: those the records hold)."""
    clash = sorted(set(extra) & fields)
    if clash:
        raise ConfigError(f"records of {shard.label} already have a field {', '.join(map(repr, clash))}, which "
                          f"{option('annotate')} would overwrite",
                          hint="rename that field in the data, or run without annotating")


def stat_fields(st: ShardStats) -> dict[str, Any]:
    return {"bytes_in": st.bytes, "text_bytes_in": st.text_bytes, "skipped": dict(st.skipped)}
