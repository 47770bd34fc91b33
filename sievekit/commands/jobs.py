"""What the commands share: the job pieces a fingerprint is made of, and the manifest a run leaves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sievekit.io import ReadOptions, Shard, fs, resolve_inputs
from sievekit.run import contract
from sievekit.run.writeback import RunResult


def read_job(opts: ReadOptions) -> dict[str, Any]:
    """The read options that change what a run reads (the batch size does not)."""
    return {"text_field": opts.text_field, "id_field": opts.id_field, "compression": opts.compression,
            "on_bad_record": opts.on_bad_record}


def inputs_job(specs: Sequence[str] | None) -> list[dict[str, Any]] | None:
    """Other inputs of a run (a target set) by canonical path and stamp."""
    return contract.describe_inputs(resolve_inputs(list(specs))) if specs else None


def path_job(path: str | None) -> dict[str, Any] | None:
    """A file or directory a run reads besides its shards (a state, a work directory), by canonical path and,
    for a file, its stamp."""
    if path is None:
        return None
    entry: dict[str, Any] = {"path": fs.realpath(path)}
    if fs.isfile(path):
        entry["size"], entry["stamp"] = fs.stat_key(path)
    return entry


def manifest(command: str, shards: Sequence[Shard], result: RunResult, files: Sequence[str] = ()) -> dict[str, Any]:
    """What ``manifest.json`` records of a finished run besides its job."""
    return {
        "command": command,
        "inputs": [{"path": s.label, "name": s.name, "rows": r["rows_in"]} for s, r in zip(shards, result.shards)],
        "shards": result.shards,
        "files": list(files),
        "rows_in": result.rows_in if all(s["rows_in"] is not None for s in result.shards) else None,
        "rows_out": result.rows_out if command in ("select", "dedupe") else None,
        **result.extra,
    }
