"""Connected components of the whole pool over edge shards on disk, in a memory budget.

The verified edges of every band (``WORK/cluster/edges/*.edges``, raw int64 pairs) and the exact pass's
edges (each copy to its first copy, from ``rep.npy``) are read a chunk at a time, pass after pass: each pass
hooks the larger label of every edge whose ends disagree onto the smaller one, then pointer jumping makes
every document point at its root again; a pass in which every edge agrees ends it. The one array is a
label per document (int32 below 2^31 documents), in memory or on disk as the ``Budget`` decides, starting
as the document itself, so every label stays a member of its component and never grows: at the end each
document's label is the smallest document of its component (its own index when it has no edge), which is
what ``cluster.components`` returns for the documents with an edge, whatever the order of the edges, the
chunk size or the number of workers that found them.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.cluster import I64
from sievekit.duplicates.spill import Budget
from sievekit.duplicates.workdir import map_npy, raw_array

EdgeChunks = Callable[[], Iterable[tuple[I64, I64]]]
# what one edge of a chunk costs in temporaries: the pair, both ends' labels, the mask, the smaller/larger
EDGE_BYTES = 16 + 2 * 8 + 1 + 2 * 8 + 2 * 8


def label_dtype(n: int) -> type:
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def label_components(n: int, chunks: EdgeChunks, budget: Budget) -> npt.NDArray[Any]:
    """Each of the ``n`` documents' component label: the smallest document its edges reach.

    Example:
        >>> import tempfile
        >>> from sievekit.duplicates.workdir import WorkDir
        >>> edges = [(np.array([3, 7]), np.array([7, 9])), (np.array([1]), np.array([2]))]
        >>> label_components(10, lambda: edges, Budget(1, WorkDir(tempfile.mkdtemp()))).tolist()
        [0, 1, 1, 3, 4, 5, 6, 3, 8, 3]
    """
    label = budget.array("labels", n, label_dtype(n))
    for lo, hi in budget.chunks(n, label.itemsize):
        label[lo:hi] = np.arange(lo, hi, dtype=label.dtype)
        budget.release()
    while _hook(label, chunks(), budget):
        _jump(label, budget)
    return label


def _hook(label: npt.NDArray[Any], chunks: Iterable[tuple[I64, I64]], budget: Budget) -> bool:
    """One pass over the edges; True if any edge's ends had different labels.

    At the pass's start every label is a root (``_jump``), so the first disagreeing edge lowers a root's
    label: every pass that reports a change makes progress, and the passes end.
    """
    changed = False
    for u, v in chunks:
        lu, lv = label[u], label[v]
        diff = lu != lv
        if diff.any():
            changed = True
            lu, lv = lu[diff], lv[diff]
            np.minimum.at(label, np.maximum(lu, lv), np.minimum(lu, lv))
        budget.release()
    return changed


def _jump(label: npt.NDArray[Any], budget: Budget) -> None:
    """Point every document at its root, a chunk at a time in document order (a label is never larger
    than its document, so the chunks before have their roots already)."""
    for lo, hi in budget.chunks(len(label), 4 * label.itemsize, touches=2):
        x = label[lo:hi]
        while True:
            y = label[x]
            if np.array_equal(x, y):
                break
            x = y
        label[lo:hi] = x
        budget.release()


def edge_chunks(files: Sequence[tuple[Path, int]], rep: Path | None, budget: Budget) -> Iterator[tuple[I64, I64]]:
    """The edges of raw int64-pair files (``(path, edges)``) and, with ``rep``, the exact pass's (each copy to
    its first copy), a chunk at a time; the pages read are let go after each chunk."""
    step = budget.rows(EDGE_BYTES, touches=4)
    for path, count in files:
        pairs = raw_array(path, np.int64, (count, 2))
        for lo in range(0, count, step):
            chunk = np.array(pairs[lo:lo + step])
            _drop_pages(pairs)
            yield chunk[:, 0], chunk[:, 1]
        del pairs
    if rep is None:
        return
    mm, first = map_npy(rep)
    for lo in range(0, len(first), step):
        r = np.array(first[lo:lo + step], dtype=np.int64)
        if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)
        idx = np.arange(lo, lo + len(r), dtype=np.int64)
        dup = r != idx
        yield r[dup], idx[dup]


def _drop_pages(arr: npt.NDArray[Any]) -> None:
    mm = getattr(arr, "_mmap", None)  # np.memmap keeps its mmap here
    if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)


def star_edges(nodes: I64, label: I64) -> npt.NDArray[np.int64]:
    """Edges ``(label, node)`` joining every node to its component's smallest member: the same components as
    the edges they came from, with at most one edge per node.

    Example:
        >>> star_edges(np.array([1, 2, 3, 7, 9]), np.array([1, 1, 3, 3, 3])).tolist()
        [[1, 2], [3, 7], [3, 9]]
    """
    keep = nodes != label
    return np.stack((label[keep], nodes[keep]), axis=1).astype(np.int64)
