"""Positional reads of work-directory files into buffers the caller owns: nothing of the file stays resident.

Verification reads signatures and shingle sets of documents spread over the whole pool. Through a memory map
every touch maps the page's neighbours too (the kernel's fault-around, 64 KB, which ``MADV_RANDOM`` does not
turn off), so a chunk of random reads holds megabytes of file pages until they are released, and at small
pools that is the whole file: the process's peak grew with the pool. ``os.preadv`` copies only the bytes
asked for, from the page cache, into the caller's array; the file's pages never enter the process.
One call per document (a run of bytes), never per value.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.errors import InputError

I64 = npt.NDArray[np.int64]
MAX_OPEN = 64  # descriptors kept open at once: a pool of thousands of shards must not exhaust the fd limit


class Files:
    """Read-only descriptors of files, opened on first use and closed least recently used past ``MAX_OPEN``.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.bin"
        >>> _ = path.write_bytes(np.arange(10, dtype=np.uint32).tobytes())
        >>> files = Files()
        >>> out = np.empty(5, dtype=np.uint32)
        >>> files.read_runs(path, np.array([8, 28]), np.array([12, 8]), out)
        >>> out.tolist()
        [2, 3, 4, 7, 8]
        >>> files.close()
    """

    def __init__(self) -> None:
        self._open: OrderedDict[str, int] = OrderedDict()

    def fd(self, path: Path | str) -> int:
        key = str(path)
        fd = self._open.pop(key, None)
        if fd is None:
            fd = os.open(key, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            while len(self._open) >= MAX_OPEN:
                os.close(self._open.popitem(last=False)[1])
        self._open[key] = fd
        return fd

    def read_runs(self, path: Path | str, start: I64, nbytes: I64, out: npt.NDArray[Any]) -> None:
        """Read the byte runs ``[start[k], start[k] + nbytes[k])`` of ``path`` one after the other into ``out``
        (C-contiguous, at least ``nbytes.sum()`` bytes).

        Raises:
            InputError: the file ends before a run does (a damaged work directory).
        """
        self.read_spread([str(path)], np.zeros(len(start), dtype=np.int64), start, nbytes, out)

    def read_spread(self, paths: list[str], which: I64, start: I64, nbytes: I64, out: npt.NDArray[Any]) -> None:
        """``read_runs`` where run ``k`` is in ``paths[which[k]]`` (at most ``MAX_OPEN`` paths per call)."""
        assert len(paths) <= MAX_OPEN, "more files than can be open at once: group the runs by file"
        fds = [self.fd(p) for p in paths]
        view = out.data.cast("B")
        pos = 0
        for f, offset, size in zip(which.tolist(), start.tolist(), nbytes.tolist()):
            if size and _pread_into(fds[f], view[pos:pos + size], offset) != size:
                raise InputError(paths[f], "damaged work-directory artefact (shorter than its index says)",
                                 hint=f"delete {Path(paths[f]).parent} to redo that stage")
            pos += size

    def close(self) -> None:
        while self._open:
            os.close(self._open.popitem()[1])

    def __del__(self) -> None:
        self.close()


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``offset`` (short only at the end of the file); ``os.pread`` where ``preadv`` is
    missing."""
    done = 0
    while done < len(view):
        if hasattr(os, "preadv"):
            got = os.preadv(fd, [view[done:]], offset + done)
        else:  # pragma: no cover - platforms without preadv
            data = os.pread(fd, len(view) - done, offset + done)
            got = len(data)
            view[done:done + got] = data
        if got == 0:
            break
        done += got
    return done
