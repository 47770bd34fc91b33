"""The run contract for output directories: a finished run is not redone, a changed one is not mixed in.

A run is described by its *job*: a JSON-safe dict of everything that decides its output (the command, the
rule and scoring source with each method's built config, the read options, the seed, and every input by
canonical path, size and modification stamp, or content hash for stdin). How a run goes (workers, executor,
split size, progress) is never part of it. The job's hash is the run's fingerprint.

A run that writes into a directory first records its job in ``.sievekit-run.json`` and writes
``manifest.json`` last. Re-running the same job finds the manifest and does nothing; a run killed half-way
resumes (shards already written are complete, as every file is renamed into place only when whole); a
different job is refused, naming what differs, unless ``overwrite``.
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
from sievekit.io import Shard, fs
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


def begin(output: str, job: Mapping[str, Any], overwrite: bool, name: str = MANIFEST) -> str:
    """Claim the directory ``output`` for ``job``.

    Returns:
        ``"new"`` (nothing there), ``"resume"`` (an unfinished run of the same job), or ``"done"`` (a
        finished run of the same job: nothing to do).

    Raises:
        ConfigError: the directory holds another run's results and ``overwrite`` is false; the message
            names each key that differs, with its old and new value.
    """
    job = _plain(job)
    fp = fingerprint(job)
    manifest, marker = (_read(fs.join(output, n)) for n in (name, marker_name(name)))
    other = next((p for p in (manifest, marker) if p is not None and p.get("fingerprint") != fp), None)
    if other is not None:
        if not overwrite:
            raise ConfigError(f"{output} holds the results of a different run ({_differences(other, job)})",
                              hint=f"pass {option('overwrite')} to replace them, or choose another output")
        clear(output, manifest, name)
        manifest = marker = None
    if manifest is not None and not _missing(manifest):
        return "done"
    state = "resume" if marker is not None or manifest is not None else "new"
    write_json(fs.join(output, marker_name(name)), {"format_version": FORMAT_VERSION, "fingerprint": fp,
                                                    "job": job})
    return state


@contextlib.contextmanager
def claimed(output: str, job: Mapping[str, Any], overwrite: bool, name: str = MANIFEST,
            task: str | None = None) -> Iterator[str]:
    """``begin`` for the block's duration, with the directory locked against other runs (a second run gets a
    one-line "in use by PID" error; ``task`` names one task of a staged run, which shares the directory with
    the run's other tasks). A new run refused by a usage error inside the block (which writes
    nothing) leaves no claim behind, so the directory is not taken by a run that never ran."""
    with contextlib.ExitStack() as stack:
        # A whole run holds the directory alone; the tasks of a staged run (``task``) share it with each other.
        stack.enter_context(locked(output, LOCK if name == MANIFEST else f".{name[:-5]}.lock", shared=bool(task)))
        if task:
            stack.enter_context(locked(output, f".sievekit-{task}.lock"))
        status = begin(output, job, overwrite, name)
        if status == "resume":
            sweep_temporaries(output)
        try:
            yield status
        except ConfigError:
            if status == "new" and fs.exists(fs.join(output, marker_name(name))):
                fs.remove(fs.join(output, marker_name(name)))
            raise


_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")


def sweep_temporaries(output: str) -> list[str]:
    """Remove the temporary files that killed runs left in ``output`` (``.NAME.tmp-PID`` of a dead PID)."""
    removed: list[str] = []
    try:
        found = fs.walk_files(output)
    except InputError:  # a broken link or unreadable folder in the output: not ours to judge here
        return removed
    for path, rel in found:
        match = _TEMPORARY.match(rel.replace(os.sep, "/").rsplit("/", 1)[-1])
        if match and not _alive(int(match.group(1))):
            fs.remove(path)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _missing(manifest: Mapping[str, Any]) -> bool:
    """Whether a file a finished run wrote is gone (deleted since): the run is then resumed to write it again."""
    listed = [e.get("output") for e in manifest.get("shards", [])] + list(manifest.get("files", []))
    return any(isinstance(p, str) and p != STDIO and not fs.exists(p) for p in listed)


def finish(output: str, job: Mapping[str, Any], manifest: Mapping[str, Any], name: str = MANIFEST) -> None:
    """Write the manifest last (its presence means the run completed), then drop the run marker."""
    job = _plain(job)
    record = {"format_version": FORMAT_VERSION, "sievekit_version": __version__, "fingerprint": fingerprint(job),
              "job": job, **manifest}
    write_json(fs.join(output, name), record)
    if fs.exists(fs.join(output, marker_name(name))):
        fs.remove(fs.join(output, marker_name(name)))


def load_manifest(output: str, name: str = MANIFEST) -> dict[str, Any] | None:
    return _read(fs.join(output, name))


def clear(output: str, manifest: Mapping[str, Any] | None, name: str = MANIFEST) -> None:
    """Remove what the previous run wrote (the files its manifest lists) and its bookkeeping."""
    listed = [e.get("output") for e in (manifest or {}).get("shards", [])] + list((manifest or {}).get("files", []))
    for path in listed:
        if isinstance(path, str) and path != STDIO and fs.isfile(path):
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


def _read(path: str) -> dict[str, Any] | None:
    if not fs.exists(path):
        return None
    try:
        data = json.loads(fs.read_text(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable run record ({exc})",
                          hint=f"remove it, or pass {option('overwrite')}") from exc
    return data if isinstance(data, dict) else None


def write_json(path: str, obj: Any) -> None:
    with atomic_output(path) as tmp:
        fs.write_text(tmp, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
