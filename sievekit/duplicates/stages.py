"""The four stages, each a function that reads and writes only the work directory (and the inputs).

sign (per shard) → exact pass + bucket (per band and key range) → cluster (once) → filter (per shard).
Each stage skips what its markers say is complete with the same parameters and refuses artefacts made
with different ones. Memory (bench/neardup/memory.py, 4k and 16k documents): sign and filter keep nothing
per document beyond the current batch (and filter's 9-byte keep/cluster arrays); bucket holds one band's
keys, indices and sort order, ~32 bytes per document, plus the exact pass's ~64 bytes once; cluster holds
the exact representatives (8 bytes per document) and the candidate edges (~250 bytes per document that
has a near duplicate); its exact verification reads the shingle sets sign wrote a chunk of pairs at a time
(verify.py), never all at once. Signatures are memory-mapped, read in chunks of ``CHUNK_ROWS`` documents.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np

from sievekit.duplicates.banding import band_keys, bucket_groups
from sievekit.duplicates.cluster import components, peel, size_histogram, survivors
from sievekit.duplicates.minhash import Signer
from sievekit.duplicates.options import DedupeConfig
from sievekit.duplicates.sources import SigStore, Source, ids_at
from sievekit.duplicates.verify import ShingleSets, estimate_pairs, make_verifier
from sievekit.duplicates.workdir import WorkDir, digest
from sievekit.io import ReadOptions, Shard, ShardStats, iter_batches
from sievekit.run.progress import Meter

CHUNK_ROWS = 1 << 14


def sign_shard(work_root: str, shard: Shard, cfg: DedupeConfig, opts: ReadOptions,
               meter: Meter | None = None) -> dict[str, Any]:
    """Sign one shard: signatures, exact keys, lengths, scores and ids, then the marker (``meter``: told
    the documents and bytes as they are read, when run in this process)."""
    work = WorkDir(work_root)
    base = work.sign_base(shard.index)
    marker = base.with_suffix(".json")
    params = {**cfg.sign_params(opts), "shard": shard.name}
    info = work.done(marker, params)
    if info is not None:
        return info
    signer = Signer(cfg.num_perm, cfg.ngram, cfg.seed, cfg.engine)
    stats = ShardStats()
    sets = cfg.verify == "exact"
    kinds = ["sig", "exact", "len", "ids.jsonl"] + (["score"] if cfg.score_field else []) + \
        (["sets", "setend"] if sets else [])
    values_written = 0
    fields: Counter[str] = Counter()  # with --keep score:FIELD, to tell a misspelt field from a sparse one
    with ExitStack() as stack:
        files = {k: stack.enter_context(open(stack.enter_context(work.atomic(f"{base}.{k}")), "wb")) for k in kinds}
        rows = 0
        for batch in iter_batches(shard, opts, stats, all_columns=cfg.score_field is not None):
            sig, exact, values, counts = signer.sign_with_sets(batch.texts) if sets else (*signer.sign(batch.texts),
                                                                                             None, None)
            if values is not None and counts is not None:  # each document's shingle set, for --verify exact
                files["sets"].write(values.tobytes())
                files["setend"].write((values_written + np.cumsum(counts)).tobytes())
                values_written += len(values)
            files["sig"].write(sig.tobytes())
            files["exact"].write(exact.tobytes())
            files["len"].write(np.fromiter(map(len, batch.texts), dtype=np.int64, count=len(batch)).tobytes())
            ids = batch.ids if batch.ids is not None else [None] * len(batch)
            files["ids.jsonl"].write("".join(json.dumps(i) + "\n" for i in ids).encode())
            if cfg.score_field:
                files["score"].write(_scores(batch, cfg.score_field).tobytes())
                fields.update(batch.field_counts())
            rows += len(batch)
            if meter is not None:
                meter.update(len(batch), stats)
    seen = dict(fields.most_common(30))
    work.mark(marker, params, rows=rows, stats=stats.as_dict(), fields=seen)
    return {"params": params, "rows": rows, "stats": stats.as_dict(), "fields": seen}


def _scores(batch: Any, name: str) -> np.ndarray:
    """The --keep score:FIELD values of a batch; a missing or non-numeric value ranks last (NaN)."""
    values = batch.column(name)
    return np.array([float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
                     for v in values], dtype=np.float64)


def exact_pass(work_root: str, sources: Sequence[Source], params: dict[str, Any]) -> np.ndarray:
    """Each document's representative: the smallest global index with the same 128-bit exact key."""
    work = WorkDir(work_root)
    marker = work.path("exact", "rep.json")
    if work.done(marker, params) is not None:
        return work.load(work.path("exact", "rep.npy"))
    keys = SigStore(sources, 1).column("exact", np.uint64)
    n = len(keys)
    order = np.lexsort((np.arange(n), keys[:, 1], keys[:, 0]))
    k = keys[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = np.any(k[1:] != k[:-1], axis=1)
    first = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    rep = np.empty(n, dtype=np.int64)
    rep[order] = order[first]
    work.save(work.path("exact", "rep.npy"), rep)
    work.mark(marker, params, documents=n, exact_groups=int(new.sum()))
    return rep


def bucket_band(work_root: str, sources: Sequence[Source], cfg: DedupeConfig, band: int, part: int,
                params: dict[str, Any]) -> None:
    """LSH groups of one band (and key range) over every exact representative, as sorted arrays."""
    work = WorkDir(work_root)
    base = work.bucket_base(band, part)
    marker = base.with_suffix(".json")
    params = {**params, "band": band, "part": part}
    if work.done(marker, params) is not None:
        return
    rep = work.load(work.path("exact", "rep.npy"))
    store = SigStore(sources, cfg.num_perm)
    rows, seed = cfg.banding.rows, cfg.seed
    keys, docs = [], []
    for source in store.sources:
        for lo in range(0, source.rows, CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, source.rows)
            idx = np.arange(source.offset + lo, source.offset + hi, dtype=np.int64)
            idx = idx[rep[idx] == idx]
            k = band_keys(store.gather(idx), band, rows, seed)
            if cfg.key_parts > 1:
                mine = k % np.uint64(cfg.key_parts) == np.uint64(part)
                k, idx = k[mine], idx[mine]
            keys.append(k)
            docs.append(idx)
            store.release()  # a band's columns touch every signature page: let them go chunk by chunk
    key_arr = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
    doc_arr = np.concatenate(docs) if docs else np.empty(0, dtype=np.int64)
    group, members = bucket_groups(key_arr, doc_arr)
    with work.atomic(f"{base}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, group=group, doc=members)
    work.mark(marker, params, members=int(len(members)), groups=int(group.max() + 1) if len(group) else 0)


def cluster_stage(work_root: str, sources: Sequence[Source], cfg: DedupeConfig,
                  params: dict[str, Any]) -> dict[str, Any]:
    """Verify candidates, join exact and near edges into clusters, pick survivors; write arrays and stats."""
    work = WorkDir(work_root)
    marker = work.path("cluster", "done.json")
    info = work.done(marker, params)
    if info is not None:
        return dict(info["stats"])
    store = SigStore(sources, cfg.num_perm)
    n = store.total
    rep = np.asarray(work.load(work.path("exact", "rep.npy")))
    sets = ShingleSets(sources) if cfg.verify == "exact" else None
    verify = make_verifier(cfg.verify, cfg.threshold, store, sets)
    files = [f"{work.bucket_base(band, part)}.npz" for band in range(cfg.banding.bands)
             for part in range(cfg.key_parts)]
    us, vs = [], []
    for name in files:
        with np.load(name) as z:
            u, v = peel(z["group"], z["doc"], verify)
        us.append(u)
        vs.append(v)
    near = len(us) and sum(len(u) for u in us)
    dup = np.flatnonzero(rep != np.arange(n))
    u = np.concatenate(us + [rep[dup]]) if us else rep[dup]
    v = np.concatenate(vs + [dup]) if vs else dup
    nodes, label = components(u.astype(np.int64), v.astype(np.int64))
    surv = survivors(nodes, label, _priority(store, sources, cfg, nodes))
    est = sets.jaccard(nodes, surv) if sets is not None else estimate_pairs(store, nodes, surv)
    stats = _write_cluster(work, sources, nodes, label, surv, est, rep, n, int(near))
    work.mark(marker, params, stats=stats)
    return stats


def _priority(store: SigStore, sources: Sequence[Source], cfg: DedupeConfig, nodes: np.ndarray) -> np.ndarray:
    """Lower wins: earlier runs' documents first, then by --keep; ties go to the smaller global index."""
    prio = np.zeros(len(nodes), dtype=np.float64)
    fresh = nodes >= _first_new(sources)
    prio[~fresh] = -np.inf
    if cfg.keep == "longest":
        prio[fresh] = -store.values("len", np.int64, nodes[fresh]).astype(np.float64)
    elif cfg.score_field:
        score = store.values("score", np.float64, nodes[fresh])
        prio[fresh] = np.where(np.isnan(score), np.inf, -score)
    return prio


def _first_new(sources: Sequence[Source]) -> int:
    return next((s.offset for s in sources if not s.seen), sum(s.rows for s in sources))


def _write_cluster(work: WorkDir, sources: Sequence[Source], nodes: np.ndarray, label: np.ndarray,
                   surv: np.ndarray, est: np.ndarray, rep: np.ndarray, n: int, near_edges: int) -> dict[str, Any]:
    start = _first_new(sources)
    cluster = np.arange(start, n, dtype=np.int64)
    keep = np.ones(n - start, dtype=bool)
    jac = np.full(n - start, np.nan, dtype=np.float32)
    fresh = nodes >= start
    local = nodes[fresh] - start
    cluster[local] = label[fresh]
    keep[local] = nodes[fresh] == surv[fresh]
    jac[local] = est[fresh]
    for name, arr in (("cluster", cluster), ("keep", keep), ("jaccard", jac)):
        work.save(work.path("cluster", f"{name}.npy"), arr)
    _write_clusters_file(work, sources, nodes[fresh], label[fresh], surv[fresh], est[fresh], label)
    dropped = fresh & (nodes != surv)
    # every copy of an exact group but one goes (all of them when an earlier run saw one), whichever document
    # of the cluster survives: counting them from the survivor made the count move with the near settings
    exact = int(np.count_nonzero(rep[start:] != np.arange(start, n)))
    seen = dropped & (label < start)
    fresh_labels = np.unique(label[fresh])
    return {"documents_in": int(n - start), "documents_out": int(keep.sum()), "dropped": int(dropped.sum()),
            "exact_duplicates": exact, "near_duplicates": int(dropped.sum()) - exact,
            "seen_before": int(seen.sum()), "clusters": int(len(fresh_labels)), "candidate_edges": near_edges,
            "cluster_sizes": size_histogram(label[np.isin(label, fresh_labels)])}


def _write_clusters_file(work: WorkDir, sources: Sequence[Source], nodes: np.ndarray, label: np.ndarray,
                         surv: np.ndarray, est: np.ndarray, all_labels: np.ndarray) -> None:
    """One line per document in a cluster of two or more, in input order."""
    labels, counts = np.unique(all_labels, return_counts=True)
    size = counts[np.searchsorted(labels, label)]
    offsets = np.array([s.offset for s in sources], dtype=np.int64)
    where = np.searchsorted(offsets, nodes, side="right") - 1
    swhere = np.searchsorted(offsets, surv, side="right") - 1
    with work.atomic(work.path("cluster", "clusters.jsonl")) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for s in np.unique(where).tolist():
            sel = np.flatnonzero(where == s)
            source = sources[s]
            rows = (nodes[sel] - source.offset).tolist()
            ids = ids_at(source, dict.fromkeys(rows))
            for i, row in zip(sel.tolist(), rows, strict=True):
                sv = sources[swhere[i]]
                fh.write(json.dumps({
                    "shard": source.shard.name, "row": row, "id": ids.get(row), "cluster": int(label[i]),
                    "size": int(size[i]), "kept": bool(nodes[i] == surv[i]),
                    "jaccard": round(float(est[i]), 4),
                    "survivor": f"{sv.shard.name}:{int(surv[i] - sv.offset)}" + (" (earlier run)" if sv.seen else ""),
                }, ensure_ascii=False) + "\n")


def filter_params(params: dict[str, Any], output: str, annotate: bool) -> dict[str, Any]:
    return {**params, "output": output, "annotate": annotate}


def filter_marker(work: WorkDir, output: str, shard: Shard) -> Any:
    return work.path("filter", digest(output), f"shard-{shard.index:05d}.json")
