"""The cluster stage's outputs, streamed from the component labels a chunk of documents at a time.

From each document's label (``components.label_components``) come: how many other documents share each
label (a document is in a cluster when it has a label other than itself or others have its label), each
cluster's survivor (with ``--keep first`` the label itself: earlier runs' documents come first and always
win, then the smallest document; otherwise the lowest priority, ties to the smallest document, found in
one pass in document order), and then, for this run's documents in order: ``cluster.npy``, ``keep.npy``,
``jaccard.npy``, ``clusters.jsonl`` and the stats. Every per-document array goes through the ``Budget``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.cluster import I64, histogram
from sievekit.duplicates.options import DedupeConfig
from sievekit.duplicates.sources import SigStore, Source
from sievekit.duplicates.spill import Budget
from sievekit.duplicates.verify import ShingleSets, estimate_pairs, pool_sets
from sievekit.duplicates.workdir import NpyStream, WorkDir

ROW_BYTES = 256  # a chunk's temporaries per document: indices, labels, masks, priorities, estimates


def first_new(sources: Sequence[Source]) -> int:
    """The global index of this run's first document (earlier runs' documents come before it)."""
    return next((s.offset for s in sources if not s.seen), sum(s.rows for s in sources))


def member_counts(label: npt.NDArray[Any], budget: Budget) -> npt.NDArray[Any]:
    """For each document, how many other documents have it as their label."""
    count = budget.array("members", len(label), label.dtype.type, fill=0)
    for lo, hi in budget.chunks(len(label), ROW_BYTES, touches=1):
        lab = label[lo:hi]
        other = lab[lab != np.arange(lo, hi)]
        roots, k = np.unique(other, return_counts=True)
        count[roots] += k.astype(count.dtype)
        budget.release()
    return count


def in_cluster(label: npt.NDArray[Any], count: npt.NDArray[Any], lo: int, hi: int) -> npt.NDArray[np.bool_]:
    inside: npt.NDArray[np.bool_] = (label[lo:hi] != np.arange(lo, hi)) | (count[lo:hi] > 0)
    return inside


def priority(store: SigStore, cfg: DedupeConfig, start: int, nodes: I64) -> npt.NDArray[np.float64]:
    """Lower wins: earlier runs' documents first, then by --keep; ties go to the smaller global index."""
    prio = np.zeros(len(nodes), dtype=np.float64)
    fresh = nodes >= start
    prio[~fresh] = -np.inf
    if cfg.keep == "longest":
        prio[fresh] = -store.values("len", np.int64, nodes[fresh]).astype(np.float64)
    elif cfg.score_field:
        score = store.values("score", np.float64, nodes[fresh])
        prio[fresh] = np.where(np.isnan(score), np.inf, -score)
    return prio


def best_members(label: npt.NDArray[Any], count: npt.NDArray[Any], store: SigStore, cfg: DedupeConfig,
                 start: int, budget: Budget) -> npt.NDArray[Any]:
    """For each label, its cluster's survivor (``--keep`` longest or score:FIELD): the lowest priority, ties
    to the smallest document. Documents come in order, so a later one wins only with a strictly lower one."""
    best = budget.array("survivor", len(label), label.dtype.type, fill=-1)
    best_prio = budget.array("survivor_priority", len(label), np.float64, fill=np.inf)
    for lo, hi in budget.chunks(len(label), ROW_BYTES, touches=2):
        node = np.flatnonzero(in_cluster(label, count, lo, hi)) + lo
        lab = label[node].astype(np.int64)
        prio = priority(store, cfg, start, node)
        order = np.lexsort((node, prio, lab))
        first = np.ones(len(order), dtype=bool)
        np.not_equal(lab[order][1:], lab[order][:-1], out=first[1:])
        win = order[first]
        lab, prio, node = lab[win], prio[win], node[win]
        better = (best[lab] < 0) | (prio < best_prio[lab])
        best[lab[better]] = node[better]
        best_prio[lab[better]] = prio[better]
        store.release()
        budget.release()
    return best


