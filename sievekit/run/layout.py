"""Every path a run writes, decided in one place and checked before anything is written.

``Layout`` names the outputs of a run (output shards, sidecars, states, manifests, span parts, the
clusters file) and where the run contract keeps their records (``manifest.json`` inside a directory,
``NAME.manifest.json`` beside a single file ``NAME``, none for stdout), and claims and finishes the output
through ``run.contract``; ``check`` compares every path a run will write with every path it reads and with
each other, so no run overwrites its own input and no two outputs land on one file.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sievekit.errors import ConfigError, option
from sievekit.io import Shard, formats, fs
from sievekit.io.shards import codec_suffix, format_stem, shard_format
from sievekit.io.streams import STDIO, check_output_codec
from sievekit.run import contract
from sievekit.run.contract import MANIFEST, lock_name, marker_name

CODEC_SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}
FILE_MANIFEST = ".manifest.json"  # beside a single output file: ``kept.jsonl`` -> ``kept.jsonl.manifest.json``
Paths = Iterable[tuple[str, str]]  # (what, path): what names the path in an error message


def sidecar_name(shard: Shard) -> str:
    """``a/b.jsonl.zst`` scores go to ``a/b.scores.jsonl.zst``; a Parquet shard's to ``a/b.scores.jsonl``."""
    return f"{format_stem(shard.name)}.scores.jsonl{codec_suffix(shard.name)}"


def _bare_stem(name: str) -> str:
    """``name`` without every format and codec suffix it ends in: ``x.jsonl.parquet`` -> ``x`` (one pass would
    leave ``x.jsonl``, and a hint built on it would say ``x.jsonl.jsonl.zst``)."""
    while (shorter := format_stem(name)) != name:
        name = shorter
    return name


def span_part(path: str, index: int) -> str:
    """The hidden file that holds span ``index`` of a sidecar until the spans are joined."""
    head, name = fs.split(path)
    return fs.join(head, f".{name}.span-{index:05d}")


