"""How a run reports its progress: the ``Progress`` protocol a caller implements, and the ``Tracker`` the
library reports through.

A run goes through phases (``select``: fit, score, write; ``score``: fit, score; ``dedupe``: sign, bucket,
cluster, filter). Each phase first announces its totals, then reports work as it is done:

- ``phase(name, total_bytes, total_shards, unit)``: a phase begins. ``total_bytes`` is the on-disk size of
  the input it reads (every shard's size is known up front), 0 where bytes do not measure the work (dedupe's
  bucket and cluster stages count bands and steps; ``unit`` names what is counted).
- ``advance(docs, nbytes)``: ``docs`` documents and ``nbytes`` bytes more are done. Over a phase the bytes
  add up to exactly ``total_bytes``, whatever the shards' codecs.
- ``shard_done()``: one more unit (a shard; a band in dedupe's bucket stage) is done.

A plain callable still works as ``RunOptions.progress``: it is called with the number of documents done.
Nothing here draws anything; ``sievekit.cli.progress`` renders these calls on a terminal or as log lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from sievekit.io import ReadOptions, Shard, ShardStats, fs
from sievekit.io.streams import STDIO, resolve_codec

# Decoded bytes per on-disk byte are unknown for a compressed or Parquet shard until one has been read;
# text compresses about 3 to 4 times, so start there and learn the real ratio from each finished shard.
FIRST_GUESS = 0.3


@runtime_checkable
class Progress(Protocol):
    """What a run reports to (see the module docstring for the order of calls)."""

    def phase(self, name: str, total_bytes: int, total_shards: int, unit: str = "shards") -> None: ...

    def advance(self, docs: int, nbytes: int = 0) -> None: ...

    def shard_done(self) -> None: ...


class NullProgress:
    """Reports to nobody: the default."""

    def phase(self, name: str, total_bytes: int, total_shards: int, unit: str = "shards") -> None:
        pass

    def advance(self, docs: int, nbytes: int = 0) -> None:
        pass

    def shard_done(self) -> None:
        pass


class DocsCallback(NullProgress):
    """A plain ``callback(docs)`` (what ``RunOptions.progress`` took before phases existed) as a ``Progress``."""

    def __init__(self, callback: Callable[[int], None]) -> None:
        self.callback = callback

    def advance(self, docs: int, nbytes: int = 0) -> None:
        if docs:
            self.callback(docs)


ProgressLike = Progress | Callable[[int], None] | None


def sizes_of(shards: Sequence[Shard]) -> list[int]:
    """Each shard's size on disk (0 where it cannot be known, e.g. unspooled stdin)."""
    out = []
    for shard in shards:
        try:
            out.append(fs.getsize(shard.path) if shard.path != STDIO else 0)
        except (OSError, ValueError):
            out.append(0)
    return out


