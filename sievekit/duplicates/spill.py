"""The cluster stage's memory budget (``--memory-mb``): per-document arrays in memory while they fit, on disk past it.

The stage's arrays hold one value per document of the pool (a component label, a member count, a survivor):
``Budget.array`` keeps them in memory while together they take at most half the budget, and past that maps
them from files under ``WORK/cluster/spill/``, whose touched pages ``release`` lets go after every chunk
(``MADV_DONTNEED``: the data stays in the file and the OS page cache, not in the process). The other half
bounds each chunk's temporaries: ``rows`` sizes a chunk from what one row costs, counting a whole page for
every random access into a mapped array. Where an array lives never changes a value, only the speed.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.workdir import NpyStream, WorkDir, map_npy, new_npy_map

MB = 1 << 20
PAGE = mmap.PAGESIZE
MIN_ROWS = 16


class Budget:
    """How many bytes the cluster stage may hold, and the arrays it holds within them.

    Example:
        >>> import tempfile
        >>> work = WorkDir(tempfile.mkdtemp())
        >>> small = Budget(0.001, work)  # 1 KB: a 1,000-document label array goes to disk
        >>> small.array("labels", 1000, np.int32).shape, small.spilled
        ((1000,), True)
        >>> small.close()
    """

    def __init__(self, memory_mb: float, work: WorkDir) -> None:
        # a huge budget (1e308 MB) overflows to inf in bytes: it only means "everything in memory"
        self.total = max(int(min(memory_mb * MB, 2.0**62)), 1)
        self.work = work
        self.held = 0
        self._maps: list[mmap.mmap] = []

    @property
    def spilled(self) -> bool:
        return bool(self._maps)

    def fits(self, nbytes: int) -> bool:
        return self.held + nbytes <= self.total // 2

    def array(self, name: str, n: int, dtype: type, fill: Any = None) -> npt.NDArray[Any]:
        """An array of ``n`` values, in memory if it fits the budget's half for arrays, else on disk."""
        dt = np.dtype(dtype)
        if self.fits(n * dt.itemsize):
            self.held += n * dt.itemsize
            return np.empty(n, dtype=dt) if fill is None else np.full(n, fill, dtype=dt)
        mm, arr = new_npy_map(self.work.path("cluster", "spill", f"{name}.npy"), n, dt)
        if mm is not None:
            self._maps.append(mm)
        if fill is not None and fill != 0:
            for lo, hi in self.chunks(n, dt.itemsize):
                arr[lo:hi] = fill
                self.release()
        return arr

    def load(self, path: Path) -> npt.NDArray[Any]:
        """A saved array: read into memory if it fits, else mapped read-only."""
        arr = self.mapped(path)
        if not self.fits(arr.nbytes):
            return arr
        self.held += arr.nbytes
        out = arr.copy()
        self.release()
        return out

    def mapped(self, path: Path) -> npt.NDArray[Any]:
        """A saved array mapped read-only, its pages let go with the others' (for arrays read in order)."""
        mm, arr = map_npy(path)
        if mm is not None:
            self._maps.append(mm)
        return arr

    def save(self, path: Path, arr: npt.NDArray[Any]) -> None:
        """Write ``arr`` to ``path`` as ``.npy``, a chunk at a time (so an array on disk is never read whole)."""
        with NpyStream(self.work, path, len(arr), arr.dtype.type) as out:
            for lo, hi in self.chunks(len(arr), arr.dtype.itemsize):
                out.write(arr[lo:hi])
                self.release()

    def rows(self, row_bytes: int, touches: int = 0) -> int:
        """How many rows one chunk may take: a quarter of the budget over what a row's temporaries cost,
        plus a page for each of its ``touches`` random accesses when an array is on disk."""
        cost = row_bytes + (touches * PAGE if self.spilled else 0)
        return max(MIN_ROWS, self.total // 4 // max(cost, 1))

    def chunks(self, n: int, row_bytes: int, touches: int = 0) -> Iterator[tuple[int, int]]:
        """``(lo, hi)`` ranges covering ``0..n`` of ``rows(row_bytes, touches)`` rows each."""
        step = self.rows(row_bytes, touches)
        for lo in range(0, n, step):
            yield lo, min(lo + step, n)

    def release(self) -> None:
        """Let go of the pages of the mapped arrays touched so far (see the module docstring)."""
        if hasattr(mmap, "MADV_DONTNEED"):
            for mm in self._maps:
                mm.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        """Forget the mapped arrays and delete the spill files (a mapping still in use keeps its pages)."""
        self._maps.clear()
        self.work.remove("cluster", "spill")
