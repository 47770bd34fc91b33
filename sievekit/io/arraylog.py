"""Numpy arrays kept on local disk between two passes: records of arrays appended to one file, read back in order.

A pass that computes per-document arrays once (DSIR's hashed n-grams of every document of a shard) writes
them here, and a later pass reads them back instead of computing them again. A record is a few 1-D arrays
of plain numeric types; each is stored as a one-byte type code, its length and its bytes (native byte order:
the file is written and read on one machine during one run, never kept). The file is written under a
temporary name and renamed when complete, so a killed writer never leaves a partial log behind.

Example:
    >>> with write_log(path) as log:  # doctest: +SKIP
    ...     log.append([np.arange(3, dtype=np.uint16)])
    >>> [a.tolist() for rec in read_log(path) for a in rec]  # doctest: +SKIP
    [[0, 1, 2]]
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from sievekit.io import fs
from sievekit.io.streams import atomic_output

# The types a log holds, by their one-byte code (the index here).
_TYPES = [np.dtype(t) for t in ("u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8")]
_CODE = {t: i for i, t in enumerate(_TYPES)}
_RECORD = struct.Struct("<I")  # arrays in the record
_ARRAY = struct.Struct("<BQ")  # type code, length


class LogWriter:
    """Appends records to an open log file (see ``write_log``); counts the bytes written."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.nbytes = fh, 0

    def append(self, arrays: Sequence[npt.NDArray[Any]]) -> None:
        """One record: the arrays, in this order (each 1-D, of a type in the table)."""
        flats = [np.ascontiguousarray(array).reshape(-1) for array in arrays]
        for flat in flats:  # checked before a byte is written, so a refused record leaves the log whole
            if flat.dtype not in _CODE:
                raise TypeError(f"an array log holds {', '.join(map(str, _TYPES))}, not {flat.dtype}")
        self.fh.write(_RECORD.pack(len(arrays)))
        self.nbytes += _RECORD.size
        for flat in flats:
            self.fh.write(_ARRAY.pack(_CODE[flat.dtype], len(flat)))
            self.fh.write(flat.tobytes())  # a copy, but one batch's worth
            self.nbytes += _ARRAY.size + flat.nbytes


@contextmanager
def write_log(path: str) -> Iterator[LogWriter]:
    """A new log at ``path`` (a local path), complete only when the block ends without an error."""
    with atomic_output(path) as tmp, fs.open(tmp, "wb") as fh:
        yield LogWriter(fh)


def read_log(path: str) -> Iterator[list[npt.NDArray[Any]]]:
    """Every record of a log, in the order written.

    Raises:
        ValueError: the file ends inside a record or holds an unknown type (it is not a whole log).
    """
    with fs.open(path, "rb") as fh:
        while head := fh.read(_RECORD.size):
            if len(head) < _RECORD.size:
                raise ValueError(f"{path}: the array log ends inside a record")
            arrays = []
            for _ in range(_RECORD.unpack(head)[0]):
                meta = fh.read(_ARRAY.size)
                if len(meta) < _ARRAY.size or meta[0] >= len(_TYPES):
                    raise ValueError(f"{path}: not a whole array log")
                code, length = _ARRAY.unpack(meta)
                dtype = _TYPES[code]
                data = fh.read(length * dtype.itemsize)
                if len(data) < length * dtype.itemsize:
                    raise ValueError(f"{path}: the array log ends inside an array")
                arrays.append(np.frombuffer(data, dtype=dtype))
            yield arrays
