"""The on-disk work directory of a staged dedupe run: its layout, its artefacts, and their parameter checks.

Layout (every file written under a temporary name and renamed when complete; a stage's ``.json`` marker
is written last, so its presence means the artefacts beside it are whole)::

    WORK/run.json                         the run's manifest of input shards (names, paths, sizes)
    WORK/sign/shard-00003.{sig,exact,len,score,ids.jsonl,json}
    WORK/sign/shard-00003.{sets,setend}   --verify exact: sorted 32-bit shingle hashes, each document's end
    WORK/exact/rep.npy + rep.json         exact pass: each document's first exact copy
    WORK/exact/buckets-*/                 its keys by top bits, past --memory-mb, while it runs
    WORK/bucket/band-007-part-00.npz/.json   LSH groups of one band (and key range)
    WORK/cluster/edges/band-007-part-00.{edges,json}   its verified edges (raw int64 pairs), one per document
    WORK/cluster/labels.{npy,json}        each document's component label (its smallest member)
    WORK/cluster/spill/                   arrays past --memory-mb, while the stage runs
    WORK/cluster/{cluster.npy,keep.npy,jaccard.npy,clusters.jsonl,done.json}
    WORK/filter/<output hash>/shard-00003.json   one output shard written

A marker records the parameters its artefacts were made with; a later run with different parameters is
refused (naming the differing parameters) rather than silently mixing artefacts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.errors import ConfigError, InputError
from sievekit.io import atomic_path


def digest(obj: Any) -> str:
    """A short stable hash of a JSON-safe object (for marker file names and comparisons)."""
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


EPHEMERAL = ".ephemeral"


class WorkDir:
    """One run's work directory (created on first use).

    A temporary work directory (a one-shot run without ``--work-dir``) holds the file ``.ephemeral``: its
    artefacts are still renamed into place whole, but not fsynced, since the directory is deleted at the
    end of the run and a crash leaves nothing to resume (a run writes ~10 files per band and shard, and
    each fsync costs milliseconds on a busy disk).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--work-dir {self.root} exists and is not a directory", hint="pass a directory path")
        self.root.mkdir(parents=True, exist_ok=True)
        self.durable = not (self.root / EPHEMERAL).exists()

    @contextlib.contextmanager
    def atomic(self, path: str | os.PathLike[str]) -> Iterator[Path]:
        """A temporary path renamed to ``path`` when the block succeeds (fsynced unless ephemeral)."""
        if self.durable:
            with atomic_path(Path(path)) as tmp:
                yield tmp
            return
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        try:
            yield tmp
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def remove(self, *parts: str) -> None:
        """Delete a scratch folder of the work directory, if there is one."""
        shutil.rmtree(self.path(*parts), ignore_errors=True)

    def sign_base(self, shard: int) -> Path:
        return self.path("sign", f"shard-{shard:05d}")

    def bucket_base(self, band: int, part: int) -> Path:
        return self.path("bucket", f"band-{band:03d}-part-{part:02d}")

    def edges_base(self, band: int, part: int) -> Path:
        return self.path("cluster", "edges", f"band-{band:03d}-part-{part:02d}")

    # -- markers --------------------------------------------------------------------------------------
    def done(self, marker: Path, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The marker's content if the step is complete with these parameters, None if not yet run.

        Raises:
            ConfigError: the step was completed with different parameters.
        """
        if not marker.exists():
            return None
        info: dict[str, Any] = read_json(marker)
        made = info.get("params", {})
        if made != json.loads(json.dumps(params, default=str)):
            keys = sorted(k for k in set(made) | set(params) if made.get(k) != _jsonable(params.get(k)))
            diff = ", ".join(f"{k}: {_short(made.get(k))} then, {_short(params.get(k))} now" for k in keys)
            raise ConfigError(f"{marker.parent} holds artefacts made with different parameters ({diff})",
                              hint=f"delete {marker.parent} to redo that stage, or pass another --work-dir")
        return info

    def mark(self, marker: Path, params: Mapping[str, Any], **info: Any) -> None:
        with self.atomic(marker) as tmp:
            text = json.dumps({"params": dict(params), **info}, indent=2, default=str)
            tmp.write_text(text + "\n", encoding="utf-8")

    # -- arrays ---------------------------------------------------------------------------------------
    def save(self, path: Path, array: np.ndarray) -> None:
        with self.atomic(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array)

    def load(self, path: Path, mmap: bool = True) -> np.ndarray:
        if not path.exists():
            raise InputError(str(path), "missing work-directory artefact",
                             hint="run the earlier stages first (or the whole command without --stage)")
        try:
            array: np.ndarray = np.load(path, mmap_mode="r" if mmap else None)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(str(path), f"damaged work-directory artefact ({exc})",
                             hint=f"delete {path.parent} to redo that stage") from exc
        return array


def raw_array(path: Path, dtype: type, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """A read-only memory map of a raw array file (an empty array for zero rows)."""
    if shape[0] == 0:
        return np.empty(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)


class Mapped:
    """Read-only memory maps of raw array files whose touched pages can be let go together (``release``:
    ``MADV_DONTNEED``, so they leave the process's resident memory and stay in the OS page cache). A stage
    that reads the whole pool's signatures or shingle sets releases after each chunk, so its resident memory
    is one chunk's, not the pool's."""

    def __init__(self) -> None:
        self._maps: list[mmap.mmap] = []

    def array(self, path: Path, dtype: type, shape: tuple[int, ...]) -> npt.NDArray[Any]:
        with open(path, "rb") as fh:
            if shape[0] == 0 or os.fstat(fh.fileno()).st_size == 0:
                return np.empty(shape, dtype=dtype)
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.append(mm)
        return np.frombuffer(mm, dtype=dtype, count=int(np.prod(shape))).reshape(shape)

    def release(self) -> None:
        if hasattr(mmap, "MADV_DONTNEED"):
            for mm in self._maps:
                mm.madvise(mmap.MADV_DONTNEED)


class NpyStream:
    """A one-dimensional ``.npy`` file written a chunk at a time (the bytes ``np.save`` writes for the whole
    array), under a temporary name renamed into place when all ``rows`` have been written.

    Example:
        >>> import tempfile
        >>> work = WorkDir(tempfile.mkdtemp())
        >>> with NpyStream(work, work.path("a.npy"), 5, np.int64) as out:
        ...     out.write(np.arange(2)); out.write(np.arange(2, 5))
        >>> work.load(work.path("a.npy")).tolist()
        [0, 1, 2, 3, 4]
    """

    def __init__(self, work: WorkDir, path: Path, rows: int, dtype: type) -> None:
        self.work, self.path, self.rows, self.dtype = work, path, rows, np.dtype(dtype)
        self._stack = contextlib.ExitStack()
        self._written = 0

    def __enter__(self) -> NpyStream:
        tmp = self._stack.enter_context(self.work.atomic(self.path))
        self._fh = self._stack.enter_context(open(tmp, "wb"))
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (self.rows,)}
        np.lib.format.write_array_header_1_0(self._fh, header)
        return self

    def write(self, chunk: npt.NDArray[Any]) -> None:
        self._fh.write(np.ascontiguousarray(chunk, dtype=self.dtype).tobytes())
        self._written += len(chunk)

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is None and self._written != self.rows:
            exc = RuntimeError(f"{self.path}: {self._written} rows written of {self.rows}")
            self._stack.__exit__(type(exc), exc, None)
            raise exc
        self._stack.__exit__(kind, exc, tb)


def map_npy(path: Path, writable: bool = False) -> tuple[mmap.mmap | None, npt.NDArray[Any]]:
    """A memory map of a one-dimensional ``.npy`` file and the array over it (``None`` for an empty one).

    Raises:
        InputError: the file is missing or not a whole ``.npy`` array.
    """
    if not path.exists():
        raise InputError(str(path), "missing work-directory artefact",
                         hint="run the earlier stages first (or the whole command without --stage)")
    with open(path, "r+b" if writable else "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
        except ValueError as exc:
            raise InputError(str(path), f"damaged work-directory artefact ({exc})",
                             hint=f"delete {path.parent} to redo that stage") from exc
        offset, count = fh.tell(), int(np.prod(shape))
        if os.fstat(fh.fileno()).st_size != offset + count * dtype.itemsize:
            raise InputError(str(path), "damaged work-directory artefact (truncated)",
                             hint=f"delete {path.parent} to redo that stage")
        if count == 0:
            return None, np.empty(0, dtype=dtype)
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    return mm, np.frombuffer(mm, dtype=dtype, count=count, offset=offset)


def new_npy_map(path: Path, n: int, dtype: np.dtype[Any]) -> tuple[mmap.mmap | None, npt.NDArray[Any]]:
    """A new ``.npy`` file of ``n`` zeros (sparse: no disk until written), mapped for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)}
        np.lib.format.write_array_header_1_0(fh, header)
        fh.truncate(fh.tell() + n * dtype.itemsize)
    return map_npy(path, writable=True)


def read_json(path: Path | str) -> Any:
    """A work-directory record; a damaged one names itself and how to start that step over."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"damaged work-directory record ({exc})",
                         hint=f"delete {Path(path).parent} to redo that stage") from exc
    if not isinstance(data, dict):
        raise InputError(str(path), "damaged work-directory record (not a JSON object)",
                         hint=f"delete {Path(path).parent} to redo that stage")
    return data


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