@dataclass(frozen=True)
class Layout:
    """Where one run writes: stdout, one file, or a directory of one output per input shard."""

    output: str
    codec: str | None = None  # the output compression asked for (None: each output keeps its input's codec)

    def __post_init__(self) -> None:
        if not self.output.strip():
            raise ConfigError(f"{option('output')} is empty", hint="give a directory, a .jsonl file, or - for stdout")
        if self.kind == "file":
            check_output_codec(self.output, self.codec)  # a name the user chose is refused, never changed
            special = fs.special_kind(self.output)
            if special is not None:  # written beside and renamed over, it would be replaced (``-o pipe.jsonl``)
                raise ConfigError(f"{option('output')} {self.output} is {special}, which the output (written "
                                  "beside it and renamed over it) would replace",
                                  hint=f"pass {option('output')} - and redirect stdout to it")
            if not fs.is_url(self.output) and os.path.islink(self.output):
                # written through, as the shell's ``>`` does: the file is the link's target (its records beside
                # it), so ``-o latest.jsonl`` and ``-o runs/today.jsonl`` are one output, and the link stays
                object.__setattr__(self, "output", fs.realpath(self.output))

    @classmethod
    def of_output(cls, output: str, codec: str | None = None, single: bool = True) -> Layout:
        """The layout of what a run writes (``single``: the command can write one stream). A name that says one
        file of a format whose files cannot take every shard (``-o kept.parquet``) is refused: made a directory of
        that name, it would hold JSON Lines shards."""
        out = cls(output, codec)
        fmt = shard_format(output)
        if fmt is None and codec_suffix(output):  # ``kept.parquet.zst``: still one Parquet file, named with a codec
            inner = shard_format(output.rpartition(".")[0])
            fmt = inner if inner is not None and not formats.by_name(inner).concatenates else None
        if out.kind == "dir" and fmt is not None and not output.endswith("/") and not fs.isdir(output):
            head, base = fs.split(output)
            name = _bare_stem(base) or "kept"  # ``-o .parquet``: the hint must not say ``-o /``
            stem = fs.join(head, name) if head else name
            one = f", or one JSON Lines file ({option('output')} {stem}.jsonl.zst)" if single else ""
            raise ConfigError(f"{option('output')} {output} names one {fmt} file, which sievekit does not write: a "
                              "run writes one output per input shard into a directory (each keeping its format)"
                              + (", or one JSON Lines stream" if single else ""),
                              hint=f"pass a directory ({option('output')} {stem}/){one}")
        return out

    @functools.cached_property
    def kind(self) -> str:
        """``stdout``, ``file`` or ``dir``, decided once (for a URL each look is a round trip)."""
        if self.output == STDIO:
            return "stdout"
        if self.output.endswith("/"):  # ``-o picked.jsonl/`` asks for a directory, whatever its name
            return "dir"
        fmt = shard_format(self.output)  # a format whose files concatenate (JSONL) can take every shard in one
        if fmt is not None and formats.by_name(fmt).concatenates and not fs.isdir(self.output):
            return "file"
        return "dir"

    @property
    def single(self) -> bool:
        """One stream for every shard (stdout or one file), in manifest order."""
        return self.kind != "dir"

    def shard_output(self, shard: Shard) -> str:
        """The output of ``shard``: the one stream, or ``DIR/<shard name>``, its codec suffix changed to the output
        compression asked for (``a.jsonl`` with gzip -> ``a.jsonl.gz``), so a name always tells its codec."""
        if self.single:
            return self.output
        name = shard.name
        if self.codec not in (None, "infer") and shard.format == "jsonl":
            suffix = codec_suffix(name)
            name = (name[: -len(suffix)] if suffix else name) + CODEC_SUFFIX[self.codec]
        return fs.join(self.output, name)

    def sidecar(self, shard: Shard) -> str:
        return fs.join(self.output, sidecar_name(shard))

    def state(self, method: str) -> str:
        return fs.join(self.output, "state", f"{method}.json")

    @property
    def place(self) -> str | None:
        """What a later run would read back of this output (a directory, or the one file): it must not be
        inside an input directory. None for stdout."""
        return None if self.kind == "stdout" else self.output

    def records_at(self, name: str = MANIFEST) -> tuple[str, str]:
        """Where the run contract keeps this output's records: (folder, manifest name). A directory holds
        ``name``; a single file's are beside it, named after the whole file name (``kept.jsonl`` and
        ``kept.jsonl.gz`` keep theirs apart)."""
        if self.kind != "file":
            return self.output, name
        head, base = fs.split(self.output)
        return head, base + FILE_MANIFEST

    def record(self, name: str = MANIFEST) -> list[tuple[str, str]]:
        """The run's bookkeeping files: its manifest, its run marker and its lock (none for stdout)."""
        if self.kind == "stdout":
            return []
        folder, manifest = self.records_at(name)
        return [("the run manifest", fs.join(folder, manifest)),
                ("the run marker", fs.join(folder, marker_name(manifest))),
                ("the run lock", fs.join(folder, lock_name(manifest)))]

    def claimed(self, job: Mapping[str, Any], overwrite: bool, guard: Paths = (), name: str = MANIFEST,
                task: str | None = None) -> contextlib.AbstractContextManager[str]:
        """``contract.claimed`` for this output (stdout: always a new run, never locked). ``guard``: the
        (what, path) files the run will write, refused when they exist and no run of this output wrote them."""
        if self.kind == "stdout":
            return contextlib.nullcontext("new")
        folder, manifest = self.records_at(name)
        return contract.claimed(folder, job, overwrite, manifest, task, guard=list(guard), label=self.output,
                                files=[self.output] if self.kind == "file" else None)

    def finish(self, job: Mapping[str, Any], manifest: Mapping[str, Any], name: str = MANIFEST) -> None:
        """Record the finished run (nothing for stdout)."""
        if self.kind != "stdout":
            folder, record = self.records_at(name)
            contract.finish(folder, job, manifest, record)

    def load_manifest(self, name: str = MANIFEST) -> dict[str, Any] | None:
        return None if self.kind == "stdout" else contract.load_manifest(*self.records_at(name))

    def clusters(self, given: str | None) -> str | None:
        """Where dedupe's clusters file goes: where asked, else beside the shards of a directory output, or beside
        a single output file (``out/kept.jsonl.zst`` -> ``out/kept.clusters.jsonl``); stdout output has none."""
        if given == STDIO:
            # the clusters file is copied from the work dir to a path; "-" would become a file named "-"
            raise ConfigError(f"{option('clusters')} cannot be '-': the clusters file is written to a path, and "
                              "stdout holds only the kept records",
                              hint=f"give a file, e.g. {option('clusters')} clusters.jsonl")
        if given is not None:
            if shard_format(given) not in (None, "jsonl") or codec_suffix(given):
                # the clusters file is copied as plain JSON Lines: a name saying Parquet or a codec would be a lie
                # that the next reader (``report``) trips over
                raise ConfigError(f"{option('clusters')} {given}: the clusters file is written as plain JSON Lines,"
                                  " which that name does not say",
                                  hint=f"give a .jsonl name, e.g. {option('clusters')} "
                                       f"{format_stem(given) or 'clusters'}.jsonl")
            return given
        if self.kind == "dir":
            return fs.join(self.output, "clusters.jsonl")
        if self.kind == "file":
            return re.sub(r"(\.(jsonl|ndjson|json))?(\.(gz|zst|zstd))?$", "", self.output, count=1) + ".clusters.jsonl"
        return None

    def outputs(self, shards: Sequence[Shard]) -> list[tuple[str, str]]:
        if self.kind == "stdout":
            return []
        if self.single:
            return [("the output", self.output)]
        return [(f"the output of {s.label}", self.shard_output(s)) for s in shards]


