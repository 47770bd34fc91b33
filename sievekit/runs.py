"""Run bookkeeping for output directories: finished runs are not redone, changed ones are not mixed.

A run that writes into a directory first records its fingerprint (a hash of the command, the options
that change the output, and each input's name, size and modification time) in ``.sievekit-run.json``,
and writes ``manifest.json`` last. Re-running the same command finds the manifest with the same
fingerprint and does nothing; a run killed half-way resumes (shards already written are complete, as
every file is renamed into place only when whole); a different command or changed inputs is refused
unless ``--overwrite``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sievekit.errors import ConfigError
from sievekit.io import Shard, fs
from sievekit.io.streams import STDIO, atomic_output

MARKER = ".sievekit-run.json"
MANIFEST = "manifest.json"
# Options that change how a run goes, not what it writes.
VOLATILE = frozenset({"verbose", "quiet", "jobs", "executor", "ray_address", "split_mb", "dry_run", "overwrite",
                      "config", "output", "batch_size"})


def fingerprint(command: str, config: Mapping[str, Any], shards: Sequence[Shard]) -> str:
    """A stable hash of what determines a run's output."""
    options = {k: v for k, v in sorted(config.items()) if k not in VOLATILE}
    inputs = []
    for shard in shards:
        inputs.append([shard.name, *(fs.stat_key(shard.path) if shard.path != STDIO else (None, None))])
    blob = json.dumps([command, options, inputs], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def is_directory_output(output: str) -> bool:
    from sievekit.io.shards import shard_format

    return output != STDIO and not (shard_format(output) == "jsonl" and not fs.isdir(output))


def part_name(part: tuple[int, int] | None) -> str:
    """The manifest of a whole run, or of array task I of N (``manifest.part-0003-of-0010.json``)."""
    return MANIFEST if part is None else f"manifest.part-{part[0]:04d}-of-{part[1]:04d}.json"


def _marker(name: str) -> str:
    return MARKER if name == MANIFEST else f".{name[:-5]}.run.json"


def begin(output: str, fp: str, overwrite: bool, name: str = MANIFEST) -> str:
    """Claim ``output`` for the run with fingerprint ``fp``.

    Returns:
        ``"new"`` (nothing there, or not a directory), ``"resume"`` (an unfinished run of the same
        fingerprint), or ``"done"`` (a finished run of the same fingerprint: nothing to do).

    Raises:
        ConfigError: the directory holds another run's results and ``overwrite`` is false.
    """
    if not is_directory_output(output):
        return "new"
    manifest, marker = (_read(fs.join(output, n)) for n in (name, _marker(name)))
    if any(p is not None and p.get("fingerprint") != fp for p in (manifest, marker)):
        if not overwrite:
            raise ConfigError(
                f"{output} holds the results of a different run (other options or changed inputs)",
                hint="pass --overwrite to replace them, or choose another -o/--output",
            )
        _clear(output, manifest, name)
        manifest = marker = None
    if manifest is not None:
        return "done"
    state = "resume" if marker is not None else "new"
    write_json(fs.join(output, _marker(name)), {"fingerprint": fp})
    return state


def finish(output: str, manifest: Mapping[str, Any], name: str = MANIFEST) -> None:
    """Write ``manifest.json`` last: its presence means the run completed."""
    if not is_directory_output(output):
        return
    write_json(fs.join(output, name), manifest)
    if fs.exists(fs.join(output, _marker(name))):
        fs.remove(fs.join(output, _marker(name)))


def load_manifest(output: str, name: str = MANIFEST) -> dict[str, Any] | None:
    return _read(fs.join(output, name))


def _clear(output: str, manifest: Mapping[str, Any] | None, name: str = MANIFEST) -> None:
    """Remove what the previous run wrote (the files its manifest lists) and its bookkeeping."""
    for entry in (manifest or {}).get("shards", []):
        path = entry.get("output")
        if path and path != STDIO and fs.isfile(path):
            fs.remove(path)
    for record in (name, _marker(name)):
        if fs.exists(fs.join(output, record)):
            fs.remove(fs.join(output, record))


def _read(path: str) -> dict[str, Any] | None:
    if not fs.exists(path):
        return None
    try:
        data = json.loads(fs.read_text(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable run record ({exc})", hint="remove it, or pass --overwrite") from exc
    return data if isinstance(data, dict) else None


def write_json(path: str, obj: Any) -> None:
    with atomic_output(path) as tmp:
        fs.write_text(tmp, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
