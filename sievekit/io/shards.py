"""The run's manifest of input shards, and the one place that maps a shard to its reader and writer.

Inputs (files, directories, globs, or ``-``) expand into one sorted, de-duplicated list, so a document's
key (shard index, row) is the same on every run. Each shard writes to one output shard of the same name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sievekit.errors import ConfigError, InputError, option
from sievekit.io import formats, fs
from sievekit.io.batch import Batch
from sievekit.io.formats import BatchWriter
from sievekit.io.jsonl import JSONL
from sievekit.io.options import ReadOptions, ShardStats, Span
from sievekit.io.parquet import PARQUET
from sievekit.io.streams import STDIO, codec_from_suffix

# The formats' own suffix tables, under their former names.
JSONL_SUFFIXES = JSONL.stems
COMPRESSED = JSONL.codecs
PARQUET_SUFFIXES = PARQUET.stems
_KNOWN = tuple(suffix for fmt in formats.FORMATS for suffix in formats.suffixes(fmt))
_GLOB_CHARS = set("*?[")
# What sievekit itself writes beside the shards of an output directory; never read back as data.
RUN_ARTEFACTS = frozenset({"manifest.json", "state.json", "clusters.jsonl"})
# The manifest beside a single output file (``kept.jsonl.manifest.json``), and an array task's manifest.
RUN_RECORD_SUFFIX = ".manifest.json"


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
    if base in RUN_ARTEFACTS or base.endswith(RUN_RECORD_SUFFIX) or base.startswith("manifest.part-") and \
            base.endswith(".json"):
        return None
    fmt = formats.for_path(path)
    return None if fmt is None else fmt.name


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
        return [Shard(0, STDIO, "stdin.jsonl", formats.DEFAULT.name)]
    found: dict[str, str] = {}  # real path -> output name; the first spelling of a file wins
    for spec in specs:
        for path, name in _expand(spec):
            found.setdefault(fs.realpath(path), _posix(name) + "\0" + path)
    entries = sorted((value.split("\0", 1) for value in found.values()), key=lambda e: (e[1], e[0]))
    _check_names(entries)
    return [Shard(i, path, name, shard_format(path) or formats.DEFAULT.name) for i, (name, path) in enumerate(entries)]


def format_stem(name: str) -> str:
    """A shard name without its format and codec suffixes: ``a/b.jsonl.zst`` -> ``a/b``."""
    return formats.stem(name)


def codec_suffix(name: str) -> str:
    return {"gzip": ".gz", "zstd": ".zst", "none": ""}[codec_from_suffix(name)]


def _expand(spec: str) -> list[tuple[str, str]]:
    # A path that exists is taken as written, so a file named ``run[1].jsonl`` is not read as a pattern.
    if _GLOB_CHARS & set(spec.split("://", 1)[-1]) and not fs.exists(spec):
        globbed = [p for p in fs.glob(spec) if shard_format(p)]
        if not globbed:
            raise InputError(spec, "the pattern matches no shard", hint=f"shards end in {', '.join(_KNOWN[:6])}, …")
        return [(p, fs.split(p)[1]) for p in globbed]
    if fs.isdir(spec):
        # Hidden files and folders (our own temporaries among them) are never shards; nor are the fitted states
        # (``state/METHOD.json``) in the output directory of a run (one with a manifest), e.g. ``score --inline``.
        run_output = fs.isfile(fs.join(spec, "manifest.json"))
        found = [(p, rel) for p, rel in fs.walk_files(spec, skip_hidden=True)
                 if shard_format(p) and not any(part.startswith(".") for part in _posix(rel).split("/"))
                 and not (run_output and _is_state(rel))]
        if not found:
            raise InputError(spec, "the directory holds no shard", hint="shards end in .jsonl[.gz|.zst] or .parquet")
        # A file reached both directly and through a linked folder keeps its direct name (the first spelling of
        # a file wins in resolve_inputs).
        top = fs.realpath(spec)
        return sorted(found, key=lambda e: fs.is_url(spec) or fs.realpath(e[0]) != os.path.join(top, e[1]))
    if not fs.exists(spec):
        raise InputError(spec, "no such file or directory", hint="check the path")
    if shard_format(spec) is None:
        raise InputError(spec, "unknown shard format (by its suffix)",
                         hint="name JSON Lines files *.jsonl[.gz|.zst] and Parquet files *.parquet")
    return [(spec, fs.split(spec)[1])]


def _is_state(rel: str) -> bool:
    parts = _posix(rel).split("/")
    return len(parts) == 2 and parts[0] == "state" and parts[1].endswith(".json")


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
    ``span``, only that piece of it, its rows counted from 0. Errors name the shard by its label."""
    stats = stats if stats is not None else ShardStats()
    return formats.by_name(shard.format).iter_batches(shard.path, opts, stats, shard.index, all_columns, span,
                                                      shard.label)


def require_documents(shards: Sequence[Shard], opts: ReadOptions, command: str) -> None:
    """Refuse an empty pool (bad data, exit 1): stop at the first record found, so a pool with documents
    costs one batch of its first non-empty shard; an empty one costs a read of what little it holds.

    Raises:
        InputError: no shard holds a single record (empty files, only blank lines, or every record skipped).
    """
    for shard in shards:
        for batch in iter_batches(shard, opts, all_columns=False):
            if len(batch):
                return
    where = shards[0].label if len(shards) == 1 else f"{len(shards)} shards"
    raise InputError(where, f"the pool holds no documents, so there is nothing to {command}",
                     hint="check the inputs: an empty file, or every record skipped as bad under "
                     f"{option('on_bad_record')} skip")


def iter_texts(shards: Sequence[Shard], opts: ReadOptions) -> Iterator[str]:
    """Every text of the given shards, in manifest order."""
    for shard in shards:
        for batch in iter_batches(shard, opts, all_columns=False):
            yield from batch.texts


def open_writer(target: str, source: Shard, compression: str | None = None) -> AbstractContextManager[BatchWriter]:
    """A writer for ``target`` in its own format (stdout writes JSON Lines): Parquet keeps the source's schema
    and codec. Files are written under a temporary name and renamed only when the block completes.

    Raises:
        ConfigError: the target's name contradicts ``compression`` (gzip bytes under ``x.jsonl``).
        ShardError: the target cannot be written in its format from this source, or the disk fails.
    """
    fmt = (formats.for_path(target) if target != STDIO else None) or formats.DEFAULT
    return fmt.open_writer(target, compression, like=source.path if source.format == fmt.name else None,
                           source=source.label)


def count_rows(path: str) -> int:
    """Records in a finished output file (a JSONL line count, or Parquet's row count)."""
    return (formats.for_path(path) or formats.DEFAULT).count_rows(path)