class _Ids:
    """The ids of rows of the sources, read from the sign stage's ``ids.jsonl`` files once, in order."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = sources
        self._source = -1
        self._row = 0
        self._fh: IO[bytes] | None = None

    def get(self, source: int, rows: list[int]) -> list[Any]:
        """The ids of ``rows`` (ascending, after every row asked for before) of source ``source``."""
        if source != self._source:
            self.close()
            self._fh = open(self.sources[source].base + ".ids.jsonl", "rb")  # noqa: SIM115 (read across calls)
            self._source, self._row = source, 0
        assert self._fh is not None
        out = []
        for row in rows:
            for _ in range(row - self._row):
                self._fh.readline()
            out.append(json.loads(self._fh.readline()))
            self._row = row + 1
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def write_clusters(work: WorkDir, sources: Sequence[Source], cfg: DedupeConfig, label: npt.NDArray[Any],
                   budget: Budget, candidate_edges: int) -> dict[str, Any]:
    """Write the cluster stage's arrays and ``clusters.jsonl``; return its stats."""
    n, start = len(label), first_new(sources)
    store = SigStore(sources, cfg.num_perm)
    sets = pool_sets(sources, cfg.threshold, cfg.num_perm, cfg.memory_mb) if cfg.verify == "exact" else None
    count = member_counts(label, budget)
    best = best_members(label, count, store, cfg, start, budget) if cfg.keep != "first" else None
    seen_roots = budget.array("seen_roots", start, np.bool_, fill=False)
    sizes: Counter[int] = Counter()
    totals = Counter[str]()
    rep = budget.mapped(work.path("exact", "rep.npy"))
    offsets = np.array([s.offset for s in sources], dtype=np.int64)
    ids = _Ids(sources)
    with NpyStream(work, work.path("cluster", "cluster.npy"), n - start, np.int64) as cluster_out, \
            NpyStream(work, work.path("cluster", "keep.npy"), n - start, np.bool_) as keep_out, \
            NpyStream(work, work.path("cluster", "jaccard.npy"), n - start, np.float32) as jac_out, \
            work.atomic(work.path("cluster", "clusters.jsonl")) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for a, b in budget.chunks(n - start, ROW_BYTES, touches=4):
            lo, hi = start + a, start + b
            lab = label[lo:hi].astype(np.int64)
            node = in_cluster(label, count, lo, hi)
            nodes, labs = np.flatnonzero(node) + lo, lab[node]
            surv = labs if best is None else best[labs].astype(np.int64)
            est = _member_jaccard(sets, store, rep, nodes, surv)
            keep = np.ones(hi - lo, dtype=bool)
            keep[node] = nodes == surv
            jac = np.full(hi - lo, np.nan, dtype=np.float32)
            jac[node] = est
            cluster_out.write(lab)
            keep_out.write(keep)
            jac_out.write(jac)
            size = count[labs].astype(np.int64) + 1
            _write_lines(fh, sources, offsets, ids, nodes, labs, size, surv, est)
            roots = labs[labs == nodes]
            sizes.update(dict(zip(*(x.tolist() for x in np.unique(size[labs == nodes], return_counts=True)))))
            seen_roots[labs[labs < start]] = True
            dropped = nodes != surv
            totals.update(dropped=int(dropped.sum()), seen=int((dropped & (labs < start)).sum()),
                          clusters=len(roots), exact=int(np.count_nonzero(rep[lo:hi] != np.arange(lo, hi))))
            store.release()
            budget.release()
    ids.close()
    store.close()
    if sets is not None:
        sets.close()
    for lo, hi in budget.chunks(start, ROW_BYTES):
        roots = np.flatnonzero(seen_roots[lo:hi]) + lo
        sizes.update(dict(zip(*(x.tolist() for x in np.unique(count[roots].astype(np.int64) + 1,
                                                                 return_counts=True)))))
        totals.update(clusters=len(roots))
        budget.release()
    return {"documents_in": n - start, "documents_out": n - start - totals["dropped"], "dropped": totals["dropped"],
            "exact_duplicates": totals["exact"], "near_duplicates": totals["dropped"] - totals["exact"],
            "seen_before": totals["seen"], "clusters": totals["clusters"], "candidate_edges": candidate_edges,
            "cluster_sizes": histogram(sizes)}


def _member_jaccard(sets: ShingleSets | None, store: SigStore, rep: npt.NDArray[Any], nodes: I64,
                    surv: I64) -> npt.NDArray[np.float64]:
    """Each member's Jaccard with its survivor: 1 for the survivor itself and its exact copies (same text,
    same set), the true value (``--verify exact``) or the estimate for the others."""
    est = np.ones(len(nodes), dtype=np.float64)
    other = np.flatnonzero((nodes != surv) & (rep[nodes] != rep[surv]))
    a, b = nodes[other], surv[other]
    est[other] = sets.jaccard(a, b) if sets is not None else estimate_pairs(store, a, b)
    return est


def _write_lines(fh: IO[str], sources: Sequence[Source], offsets: I64, ids: _Ids, nodes: I64, labs: I64,
                 size: I64, surv: I64, est: npt.NDArray[np.float64]) -> None:
    """One line per document in a cluster of two or more, in input order."""
    where = np.searchsorted(offsets, nodes, side="right") - 1
    swhere = np.searchsorted(offsets, surv, side="right") - 1
    for s in np.unique(where).tolist():
        sel = np.flatnonzero(where == s)
        source = sources[s]
        rows = (nodes[sel] - source.offset).tolist()
        for i, row, id_ in zip(sel.tolist(), rows, ids.get(s, rows), strict=True):
            sv = sources[swhere[i]]
            fh.write(json.dumps({
                "shard": source.shard.name, "row": row, "id": id_, "cluster": int(labs[i]),
                "size": int(size[i]), "kept": bool(nodes[i] == surv[i]), "jaccard": round(float(est[i]), 4),
                "survivor": f"{sv.shard.name}:{int(surv[i] - sv.offset)}" + (" (earlier run)" if sv.seen else ""),
            }, ensure_ascii=False) + "\n")
