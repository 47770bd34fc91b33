"""The run contract for outputs: a finished run is not redone, a changed one is not mixed in, and nothing a
user (or another run) wrote is replaced by surprise.

A run is described by its *job*: a JSON-safe dict of everything that decides its output (the command, the
rule and scoring source with each method's built config, the read options, the seed, and every input by
canonical path, size and modification stamp, or content hash for stdin). How a run goes (workers, executor,
split size, progress) is never part of it. The job's hash is the run's fingerprint.

A run first records its job in a run marker and writes its manifest last: inside an output directory
``.sievekit-run.json`` and ``manifest.json``; beside a single output file ``kept.jsonl`` the hidden
``.kept.jsonl.manifest.run.json`` and ``kept.jsonl.manifest.json`` (``run.layout`` says where). Re-running
the same job finds the manifest and does nothing; a run killed half-way resumes (every file is renamed into
place only when whole); a different job is refused, naming what differs, unless ``overwrite``; so is a new
run whose outputs already exist but were not written by a run of this output. A lock beside the records
keeps a second run out while one runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sievekit.errors import ConfigError, InputError, option
from sievekit.io import Shard, fs, tempdirs
from sievekit.io.locks import LOCK, locked
from sievekit.io.streams import STDIO, atomic_output
from sievekit.version import __version__

MARKER = ".sievekit-run.json"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def describe_inputs(shards: Sequence[Shard]) -> list[dict[str, Any]]:
    """Each input by canonical path, output name, size and stamp (stdin, spooled: by its content hash)."""
    out: list[dict[str, Any]] = []
    for shard in shards:
        if shard.is_stdin:
            out.append({"name": shard.name, "path": "<stdin>", "sha256": fs.sha256(shard.path)})
            continue
        size, stamp = fs.stat_key(shard.path)
        out.append({"name": shard.name, "path": fs.realpath(shard.path), "size": size, "stamp": stamp})
    return out


def fingerprint(job: Mapping[str, Any]) -> str:
    """A stable hash of a job description."""
    blob = json.dumps(_plain(job), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def part_name(part: tuple[int, int] | None) -> str:
    """The manifest of a whole run, or of array task I of N (``manifest.part-0003-of-0010.json``)."""
    return MANIFEST if part is None else f"manifest.part-{part[0]:04d}-of-{part[1]:04d}.json"


def marker_name(name: str = MANIFEST) -> str:
    return MARKER if name == MANIFEST else f".{name[:-5]}.run.json"


def lock_name(name: str = MANIFEST) -> str:
    """The lock a whole run of the manifest ``name`` holds, beside it."""
    return LOCK if name == MANIFEST else f".{name[:-5]}.lock"


def begin(output: str, job: Mapping[str, Any], overwrite: bool, name: str = MANIFEST, *,
          guard: Sequence[tuple[str, str]] = (), label: str | None = None, keep: Sequence[str] = ()) -> str:
    """Claim ``output`` (the directory that holds the run's records, ``name`` and its marker) for ``job``.

    ``guard`` lists (what, path) for each file the run will write: a new run (no records of this output)
    refuses to replace one that exists, unless ``overwrite``. ``label`` names the output in messages (a
    single file, whose records sit in its directory). ``keep``: files an ``overwrite`` leaves for the run to
    replace whole, rather than removing them first (a single output file stays until its successor is
    complete).

    Returns:
        ``"new"`` (nothing there), ``"resume"`` (an unfinished run of the same job), or ``"done"`` (a
        finished run of the same job: nothing to do).

    Raises:
        ConfigError: the output holds another run's results, or a file the run would write exists and no
            run of this output wrote it, and ``overwrite`` is false; the message names each key that
            differs (old and new value), or the file, and ``--overwrite``.
    """
    job = _plain(job)
    fp = fingerprint(job)
    label = label or output
    # Looked at before the records: a run writes its marker before any output, so an output seen here
    # without a marker seen next was not written by a run of this output.
    existing = [(what, path) for what, path in guard if path and path != STDIO and fs.isfile(path)]
    manifest, marker = (_read(fs.join(output, n), overwrite) for n in (name, marker_name(name)))
    other = next((p for p in (manifest, marker) if p is not None and p.get("fingerprint") != fp), None)
    if other is not None:
        if not overwrite:
            raise ConfigError(f"{label} holds the results of a different run ({_differences(other, job)}); "
                              f"pass {option('overwrite')} to replace them", hint=_REPLACE)
        clear(output, manifest, name, keep)
        manifest = marker = None
    elif manifest is None and marker is None and existing and not overwrite:
        what, path = existing[0]
        whose = "" if fs.realpath(path) == fs.realpath(label) else f" ({what} of {label})"
        raise ConfigError(f"{path}{whose} already exists and no sievekit run recorded writing it; pass "
                          f"{option('overwrite')} to replace it", hint=_REPLACE)
    if manifest is not None and not _missing(manifest, output):
        return "done"
    state = "resume" if marker is not None or manifest is not None else "new"
    write_json(fs.join(output, marker_name(name)), {"format_version": FORMAT_VERSION, "fingerprint": fp,
                                                    "job": job})
    return state


_REPLACE = (f"to replace an output on purpose (a scheduled job whose inputs change), pass {option('overwrite')}; "
            "or choose another output")


@contextlib.contextmanager
def claimed(output: str, job: Mapping[str, Any], overwrite: bool, name: str = MANIFEST,
            task: str | None = None, *, guard: Sequence[tuple[str, str]] = (), label: str | None = None,
            files: Sequence[str] | None = None) -> Iterator[str]:
    """``begin`` for the block's duration, with the output locked against other runs (a second run gets a
    one-line "in use by PID" error; ``task`` names one task of a staged run, which shares the output with
    the run's other tasks). A new run refused by a usage error inside the block (which writes
    nothing) leaves no claim behind, so the output is not taken by a run that never ran. ``files``: the
    output is these files beside other things (a single file in a folder that is not the run's): a resumed
    run sweeps only their temporaries, and an ``overwrite`` lets the run replace them whole."""
    with contextlib.ExitStack() as stack:
        # A whole run holds the output alone; the tasks of a staged run (``task``) share it with each other.
        folder = output or "."  # a single file named without a folder: its records are in the current one
        stack.enter_context(locked(folder, lock_name(name), shared=bool(task),
                                   label=label))
        if task:
            stack.enter_context(locked(folder, f".sievekit-{task}.lock", label=label))
        status = begin(output, job, overwrite, name, guard=guard, label=label, keep=files or ())
        if status == "resume":
            sweep_temporaries(output, files)
        try:
            yield status
        except ConfigError:
            if status == "new" and fs.exists(fs.join(output, marker_name(name))):
                fs.remove(fs.join(output, marker_name(name)))
            raise


_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")


def sweep_temporaries(output: str, files: Sequence[str] | None = None) -> list[str]:
    """Remove the temporary files that killed runs left in ``output`` (``.NAME.tmp-PID`` of a dead PID); with
    ``files``, only theirs (the folder of a single output file holds other people's files)."""
    removed: list[str] = []
    try:
        found = fs.walk_files(output) if files is None else _temporaries_of(files)
    except (InputError, OSError):  # a broken link or unreadable folder in the output: not ours to judge here
        return removed
    for path, rel in found:
        match = _TEMPORARY.match(rel.replace(os.sep, "/").rsplit("/", 1)[-1])
        if match and not tempdirs.alive(int(match.group(1))):
            fs.remove(path)
            removed.append(path)
    return removed


def _temporaries_of(files: Sequence[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in files:
        head, name = fs.split(path)
        prefix = f".{name}.tmp-"
        found += [(fs.join(head, n), n) for n in fs.listdir(head or ".") if n.startswith(prefix)]
    return found


def _written(manifest: Mapping[str, Any] | None, output: str) -> list[str]:
    """The files a finished run wrote: ``written`` (relative to ``output``, the folder of the records, so a
    moved or copied output still names its own files), or, in a manifest from before that key, as the run
    spelled them (relative to the directory it ran in)."""
    if manifest is None:
        return []
    listed = manifest.get("written")
    if isinstance(listed, list):
        return [fs.join(output, p) for p in dict.fromkeys(listed) if isinstance(p, str) and _inside(p)]
    listed = [e.get("output") for e in manifest.get("shards", [])] + list(manifest.get("files", []))
    # only those that, read from here, lie inside the output: never someone else's file
    return [p for p in dict.fromkeys(listed) if isinstance(p, str) and p and p != STDIO
            and _relative(p, output) is not None]


def _inside(rel: str) -> bool:
    """A ``written`` entry that stays inside the output (a damaged or hand-made record must not point a
    later ``--overwrite`` at files elsewhere)."""
    return bool(rel) and not rel.startswith("/") and "://" not in rel and ".." not in rel.replace("\\", "/").split("/")


def _relative(path: str, output: str) -> str | None:
    """``path`` relative to ``output``, or None when it lies elsewhere (an explicit ``--clusters FILE``)."""
    base, full = fs.realpath(output or "."), fs.realpath(path)
    return full[len(base.rstrip("/")) + 1:] if full.startswith(base.rstrip("/") + "/") else None


def _missing(manifest: Mapping[str, Any], output: str) -> bool:
    """Whether a file a finished run wrote is gone (deleted since): the run is then resumed to write it again."""
    return any(not fs.exists(p) for p in _written(manifest, output))


def finish(output: str, job: Mapping[str, Any], manifest: Mapping[str, Any], name: str = MANIFEST) -> None:
    """Write the manifest last (its presence means the run completed), then drop the run marker. The manifest
    lists the files the run wrote inside ``output`` relative to it (``written``), so a later run, from any
    working directory or after the output was moved, checks and clears exactly those."""
    job = _plain(job)
    listed = [e.get("output") for e in manifest.get("shards", [])] + list(manifest.get("files", []))
    written = [_relative(p, output) for p in dict.fromkeys(listed) if isinstance(p, str) and p and p != STDIO]
    record = {"format_version": FORMAT_VERSION, "sievekit_version": __version__, "fingerprint": fingerprint(job),
              "job": job, **manifest, "written": [p for p in written if p is not None]}
    write_json(fs.join(output, name), record)
    if fs.exists(fs.join(output, marker_name(name))):
        fs.remove(fs.join(output, marker_name(name)))


def load_manifest(output: str, name: str = MANIFEST) -> dict[str, Any] | None:
    return _read(fs.join(output, name))


def clear(output: str, manifest: Mapping[str, Any] | None, name: str = MANIFEST, keep: Sequence[str] = ()) -> None:
    """Remove what the previous run wrote (the files its manifest lists, but ``keep``) and its bookkeeping."""
    kept = {fs.realpath(p) for p in keep}
    for path in _written(manifest, output):
        if fs.isfile(path) and fs.realpath(path) not in kept:
            fs.remove(path)
    for record in (name, marker_name(name)):
        if fs.exists(fs.join(output, record)):
            fs.remove(fs.join(output, record))


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    before = old.get("job")
    if not isinstance(before, Mapping):
        return "written by an earlier sievekit version, or by hand"
    if before.get("command") != new.get("command"):
        return f"written by `sievekit {before.get('command')}`, not `sievekit {new.get('command')}`"
    a, b = _flatten(before), _flatten(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, _MISSING) != b.get(k, _MISSING))
    shown = [f"{k}: {_short(a.get(k, _MISSING))} then, {_short(b.get(k, _MISSING))} now" for k in keys[:4]]
    more = f"; and {len(keys) - 4} more" if len(keys) > 4 else ""
    return "; ".join(shown) + more if shown else "other options"


_MISSING = "<unset>"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys; lists of named entries (inputs) keyed by their names."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, Mapping) and "name" in v for v in value):
        out = {}
        for item in value:
            out.update(_flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}[{item['name']}]"))
        return out
    return {prefix: value}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(obj: Any) -> Any:
    """The JSON form of a job (tuples become lists, so a job compares equal to its stored copy)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _read(path: str, overwrite: bool = False) -> dict[str, Any] | None:
    """A run record, or None when there is none (or it is damaged and ``overwrite`` asks to replace it)."""
    if not fs.exists(path):
        return None
    try:
        data = json.loads(fs.read_text(path))
    except (OSError, ValueError) as exc:
        if overwrite and fs.isfile(path):
            fs.remove(path)  # what it said is lost; the outputs it listed are replaced by this run
            return None
        raise ConfigError(f"{path}: unreadable run record ({exc})",
                          hint=f"remove it, or pass {option('overwrite')}") from exc
    return data if isinstance(data, dict) else None


def write_json(path: str, obj: Any) -> None:
    with atomic_output(path) as tmp:
        fs.write_text(tmp, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
