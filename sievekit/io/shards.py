"""The run's manifest of input shards, and the one place that maps a shard to its reader and writer.

Inputs (files, directories, globs, or ``-``) expand into one sorted, de-duplicated list, so a document's
key (shard index, row) is the same on every run. Each shard writes to one output shard of the same name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sievekit.errors import ConfigError, InputError, ShardError
from sievekit.io import fs
from sievekit.io.batch import Batch
from sievekit.io.jsonl import JsonlWriter, iter_jsonl_batches
from sievekit.io.options import ReadOptions, ShardStats
from sievekit.io.parquet import ParquetWriter, iter_parquet_batches, parquet_layout, parquet_schema
from sievekit.io.spans import Span
from sievekit.io.streams import STDIO, atomic_output, codec_from_suffix, open_output

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
COMPRESSED = ("", ".gz", ".zst", ".zstd")
PARQUET_SUFFIXES = (".parquet", ".pq")
_KNOWN = tuple(s + c for s in JSONL_SUFFIXES for c in COMPRESSED) + PARQUET_SUFFIXES
_GLOB_CHARS = set("*?[")
# What sievekit itself writes beside the shards of an output directory; never read back as data.
RUN_ARTEFACTS = frozenset({"manifest.json", "state.json", "clusters.jsonl"})


@dataclass(frozen=True)
class Shard:
    """One input file of the run.

    Attributes:
        index: position in the manifest order (the first half of every document's key).
        path: the path as found (``-`` for stdin).
        name: the output name, relative to the output directory (the path below an input directory,
            else the file name).
        format: ``jsonl`` or ``parquet``.
        origin: what the user called it, where that is not ``path`` (``<stdin>`` for spooled stdin).
    """

    index: int
    path: str
    name: str
    format: str
    origin: str | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIO or self.origin == "<stdin>"

    @property
    def label(self) -> str:
        """The shard as error messages name it."""
        return "<stdin>" if self.is_stdin else self.origin or self.path


def shard_format(path: str) -> str | None:
    """``jsonl`` or ``parquet`` by the file's suffix, or None for a file that is not a shard."""
    base = path.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]
    if base in RUN_ARTEFACTS or base.startswith("manifest.part-") and base.endswith(".json"):
        return None
    name = path.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(tuple(s + c for s in JSONL_SUFFIXES for c in COMPRESSED)):
        return "jsonl"
    return None


def resolve_inputs(specs: Sequence[str]) -> list[Shard]:
    """Expand files, directories and globs into the sorted, de-duplicated manifest of shards.

    Raises:
        InputError: a path does not exist, a glob or directory matches no shard, or nothing is left.
        ConfigError: ``-`` is mixed with other inputs, or two shards would write to the same output name.
    """
    if not specs:
        raise InputError("<inputs>", "no inputs given", hint="pass files, directories or globs, or - for stdin")
    if STDIO in specs:
        if len(specs) > 1:
            raise ConfigError("'-' (stdin) cannot be combined with other inputs", hint="pass either - or paths")
        return [Shard(0, STDIO, "stdin.jsonl", "jsonl")]
    found: dict[str, str] = {}  # real path -> output name; the first spelling of a file wins
    for spec in specs:
        for path, name in _expand(spec):
            found.setdefault(fs.realpath(path), _posix(name) + "\0" + path)
    entries = sorted((value.split("\0", 1) for value in found.values()), key=lambda e: (e[1], e[0]))
    _check_names(entries)
    return [Shard(i, path, name, shard_format(path) or "jsonl") for i, (name, path) in enumerate(entries)]


