"""The documents a run sees: this run's signed shards and, with ``--against``, those of earlier runs.

Every document has a global index: earlier runs' documents first (oldest run first, each in its own
manifest order), then this run's. Signatures are read through memory maps, never loaded whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.preads import MAX_OPEN, Files
from sievekit.duplicates.workdir import Mapped, WorkDir, raw_array, read_json
from sievekit.errors import ConfigError, InputError
from sievekit.io import ReadOptions, Shard, fs


@dataclass(frozen=True)
class Source:
    """One signed shard: where its artefacts are, how many rows, and its global offset."""

    work: str
    shard: Shard
    rows: int
    offset: int
    seen: bool  # from an earlier run (--against): never written, always wins its cluster

    @property
    def base(self) -> str:
        return str(WorkDir(self.work).sign_base(self.shard.index))


def fingerprint(shard: Shard) -> dict[str, Any]:
    size, stamp = fs.stat_key(shard.path)
    return {"name": shard.name, "path": fs.realpath(shard.path), "format": shard.format, "size": size,
            "mtime_ns": stamp}


def record_run(work: WorkDir, shards: Sequence[Shard], sign: Mapping[str, Any], opts: ReadOptions,
               against: str | None) -> None:
    """Write ``run.json`` on first use; later runs must see the same inputs and sign parameters.

    Raises:
        ConfigError: the work directory was made for other inputs or other sign parameters.
    """
    run = {"shards": [fingerprint(s) for s in shards], "sign": dict(sign), "against": against,
           "read": {"text_field": opts.text_field, "id_field": opts.id_field, "batch_size": opts.batch_size,
                    "compression": opts.compression, "on_bad_record": opts.on_bad_record}}
    path = work.path("run.json")
    if not path.exists():
        with work.atomic(path) as tmp:
            tmp.write_text(json.dumps(run, indent=2, default=str) + "\n", encoding="utf-8")
        return
    old = read_json(path)
    for key in ("shards", "sign", "against"):
        if old.get(key) != read_json_like(run[key]):
            what = {"shards": "other input shards (or they changed since)", "sign": f"other sign parameters "
                    f"({old.get('sign')})", "against": f"--against {old.get('against')}"}[key]
            raise ConfigError(f"work directory {work.root} was made for {what}",
                              hint="pass another --work-dir, or delete this one to start over")


def read_json_like(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_shards(work_root: str) -> tuple[list[Shard], dict[str, Any]]:
    path = Path(work_root) / "run.json"  # not WorkDir(...): looking must not create the directory
    if not path.exists():
        raise ConfigError(f"{work_root} is not a sievekit dedupe work directory (no run.json)",
                          hint="pass the --work-dir of an earlier complete run")
    run = read_json(path)
    shards = [Shard(i, s["path"], s["name"], s["format"]) for i, s in enumerate(run["shards"])]
    return shards, run


def against_chain(previous: str | None, sign: Mapping[str, Any]) -> list[str]:
    """The earlier work directories to dedupe against, oldest first (following their own ``--against``).

    Raises:
        ConfigError: one of them was signed with other parameters, so its signatures do not compare.
    """
    chain: list[str] = []
    while previous:
        _, run = run_shards(previous)
        keys = ("num_perm", "ngram", "seed", "engine")
        if any(run["sign"].get(k) != sign.get(k) for k in keys):
            theirs = ", ".join(f"{k} {run['sign'].get(k)}" for k in keys)
            raise ConfigError(f"--against {previous} was signed with other parameters ({theirs})",
                              hint="use the same --num-perm, --ngram, --seed and --engine as that run")
        if previous in chain:
            break
        chain.insert(0, previous)
        previous = run.get("against")
    return chain


def plan_sources(work_root: str, shards: Sequence[Shard], chain: Sequence[str]) -> list[Source]:
    """Every signed shard of the earlier runs and of this one, with global offsets (sign must be complete)."""
    out: list[Source] = []
    offset = 0
    for root, seen in [(r, True) for r in chain] + [(work_root, False)]:
        run_list = run_shards(root)[0] if seen else list(shards)
        for shard in run_list:
            marker = WorkDir(root).sign_base(shard.index).with_suffix(".json")
            if not marker.exists():
                raise InputError(str(marker), "the shard is not signed yet",
                                 hint="run --stage sign for every shard first" if not seen else
                                 "the --against work directory is incomplete")
            rows = int(read_json(marker)["rows"])
            out.append(Source(root, shard, rows, offset, seen))
            offset += rows
    return out


class SigStore:
    """Random access to the signatures (and other per-document arrays) of all sources by global index."""

    def __init__(self, sources: Sequence[Source], num_perm: int) -> None:
        self.sources = list(sources)
        self.num_perm = num_perm
        self.offsets = np.array([s.offset for s in sources] + [self.total], dtype=np.int64)
        self._mapped = Mapped()
        self.sig_paths = [str(WorkDir(s.work).sign_base(s.shard.index).with_suffix(".sig")) for s in self.sources]
        self._sigs = [self._mapped.array(Path(p), np.uint32, (s.rows, num_perm))
                      for p, s in zip(self.sig_paths, self.sources)]
        self._files = Files()

    def close(self) -> None:
        self._files.close()

    def release(self) -> None:
        """Let go of the signature pages read so far (they stay in the page cache): see ``Mapped``."""
        self._mapped.release()

    @property
    def total(self) -> int:
        return sum(s.rows for s in self.sources)

    def where(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.searchsorted(self.offsets, idx, side="right") - 1

    def gather(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        out = np.empty((len(idx), self.num_perm), dtype=np.uint32)
        src = self.where(idx)
        for s in np.unique(src).tolist():
            sel = src == s
            out[sel] = self._sigs[s][idx[sel] - self.offsets[s]]
        return out

    def read(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        """The signatures of ``idx`` by positional reads (for documents spread over the pool: no file page
        enters the process, see ``preads``); ``gather`` maps them, for runs of neighbouring documents."""
        out = np.empty((len(idx), self.num_perm), dtype=np.uint32)
        src = self.where(idx)
        row_bytes = self.num_perm * 4
        used, which = np.unique(src, return_inverse=True)
        if len(used) <= MAX_OPEN:
            self._files.read_spread([self.sig_paths[s] for s in used.tolist()], which.reshape(-1),
                                    (idx - self.offsets[src]) * row_bytes, np.full(len(idx), row_bytes), out)
            return out
        for s in used.tolist():
            sel = np.flatnonzero(src == s)
            part = out if len(sel) == len(idx) else np.empty((len(sel), self.num_perm), dtype=np.uint32)
            start = (idx[sel] - self.offsets[s]) * row_bytes
            self._files.read_runs(self.sig_paths[s], start, np.full(len(sel), row_bytes, dtype=np.int64), part)
            if part is not out:
                out[sel] = part
        return out

    def values(self, kind: str, dtype: type, idx: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """A one-column per-document array (``len``, ``score``) at the given global indices."""
        out: npt.NDArray[Any] = np.empty(len(idx), dtype=dtype)
        src = self.where(idx)
        for s in np.unique(src).tolist():
            sel = src == s
            out[sel] = raw_array_of(self.sources[s], kind, dtype, 1)[idx[sel] - self.offsets[s]]
        return out

    def column(self, kind: str, dtype: type) -> npt.NDArray[Any]:
        """One per-document array (``exact``, ``len``, ``score``) of all sources, concatenated."""
        width = 2 if kind == "exact" else 1
        parts = [np.asarray(raw_array_of(s, kind, dtype, width)) for s in self.sources]
        shape = (0, width) if width > 1 else (0,)
        return np.concatenate(parts) if parts else np.empty(shape, dtype=dtype)


def raw_array_of(source: Source, kind: str, dtype: type, width: int) -> npt.NDArray[Any]:
    shape = (source.rows, width) if width > 1 else (source.rows,)
    return raw_array(WorkDir(source.work).sign_base(source.shard.index).with_suffix(f".{kind}"), dtype, shape)


def ids_at(source: Source, rows: Mapping[int, Any]) -> dict[int, Any]:
    """The ids of the given rows, from the sign stage's ``ids.jsonl`` (one JSON value per row)."""
    out: dict[int, Any] = {}
    path = source.base + ".ids.jsonl"
    with open(path, encoding="utf-8") as fh:
        for row, line in enumerate(fh):
            if row in rows:
                out[row] = json.loads(line)
    return out
