"""The exact pass: each document's representative, the smallest global index with the same 128-bit exact key.

Within ``--memory-mb`` whatever the size of the pool: when the keys with their sort temporaries
(``ROW_BYTES`` a document) do not fit half the budget, they are first spilled to ``2^k`` bucket files in the
work directory by the key's top bits (equal keys share a bucket), then each bucket is sorted on its own.
``rep.npy`` is written through a memory map whose pages are let go after every bucket. A group lies whole in
one bucket and its representative is its smallest index, so the buckets change no value, only the memory.
Bucket folders are named by host and process, so a later pass sweeps those of passes killed on its host.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.sources import Source
from sievekit.duplicates.workdir import WorkDir, new_npy_map
from sievekit.errors import InputError

ROW_BYTES = 96  # a key (16), its index (8), the lexsort order and the group arrays, with numpy's temporaries
RECORD = np.dtype([("k0", "<u8"), ("k1", "<u8"), ("idx", "<i8")])
CHUNK_ROWS = 1 << 16
MAX_BUCKETS = 1 << 10
I64 = npt.NDArray[np.int64]


def bucket_bits(n: int, memory_mb: float) -> int:
    """How many top key bits split the keys: the fewest whose buckets each fit half the budget (on average;
    keys are hashes, so buckets are even), at most ``MAX_BUCKETS`` buckets.

    Example:
        >>> bucket_bits(1000, 1024), bucket_bits(20_000_000, 1024), bucket_bits(100, 0.001)
        (0, 2, 5)
    """
    need = n * ROW_BYTES / max(memory_mb * (1 << 20) / 2, 1)
    return 0 if need <= 1 else min(math.ceil(math.log2(need)), int(math.log2(MAX_BUCKETS)))


def exact_pass(work_root: str, sources: Sequence[Source], params: dict[str, Any],
               memory_mb: float = 1024) -> None:
    """Write ``WORK/exact/rep.npy`` (each document's representative) and its marker, unless done."""
    work = WorkDir(work_root)
    marker = work.path("exact", "rep.json")
    if work.done(marker, params) is not None:
        return
    n = sum(s.rows for s in sources)
    bits = bucket_bits(n, memory_mb)
    path = work.path("exact", "rep.npy")
    groups = 0
    with work.atomic(path) as tmp:
        mm, rep = new_npy_map(tmp, n, np.dtype(np.int64))
        try:
            for k0, k1, idx in _buckets(work, sources, bits):
                groups += first_of_groups(k0, k1, idx, rep)
                _release(mm)
        finally:
            if mm is not None:
                mm.flush()
                del rep
                mm.close()
    work.mark(marker, params, documents=n, exact_groups=groups, buckets=1 << bits)


def first_of_groups(k0: npt.NDArray[np.uint64], k1: npt.NDArray[np.uint64], idx: I64,
                    rep: npt.NDArray[np.int64]) -> int:
    """Set ``rep[i]`` to the smallest index with the key of ``i``, for the documents ``idx`` (every document
    with one of these keys must be among them); returns how many distinct keys there are.

    Example:
        >>> rep = np.zeros(4, dtype=np.int64)
        >>> k = np.array([7, 5, 7, 5], dtype=np.uint64)
        >>> first_of_groups(k, k, np.array([3, 2, 1, 0]), rep), rep.tolist()
        (2, [0, 1, 0, 1])
    """
    order = np.lexsort((idx, k1, k0))
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new[1:] = (k0[order][1:] != k0[order][:-1]) | (k1[order][1:] != k1[order][:-1])
    first = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    sorted_idx = idx[order]
    rep[sorted_idx] = sorted_idx[first]
    return int(new.sum())


def _buckets(work: WorkDir, sources: Sequence[Source], bits: int) -> Iterator[tuple[Any, Any, I64]]:
    """The keys and global indices of the whole pool (``bits`` = 0), or of one bucket file after another."""
    if bits == 0:
        parts = list(_chunks(sources))
        if parts:
            keys = np.concatenate([k for k, _ in parts])
            yield keys[:, 0], keys[:, 1], np.concatenate([i for _, i in parts])
        return
    _sweep(work.path("exact"))
    folder = Path(tempfile.mkdtemp(prefix=f"buckets-{_HOST}-{os.getpid()}-", dir=work.path("exact")))
    try:
        files = [folder / f"{b:04d}.bin" for b in range(1 << bits)]
        with contextlib.ExitStack() as stack:
            handles: list[IO[bytes]] = [stack.enter_context(open(f, "wb")) for f in files]
            for keys, idx in _chunks(sources):
                rec = np.empty(len(idx), dtype=RECORD)
                rec["k0"], rec["k1"], rec["idx"] = keys[:, 0], keys[:, 1], idx
                which = (rec["k0"] >> np.uint64(64 - bits)).astype(np.int64)
                order = np.argsort(which, kind="stable")
                bounds = np.searchsorted(which[order], np.arange((1 << bits) + 1))
                for b in np.flatnonzero(np.diff(bounds)).tolist():
                    handles[b].write(rec[order[bounds[b]:bounds[b + 1]]].tobytes())
        for f in files:
            rec = np.fromfile(f, dtype=RECORD)
            f.unlink()
            yield rec["k0"], rec["k1"], rec["idx"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_HOST = socket.gethostname().replace("-", "_")


def _sweep(folder: Path) -> None:
    """Remove the bucket folders of exact passes killed on this host (their process is gone); a folder of a
    pass still running, here or on another host sharing the work directory, stays."""
    for old in folder.glob(f"buckets-{_HOST}-*-*"):
        try:
            os.kill(int(old.name.split("-")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
        except (ValueError, PermissionError):
            pass  # not a pid, or another user's live process


def _chunks(sources: Sequence[Source]) -> Iterator[tuple[npt.NDArray[np.uint64], I64]]:
    """Every source's exact keys, ``CHUNK_ROWS`` rows at a time, with their global indices."""
    for source in sources:
        path = WorkDir(source.work).sign_base(source.shard.index).with_suffix(".exact")
        for lo in range(0, source.rows, CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, source.rows)
            keys = np.fromfile(path, dtype=np.uint64, count=2 * (hi - lo), offset=16 * lo).reshape(-1, 2)
            if len(keys) != hi - lo:
                raise InputError(str(path), "damaged work-directory artefact (fewer exact keys than rows)",
                                 hint=f"delete {path.parent} to redo that stage")
            yield keys, np.arange(source.offset + lo, source.offset + hi, dtype=np.int64)


def _release(mm: mmap.mmap | None) -> None:
    if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)
