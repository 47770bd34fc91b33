"""One format dispatch: a file name finds its format, and a batch asks its format what its payload means."""

from __future__ import annotations

import pickle
import re
from collections import Counter
from pathlib import Path

import pytest

from sievekit.io import ReadOptions, formats, iter_batches, resolve_inputs
from sievekit.io.jsonl import JSONL
from sievekit.io.parquet import PARQUET
from sievekit.io.shards import count_rows, format_stem, shard_format
from tests.conftest import POOL_FORMATS, pool_records

IO = Path(__file__).resolve().parents[2] / "sievekit" / "io"


@pytest.mark.parametrize(("name", "fmt"), [("a.jsonl", JSONL), ("A.NDJSON.GZ", JSONL), ("x/b.json.zstd", JSONL),
                                           ("c.parquet", PARQUET), ("c.PQ", PARQUET), ("c.parquet.gz", None),
                                           ("notes.txt", None), ("archive.gz", None)])
def test_a_name_finds_its_format(name, fmt):
    assert formats.for_path(name) is fmt
    assert shard_format(name) == (fmt.name if fmt else None)


@pytest.mark.parametrize(("name", "stem"), [("a/b.jsonl.zst", "a/b"), ("b.ndjson", "b"), ("c.parquet", "c"),
                                            ("d.JSONL.GZ", "d"), ("e.txt", "e.txt"), ("f.gz", "f")])
def test_stems_drop_codec_and_format_suffixes(name, stem):
    assert format_stem(name) == stem


def test_an_unknown_format_name_is_refused():
    with pytest.raises(ValueError, match="jsonl, parquet"):
        formats.by_name("csv")


@pytest.mark.parametrize("name", POOL_FORMATS)
def test_batches_ask_their_format(data_dir, name):
    shard = resolve_inputs([str(data_dir / name)])[0]
    batch = next(iter(iter_batches(shard, ReadOptions(batch_size=5))))
    assert batch.format is formats.by_name(shard.format)
    records = batch.records()
    assert batch.column("id") == [r["id"] for r in records] == [r["id"] for r in pool_records()[:5]]
    assert batch.column("no_such_field") == [None] * 5
    assert batch.field_counts() == Counter(k for r in records for k in r)
    assert count_rows(str(data_dir / name)) == 20


def test_a_batch_keeps_its_format_across_processes(data_dir):
    for name in ("pool.jsonl", "pool.parquet"):
        batch = next(iter(iter_batches(resolve_inputs([str(data_dir / name)])[0], ReadOptions())))
        copy = pickle.loads(pickle.dumps(batch))
        assert copy.format is batch.format and copy.records() == batch.records()


def test_io_has_no_format_switches_left():
    """Formats are told apart in formats.py only: no payload type tests or format-name comparisons elsewhere."""
    switch = re.compile(r'isinstance\([^)]*payload|endswith\([^)]*"\.(parquet|jsonl)|== "(parquet|jsonl)"')
    found = [f"{p.name}:{n}" for p in IO.glob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
             if switch.search(line)]
    assert found == []
