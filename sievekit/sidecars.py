"""Scores that were computed before: sidecar shards written by ``score``, or a field of the records.

Sidecars are read line-aligned with their shard: row numbers must run 0..n-1, and the ids they carry
are checked against the shard's while the kept records are written, so scores never attach to the
wrong document.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np

from sievekit.errors import ConfigError, InputError, ShardError
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, iter_decoded_chunks
from sievekit.io.jsonl import loads, split_lines
from sievekit.io.shards import codec_suffix, format_stem

Scores = np.ndarray


def sidecar_name(shard: Shard) -> str:
    """``a/b.jsonl.zst`` scores go to ``a/b.scores.jsonl.zst``; a Parquet shard's to ``a/b.scores.jsonl``."""
    return f"{format_stem(shard.name)}.scores.jsonl{codec_suffix(shard.name)}"


class IdDigest:
    """An order-sensitive digest of a shard's ids, to compare a sidecar with its shard in O(1) memory."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=16)

    def update(self, ids: Iterable[str | None]) -> None:
        for doc_id in ids:
            self._h.update(b"\x00" if doc_id is None else doc_id.encode("utf-8", "surrogatepass") + b"\x01")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def read_sidecar(path: str, column: str | None) -> tuple[str, Scores, str]:
    """The scores of one column of a sidecar (null -> -inf), the column's name, and the digest of its ids.

    Raises:
        InputError: the sidecar is missing, malformed, out of row order, or lacks the column.
    """
    if not fs.exists(path):
        raise InputError(path, "no sidecar for this shard", hint="run `sievekit score` on the same inputs first")
    values: list[float] = []
    digest = IdDigest()
    name = column
    lineno = 0
    for lines in split_lines(iter_decoded_chunks(path)):
        for line in lines:
            lineno += 1
            if not line.strip():
                continue
            rec = _record(line, path, lineno)
            if name is None:
                name = _only_score_column(rec, path)
            if rec.get("row") != len(values):
                raise InputError(path, f"row {rec.get('row')} where {len(values)} was expected", line=lineno,
                                 hint="the sidecar does not belong to this shard; re-run `sievekit score`")
            if name not in rec:
                raise InputError(path, f"no score column {name!r} (columns: {', '.join(sorted(rec))})", line=lineno,
                                 hint="pass --method with one of the scored methods")
            value = rec[name]
            values.append(-math.inf if value is None else float(value))  # type: ignore[arg-type]
            digest.update([None if rec.get("id") is None else str(rec["id"])])
    return name or "", np.asarray(values, dtype=np.float64), digest.hexdigest()


def _record(line: bytes, path: str, lineno: int) -> dict[str, object]:
    try:
        rec = loads(line)
    except ValueError as exc:
        raise InputError(path, f"malformed JSON ({exc})", line=lineno) from exc
    if not isinstance(rec, dict):
        raise InputError(path, "a sidecar line must be a JSON object", line=lineno)
    return rec


def _only_score_column(rec: dict[str, object], path: str) -> str:
    columns = sorted(set(rec) - {"shard", "row", "id"})
    if len(columns) != 1:
        raise ConfigError(f"{path} holds scores of {', '.join(columns)}", hint="pass --method to choose one")
    return columns[0]


def field_scores(shards: Sequence[Shard], field: str, opts: ReadOptions) -> tuple[list[Scores], list[ShardStats]]:
    """Scores from a numeric field of the records themselves (null or missing -> -inf)."""
    per_shard, all_stats = [], []
    for shard in shards:
        stats = ShardStats()
        parts = []
        for batch in iter_batches(shard, opts, stats, all_columns=True):
            parts.append(np.asarray([_number(v, shard, field) for v in batch.column(field)], dtype=np.float64))
        per_shard.append(np.concatenate(parts) if parts else np.empty(0))
        all_stats.append(stats)
    return per_shard, all_stats


def _number(value: object, shard: Shard, field: str) -> float:
    if value is None:
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(shard.label, f"field {field!r} holds {type(value).__name__} values, not numbers",
                         hint="pass --score-field with a numeric field")
    return float(value)


def check_ids(shard: Shard, expected: str, actual: IdDigest) -> None:
    if actual.hexdigest() != expected:
        raise ShardError(f"{shard.label}: its sidecar's ids differ from the shard's",
                         hint="the scores belong to other data; re-run `sievekit score` on these inputs")
