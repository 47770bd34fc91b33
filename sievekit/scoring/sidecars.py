"""Scores that were computed before: sidecar shards written by ``score``, or a field of the records.

Sidecars are read line-aligned with their shard: row numbers must run 0..n-1, and the ids they carry
are checked against the shard's while the kept records are written, so scores never attach to the
wrong document.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sievekit.errors import ConfigError, InputError, option
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, iter_decoded_chunks
from sievekit.io.jsonl import loads, split_lines
from sievekit.run.layout import Layout
from sievekit.run.writeback import IdDigest

Scores = np.ndarray


def read_sidecars(directory: str, shards: Sequence[Shard], column: str | None) -> list[tuple[str, Scores, str]]:
    """The sidecar of every shard in ``directory`` (where ``sievekit score -o DIR`` wrote them)."""
    layout = Layout(directory)
    return [read_sidecar(layout.sidecar(s), column, s.name) for s in shards]


def read_sidecar(path: str, column: str | None, shard: str | None = None) -> tuple[str, Scores, str]:
    """The scores of one column of a sidecar (null -> -inf), the column's name, and the digest of its ids.

    With ``shard`` (a shard's name), every line's ``shard`` field must name it.

    Raises:
        InputError: the sidecar is missing, malformed, of another shard, out of row order, or lacks the column.
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
            if shard is not None and rec.get("shard") != shard:
                raise InputError(path, f"scores of shard {rec.get('shard')!r}, not of {shard!r}", line=lineno,
                                 hint="the sidecar belongs to another input; re-run `sievekit score` on these inputs")
            if rec.get("row") != len(values):
                raise InputError(path, f"row {rec.get('row')} where {len(values)} was expected", line=lineno,
                                 hint="the sidecar does not belong to this shard; re-run `sievekit score`")
            if name not in rec:
                raise InputError(path, f"no score column {name!r} (columns: {', '.join(sorted(rec))})", line=lineno,
                                 hint=f"pass {option('methods')} with one of the scored methods")
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
        raise ConfigError(f"{path} holds scores of {', '.join(columns)}",
                          hint=f"pass {option('methods')} to choose one")
    return columns[0]


def field_scores(shards: Sequence[Shard], field: str, opts: ReadOptions) -> tuple[list[Scores], list[ShardStats]]:
    """Scores from a numeric field of the records themselves (null or missing -> -inf).

    Raises:
        ConfigError: no record has the field (a misspelt name), naming the fields the records have.
        InputError: a value is not a number, or too large for a float.
    """
    per_shard, all_stats = [], []
    seen = False
    fields: set[str] = set()
    for shard in shards:
        stats = ShardStats()
        parts = []
        for batch in iter_batches(shard, opts, stats, all_columns=True):
            values = batch.column(field)
            if not seen:  # every value so far was null or missing: is the name right?
                seen = any(v is not None for v in values) or any(field in rec for rec in batch.records())
                if len(fields) < 100:
                    fields.update(k for rec in batch.records()[:100] for k in rec)
            parts.append(np.asarray([_number(v, shard, field) for v in values], dtype=np.float64))
        per_shard.append(np.concatenate(parts) if parts else np.empty(0))
        all_stats.append(stats)
    if not seen and any(len(p) for p in per_shard):
        raise ConfigError(f"no record has a field {field!r} for {option('field')}",
                          hint=f"fields found: {', '.join(sorted(fields)[:20]) or 'none'}")
    return per_shard, all_stats


def _number(value: object, shard: Shard, field: str) -> float:
    if value is None:
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(shard.label, f"field {field!r} holds {type(value).__name__} values, not numbers",
                         hint=f"pass {option('field')} with a numeric field")
    try:
        return float(value)
    except OverflowError:
        raise InputError(shard.label, f"field {field!r} holds a number too large for a float ({str(value)[:20]}…)",
                         hint=f"pass {option('field')} with a numeric field of ordinary range") from None