def format_stem(name: str) -> str:
    """A shard name without its format and codec suffixes: ``a/b.jsonl.zst`` -> ``a/b``."""
    stem = name
    for suffix in (".gz", ".zst", ".zstd"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    for suffix in JSONL_SUFFIXES + PARQUET_SUFFIXES:
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def codec_suffix(name: str) -> str:
    return {"gzip": ".gz", "zstd": ".zst", "none": ""}[codec_from_suffix(name)]


def _expand(spec: str) -> list[tuple[str, str]]:
    if _GLOB_CHARS & set(spec.split("://", 1)[-1]):
        globbed = [p for p in fs.glob(spec) if shard_format(p)]
        if not globbed:
            raise InputError(spec, "the pattern matches no shard", hint=f"shards end in {', '.join(_KNOWN[:6])}, …")
        return [(p, fs.split(p)[1]) for p in globbed]
    if fs.isdir(spec):
        # Hidden files and folders (our own temporaries among them) are never shards.
        found = [(p, rel) for p, rel in fs.walk_files(spec)
                 if shard_format(p) and not any(part.startswith(".") for part in _posix(rel).split("/"))]
        if not found:
            raise InputError(spec, "the directory holds no shard", hint="shards end in .jsonl[.gz|.zst] or .parquet")
        return found
    if not fs.exists(spec):
        raise InputError(spec, "no such file or directory", hint="check the path")
    if shard_format(spec) is None:
        raise InputError(spec, "unknown shard format (by its suffix)",
                         hint="name JSON Lines files *.jsonl[.gz|.zst] and Parquet files *.parquet")
    return [(spec, fs.split(spec)[1])]


def _posix(name: str) -> str:
    return name.replace(os.sep, "/")


def _check_names(entries: list[list[str]]) -> None:
    seen: dict[str, str] = {}
    for name, path in entries:
        if name in seen:
            raise ConfigError(f"two inputs would write the same output name {name!r}: {seen[name]} and {path}",
                              hint="pass their common parent directory instead, so the names keep their subfolders")
        seen[name] = path


def iter_batches(shard: Shard, opts: ReadOptions, stats: ShardStats | None = None,
                 all_columns: bool = True, span: Span | None = None) -> Iterator[Batch]:
    """Stream one shard's records in batches (Parquet reads only text and id unless ``all_columns``); with a
    ``span``, only that piece of it, its rows counted from 0."""
    stats = stats if stats is not None else ShardStats()
    if shard.format == "parquet":
        groups = (span.start, span.stop, span.first_row) if span else None
        return iter_parquet_batches(shard.path, opts, stats, shard.index, all_columns, groups)
    return iter_jsonl_batches(shard.path, opts, stats, shard.index, (span.start, span.stop) if span else None)


def iter_texts(shards: Sequence[Shard], opts: ReadOptions) -> Iterator[str]:
    """Every text of the given shards, in manifest order."""
    for shard in shards:
        for batch in iter_batches(shard, opts, all_columns=False):
            yield from batch.texts


class BatchWriter(Protocol):
    rows: int

    def write(self, batch: Batch, keep: Any = None, extra: Any = None) -> None: ...


def output_target(output: str, shard: Shard) -> str:
    """Where a shard's output goes: ``-`` (stdout), one file, or ``DIR/<shard name>``."""
    if output == STDIO or shard_format(output) == "jsonl" and not fs.isdir(output):
        return output
    return fs.join(output, shard.name)


@contextlib.contextmanager
def open_writer(target: str, source: Shard, compression: str | None = None) -> Iterator[BatchWriter]:
    """A writer for ``target`` in its own format: Parquet keeps the source's schema and codec.

    Files are written under a temporary name and renamed only when the block completes.
    """
    if shard_format(target) == "parquet":
        if source.format != "parquet":
            raise ShardError(f"{target}: cannot write Parquet from JSON Lines input {source.label}",
                             hint="write to a directory (outputs keep their input's format) or to stdout")
        with atomic_output(target) as tmp, fs.open(tmp, "wb") as sink:
            codec, group_rows = parquet_layout(source.path)
            writer = ParquetWriter(sink, parquet_schema(source.path), codec, group_rows)
            yield writer
            writer.close()
        return
    with open_output(target, compression) as enc:
        yield JsonlWriter(enc)


def count_rows(path: str) -> int:
    """Records in a finished output file (a JSONL line count, or Parquet's row count)."""
    if shard_format(path) == "parquet":
        from sievekit.io.parquet import open_parquet

        return int(open_parquet(path).metadata.num_rows)
    from sievekit.io.streams import iter_decoded_chunks

    return sum(chunk.count(b"\n") for chunk in iter_decoded_chunks(path))
