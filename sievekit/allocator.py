"""Keep glibc from handing freed memory back to the OS after every batch (once per process).

Batch-wise numpy work allocates and frees arrays of a few MB again and again. glibc serves each from a
fresh mmap and unmaps it on free (its mmap threshold adapts only up to 32 MB), and trims the heap above
128 KiB, so every batch page-faults its memory back in: measured on DSIR over a 73 MB pool, 0.8 of 4.1
CPU-seconds were spent in the kernel, 0.1 with the thresholds below (same peak RSS, 195 MB). zlib's
compressor states suffer the same way (ZIP-FIT: a state copy took 73 us by default, 2.2 us tuned). The
cost is up to 256 MB of freed memory kept for reuse instead of returned.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP = 256 << 20
_TUNED = False


def tune_allocator() -> None:
    """Raise glibc's mmap and trim thresholds to 256 MiB (a no-op on other platforms and libcs)."""
    global _TUNED
    if _TUNED or not sys.platform.startswith("linux"):
        return
    _TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has these mallopt parameters
        libc.mallopt(M_MMAP_THRESHOLD, KEEP)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP)
    except (OSError, AttributeError):  # pragma: no cover - musl or another libc: keep its defaults
        pass
