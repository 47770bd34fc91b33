"""``report``: what a set of shards holds (rows, bytes, fields, text lengths), shard by shard and in total.

Text lengths are kept as one int32 per document, so memory grows by 4 bytes a document, never by text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from sievekit.io import ReadOptions, ShardStats, iter_batches, resolve_inputs

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def length_summary(lengths: np.ndarray) -> dict[str, Any]:
    """Count, mean and quantiles (p0 … p100) of text lengths in characters."""
    if len(lengths) == 0:
        return {"count": 0}
    qs = np.quantile(lengths, QUANTILES, method="lower")
    out: dict[str, Any] = {"count": int(len(lengths)), "mean": round(float(lengths.mean()), 1)}
    out.update({f"p{round(q * 100)}": int(v) for q, v in zip(QUANTILES, qs)})
    return out


def report(inputs: Sequence[str], opts: ReadOptions) -> dict[str, Any]:
    """Stats of every shard and of the whole input set.

    Returns:
        ``{"shards": [...], "total": {...}}``; each entry has rows, bytes, text_bytes, skipped records by
        reason, fields (name -> number of records that have it) and text-length quantiles.

    Example:
        >>> report(["tests/data/pool.jsonl"], ReadOptions())["total"]["rows"]  # doctest: +SKIP
        20
    """
    shards = resolve_inputs(inputs)
    entries = []
    all_lengths = []
    all_fields: Counter[str] = Counter()
    for shard in shards:
        stats = ShardStats()
        fields: Counter[str] = Counter()
        lengths = []
        for batch in iter_batches(shard, opts, stats, all_columns=True):
            lengths.append(np.fromiter(map(len, batch.texts), dtype=np.int32, count=len(batch)))
            if isinstance(batch.payload, list):
                for rec in batch.records():
                    fields.update(rec.keys())
            else:
                fields.update({name: len(batch) for name in batch.payload.schema.names})
        lens = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int32)
        all_lengths.append(lens)
        all_fields.update(fields)
        entries.append({"name": shard.name, "path": shard.label, "format": shard.format, **stats.as_dict(),
                        "fields": dict(sorted(fields.items())), "text_length": length_summary(lens)})
    total_lengths = np.concatenate(all_lengths) if all_lengths else np.empty(0, dtype=np.int32)
    skipped: Counter[str] = Counter()
    for e in entries:
        skipped.update(e["skipped"])
    total = {"shards": len(entries), "rows": sum(e["rows"] for e in entries),
             "bytes": sum(e["bytes"] for e in entries), "text_bytes": sum(e["text_bytes"] for e in entries),
             "skipped": dict(skipped), "fields": dict(sorted(all_fields.items())),
             "text_length": length_summary(total_lengths)}
    return {"shards": entries, "total": total}