def check(writes: Paths, reads: Paths, input_dirs: Sequence[str] = (), output_dir: str | None = None, *,
          named: str = "the output", flag: str = "output") -> None:
    """Refuse a run that would write over what it reads, or write two things to one path.

    ``writes`` and ``reads`` are (what, path) pairs; ``input_dirs`` are the directories given as inputs,
    which must not hold ``output_dir`` (an output directory or single output file: the next run would read
    it back as input); ``named`` and ``flag`` name that path in messages (``the clusters file``, ``clusters``).

    Raises:
        ConfigError: naming both sides of the clash.
    """
    read: dict[str, tuple[str, str]] = {}
    for what, path in reads:
        if path and path != STDIO:
            read.setdefault(fs.realpath(path), (what, path))
    written: dict[str, str] = {}
    for what, path in writes:
        if not path or path == STDIO:
            continue
        key = fs.realpath(path)
        if key in read:
            raise ConfigError(f"{what} would overwrite {read[key][0]}: {path}", hint="choose another output path")
        if key in written:
            raise ConfigError(f"{written[key]} and {what} would both be written to {path}",
                              hint="rename one of the inputs, or choose other output paths")
        written[key] = what
    if output_dir is not None:
        out = fs.realpath(output_dir)
        for spec in input_dirs:
            if not fs.isdir(spec):  # a pattern: the output must not be among what it matches
                if fnmatch.fnmatchcase(out, fs.realpath(spec)) or fnmatch.fnmatchcase(output_dir, spec):
                    raise ConfigError(f"{named} {output_dir} matches the input pattern {spec}",
                                      hint=f"choose {option(flag)} outside what the pattern matches; a later run "
                                      "would read it as an input")
                continue
            root = fs.realpath(spec)
            if out == root or out.startswith(root.rstrip("/") + "/"):
                raise ConfigError(f"{named} {output_dir} is inside the input directory {spec}",
                                  hint=f"choose {option(flag)} outside the inputs; a later run would read "
                                  "the outputs as inputs")


def input_dirs(specs: Sequence[str]) -> list[str]:
    """The inputs that name a place rather than one file: directories, and glob patterns (a later run's
    pattern would match an output written where it looks)."""
    return [s for s in specs if s != STDIO and (fs.isdir(s) or _GLOB.search(s) is not None and not fs.exists(s))]


_GLOB = re.compile(r"[*?\[]")


def reads_of(shards: Sequence[Shard], what: str = "an input") -> list[tuple[str, str]]:
    return [(what, s.path) for s in shards if not s.is_stdin]
