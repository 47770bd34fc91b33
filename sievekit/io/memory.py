"""Records held in memory (an iterable of dicts, a pyarrow Table, a ``datasets.Dataset``) as shards: each is
spooled to a temporary JSONL or Parquet file, so the one pipeline reads it as it reads any shard, and a
selection is read back in the kind it came in.

``datasets`` is never imported unless a ``Dataset`` is passed (it is recognised by its class, not imported).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sievekit.errors import ConfigError, InputError, MissingDependencyError
from sievekit.io.jsonvalue import RecordValueError, dumps
from sievekit.io.options import ReadOptions
from sievekit.io.spool import scratch_dir

KINDS = ("records", "table", "dataset")
LABELS = {"records": "<records>", "table": "<table>", "dataset": "<dataset>"}


def _is_dataset(obj: Any) -> bool:
    return any(c.__module__.split(".")[0] == "datasets" and c.__name__ == "Dataset" for c in type(obj).__mro__)


def _is_table(obj: Any) -> bool:
    import pyarrow as pa

    return isinstance(obj, pa.Table)


def kind_of(obj: Any) -> str | None:
    """``records``, ``table`` or ``dataset`` for records held in memory; None for a path or a list of paths.

    Example:
        >>> kind_of(["pool/"]), kind_of([{"text": "a"}]), kind_of("pool.jsonl")
        (None, 'records', None)
    """
    if isinstance(obj, (str, bytes, os.PathLike)):
        return None
    if _is_table(obj):
        return "table"
    if _is_dataset(obj):
        return "dataset"
    if isinstance(obj, (list, tuple)):  # dicts; else paths (or a list of targets, each a path or records)
        return "records" if any(isinstance(x, Mapping) for x in obj) else None
    if isinstance(obj, Mapping) or not isinstance(obj, Iterable):
        return None
    return "records"


def spool(obj: Any, directory: str, stem: str) -> tuple[str, str]:
    """Write in-memory records to ``directory/stem.jsonl`` (dicts) or ``.parquet`` (a Table, a Dataset).

    Returns:
        The file's path and the records' kind.

    Raises:
        InputError: an item is not a dict, or a value cannot be written as JSON.
    """
    kind = kind_of(obj)
    if kind is None:
        raise ValueError(f"not records held in memory: {type(obj).__name__}")
    if kind == "records":
        path = os.path.join(directory, f"{stem}.jsonl")
        _write_records(obj, path)
    elif kind == "table":
        import pyarrow.parquet as pq

        path = os.path.join(directory, f"{stem}.parquet")
        pq.write_table(obj, path)
    else:
        path = os.path.join(directory, f"{stem}.parquet")
        _write_dataset(obj, path)
    return path, kind


def _write_dataset(dataset: Any, path: str) -> None:
    """A Dataset's rows in order (its indices mapping applied), as Arrow batches: no copy of the whole table,
    and no progress bar of its own on stderr (``Dataset.to_parquet`` draws one)."""
    import pyarrow.parquet as pq

    writer = None
    try:
        for batch in dataset.with_format("arrow").iter(batch_size=8192):
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_table(batch)
        if writer is None:
            pq.write_table(dataset.data.schema.empty_table(), path)
    finally:
        if writer is not None:
            writer.close()


def _write_records(records: Iterable[Any], path: str) -> None:
    with open(path, "wb") as out:
        for row, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise InputError("<records>", f"item {row} is a {type(record).__name__}, not a dict",
                                 hint="pass an iterable of dicts, a pyarrow Table or a datasets.Dataset")
            try:
                out.write(dumps(record) + b"\n")
            except (RecordValueError, TypeError, ValueError) as exc:
                raise InputError("<records>", f"item {row} cannot be written as JSON ({exc})",
                                 hint="keep values to str, numbers, bools, None, lists and dicts") from None


@contextmanager
def spooled(obj: Any, stem: str) -> Iterator[tuple[list[str], str | None]]:
    """``obj`` as input specs: paths as they are (kind None), or in-memory records spooled to a temporary file
    removed when the block ends."""
    kind = kind_of(obj)
    if kind is None:
        paths = [obj] if isinstance(obj, (str, os.PathLike)) else list(obj)
        if not all(isinstance(p, (str, os.PathLike)) for p in paths):
            raise ConfigError("inputs must be paths or records held in memory (an iterable of dicts, a pyarrow "
                              "Table, a datasets.Dataset), not a list of those",
                              hint="concatenate the tables, or chain the iterables")
        yield [os.fspath(p) for p in paths], None
        return
    with scratch_dir("sievekit-memory-") as tmp:
        yield [spool(obj, tmp, stem)[0]], kind


def read_back(paths: Iterable[str], kind: str | None, opts: ReadOptions) -> Any:
    """The records of output shards: a pyarrow Table for a table, a ``datasets.Dataset`` for a dataset, else
    a list of dicts."""
    from sievekit.io.shards import iter_batches, resolve_inputs

    files = list(paths)
    if kind in ("table", "dataset"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables([pq.read_table(p) for p in files])
        return table if kind == "table" else _dataset(table)
    out: list[dict[str, Any]] = []
    for shard in resolve_inputs(files) if files else []:
        for batch in iter_batches(shard, opts):
            out.extend(batch.records())
    return out


def _dataset(table: Any) -> Any:
    try:
        import datasets
    except ImportError:  # only reached when a Dataset came in, so the package is there
        raise MissingDependencyError("datasets", "hub", "returning a datasets.Dataset") from None
    return datasets.Dataset(table)
