"""The four stages, each a function that reads and writes only the work directory (and the inputs).

sign (per shard) → exact pass + bucket (per band and key range) → cluster (verify per band and key range,
then components once) → filter (per shard).
Each stage skips what its markers say is complete with the same parameters and refuses artefacts made
with different ones. Memory (bench/neardup/memory.py, 4k and 16k documents): sign and filter keep nothing
per document beyond the current batch (and filter's 9-byte keep/cluster arrays); bucket holds one band's
keys, indices and sort order, ~32 bytes per document (the exact pass before it: exact.py, in the budget);
cluster first verifies each band part as a task of its own (``verify_band``, on the executor like the other
stages: one part's groups and edges at a time) and writes its edges to the work directory, then joins them
within ``--memory-mb`` (components.py: a label per document, on disk past the budget; cluster_files.py: the
outputs, streamed); its exact verification reads the shingle sets sign wrote a chunk of pairs at a time
(verify.py, by positional reads: preads.py), never all at once, each pair once per process (pairmemo.py).
Signatures are memory-mapped for the bucket stage's runs of documents, read in chunks of ``CHUNK_ROWS``.
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
from sievekit.duplicates.cluster import components, peel
from sievekit.duplicates.cluster_files import write_clusters
from sievekit.duplicates.components import edge_chunks, label_components, star_edges
from sievekit.duplicates.minhash import Signer
from sievekit.duplicates.options import DedupeConfig
from sievekit.duplicates.sources import SigStore, Source
from sievekit.duplicates.spill import Budget
from sievekit.duplicates.verify import make_verifier, pool_sets
from sievekit.duplicates.workdir import WorkDir, digest, read_json
from sievekit.errors import InputError
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


def verify_band(work_root: str, sources: Sequence[Source], cfg: DedupeConfig, band: int, part: int,
                params: dict[str, Any]) -> int:
    """Verify the candidates of one band's (and key range's) LSH groups and write the verified edges, one per
    document to the smallest document of its component among them (same components, fewer edges); returns
    how many edges passed verification."""
    work = WorkDir(work_root)
    base = work.edges_base(band, part)
    marker = base.with_suffix(".json")
    params = {**params, "band": band, "part": part}
    info = work.done(marker, params)
    if info is not None:
        return int(info["verified"])
    groups = work.path("bucket", f"{work.bucket_base(band, part).name}.npz")
    if not groups.exists():
        raise InputError(str(groups), "missing work-directory artefact",
                         hint="run the earlier stages first (or the whole command without --stage)")
    store = SigStore(sources, cfg.num_perm)
    sets = pool_sets(sources, cfg.threshold, cfg.num_perm, cfg.memory_mb) if cfg.verify == "exact" else None
    try:
        with np.load(groups) as z:
            u, v = peel(z["group"], z["doc"], make_verifier(cfg.verify, cfg.threshold, store, sets))
    finally:
        store.close()
        if sets is not None:
            sets.close()
    star = star_edges(*components(u.astype(np.int64), v.astype(np.int64)))
    with work.atomic(f"{base}.edges") as tmp, open(tmp, "wb") as fh:
        fh.write(star.tobytes())
    work.mark(marker, params, verified=int(len(u)), edges=int(len(star)))
    return int(len(u))


def cluster_stage(work_root: str, sources: Sequence[Source], cfg: DedupeConfig, params: dict[str, Any],
                  memory_mb: float | None = None) -> dict[str, Any]:
    """Join the verified and exact edges into clusters within ``memory_mb`` (default: the config's), pick the
    survivors, write the arrays, ``clusters.jsonl`` and the stats (``verify_band`` must have run for every
    band and part)."""
    work = WorkDir(work_root)
    marker = work.path("cluster", "done.json")
    info = work.done(marker, params)
    if info is not None:
        return dict(info["stats"])
    budget = Budget(cfg.memory_mb if memory_mb is None else memory_mb, work)
    try:
        verified = 0
        for band in range(cfg.banding.bands):
            for part in range(cfg.key_parts):
                edges = work.done(work.edges_base(band, part).with_suffix(".json"),
                                  {**params, "band": band, "part": part})
                if edges is None:
                    raise InputError(str(work.edges_base(band, part)), "the candidates are not all verified yet",
                                     hint="run the cluster stage whole (it verifies every band first)")
                verified += int(edges["verified"])
        label = component_labels(work, sum(s.rows for s in sources), cfg, params, budget)
        stats = write_clusters(work, sources, cfg, label, budget, verified)
    finally:
        budget.close()
    work.mark(marker, params, stats=stats)
    return stats


def component_labels(work: WorkDir, n: int, cfg: DedupeConfig, params: dict[str, Any],
                     budget: Budget) -> np.ndarray:
    """Every document's component label (``components.label_components``), saved once as ``labels.npy``."""
    marker = work.path("cluster", "labels.json")
    path = work.path("cluster", "labels.npy")
    if work.done(marker, params) is not None:
        return budget.load(path)
    files = []
    for band in range(cfg.banding.bands):
        for part in range(cfg.key_parts):
            base = work.edges_base(band, part)
            files.append((base.with_suffix(".edges"), int(read_json(base.with_suffix(".json"))["edges"])))
    rep = work.path("exact", "rep.npy")
    label = label_components(n, lambda: edge_chunks(files, rep, budget), budget)
    budget.save(path, label)
    work.mark(marker, params, documents=n)
    return label


def filter_params(params: dict[str, Any], output: str, annotate: bool) -> dict[str, Any]:
    return {**params, "output": output, "annotate": annotate}


def filter_marker(work: WorkDir, output: str, shard: Shard) -> Any:
    return work.path("filter", digest(output), f"shard-{shard.index:05d}.json")