class Tracker:
    """The library's side of progress: forwards to any ``ProgressLike`` and keeps the current phase's counts,
    so a phase can be settled (``complete``) and shards' bytes estimated as they are read (``meter``).

    Example:
        >>> seen = []
        >>> t = tracker(seen.append)
        >>> t.phase("score", 100, 2)
        >>> t.advance(5, 60); t.shard_done(); t.complete()
        >>> seen
        [5]
    """

    def __init__(self, sink: ProgressLike = None) -> None:
        if isinstance(sink, Progress):
            self.sink: Progress = sink
        elif callable(sink):
            self.sink = DocsCallback(sink)
        else:
            self.sink = NullProgress()
        self.total_bytes = self.total_units = self.bytes = self.units = 0
        self._ratios: dict[str, tuple[int, int]] = {}  # kind -> (on-disk bytes, decoded bytes) of finished tasks

    def phase(self, name: str, total_bytes: int, total_shards: int, unit: str = "shards") -> None:
        self.total_bytes, self.total_units, self.bytes, self.units = total_bytes, total_shards, 0, 0
        self.sink.phase(name, total_bytes, total_shards, unit)

    def advance(self, docs: int, nbytes: int = 0) -> None:
        nbytes = max(0, min(nbytes, self.total_bytes - self.bytes))  # never past the announced total
        if docs or nbytes:
            self.bytes += nbytes
            self.sink.advance(docs, nbytes)

    def shard_done(self) -> None:
        if self.units < self.total_units:
            self.units += 1
            self.sink.shard_done()

    def phase_of(self, name: str, shards: Sequence[Shard]) -> list[int]:
        """Begin a phase that reads ``shards``; returns their sizes."""
        sizes = sizes_of(shards)
        self.phase(name, sum(sizes), len(sizes))
        return sizes

    def complete(self) -> None:
        """Report what is left of the phase as done (for work that reports only when it ends)."""
        self.advance(0, self.total_bytes - self.bytes)
        for _ in range(self.units, self.total_units):
            self.shard_done()

    def track(self, name: str, shards: Sequence[Shard]) -> Sequence[Shard]:
        """Begin phase ``name`` over ``shards`` and return them as a sequence that reports each shard done
        when its consumer asks for the next one (or finishes): for work that handles shards in order."""
        return _Tracked(shards, self.phase_of(name, shards), self)

    def meter(self, shard: Shard, opts: ReadOptions, size: int) -> Meter:
        """A meter for one task that reads ``size`` on-disk bytes of ``shard``."""
        kind = f"{shard.format}:{resolve_codec(shard.path, opts.compression)}"
        disk, decoded = self._ratios.get(kind, (0, 0))
        ratio = disk / decoded if decoded else 1.0 if kind == "jsonl:none" else FIRST_GUESS
        return Meter(self, size, kind, ratio)

    def learn(self, kind: str, size: int, decoded: int) -> None:
        disk, dec = self._ratios.get(kind, (0, 0))
        self._ratios[kind] = (disk + size, dec + decoded)


def tracker(progress: ProgressLike | Tracker) -> Tracker:
    """``progress`` as a ``Tracker`` (itself, if it is one)."""
    return progress if isinstance(progress, Tracker) else Tracker(progress)


class Meter:
    """One task's share of a phase: its on-disk size, reported while its reader decodes it.

    A compressed shard decodes to more bytes than it holds and a Parquet reader counts its bytes only at
    the end, so the decoded count (text bytes for Parquet) is scaled by the ratio the finished tasks of the
    same kind showed (plain JSONL: exactly 1), held below the task's size, and settled by ``close``.
    """

    def __init__(self, owner: Tracker, size: int, kind: str, ratio: float) -> None:
        self.owner, self.size, self.kind, self.ratio = owner, size, kind, ratio
        self.docs = self.bytes = self.decoded = 0

    def update(self, docs: int, stats: ShardStats) -> None:
        """``docs`` more documents read; ``stats`` are the reader's counters for this task so far."""
        self.decoded = stats.bytes if self.kind.startswith("jsonl") else stats.text_bytes
        done = min(int(self.decoded * self.ratio), self.size)
        self.owner.advance(docs, done - self.bytes)
        self.docs += docs
        self.bytes = max(self.bytes, done)

    def close(self, docs: int | None = None) -> None:
        """The task is done: report its remaining bytes (and documents, if ``docs`` is its total)."""
        self.owner.advance(max(0, (docs or 0) - self.docs), self.size - self.bytes)
        if self.decoded:
            self.owner.learn(self.kind, self.size, self.decoded)
        self.docs, self.bytes = max(self.docs, docs or 0), self.size


class _Tracked(Sequence[Shard]):
    def __init__(self, shards: Sequence[Shard], sizes: Sequence[int], owner: Tracker) -> None:
        self.shards, self.sizes, self.owner = shards, sizes, owner

    def __len__(self) -> int:
        return len(self.shards)

    def __getitem__(self, i: int) -> Shard:  # type: ignore[override]
        return self.shards[i]

    def __iter__(self) -> Iterator[Shard]:
        for shard, size in zip(self.shards, self.sizes):
            yield shard
            self.owner.advance(0, size)
            self.owner.shard_done()
