"""Records read and written back through the I/O layer are identical, for every format and codec."""

from __future__ import annotations

import gzip
import json
import string
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sievekit.io import ReadOptions, iter_batches, open_writer, resolve_inputs
from sievekit.io.shards import Shard
from tests.conftest import POOL_FORMATS, pool_records, read_records

CODEC_SUFFIXES = [".jsonl", ".jsonl.gz", ".jsonl.zst"]


def copy_shard(src: Path, dst: Path) -> None:
    shard = resolve_inputs([str(src)])[0]
    with open_writer(str(dst), shard) as writer:
        for batch in iter_batches(shard, ReadOptions(batch_size=3)):
            writer.write(batch)


@pytest.mark.parametrize("name", POOL_FORMATS)
def test_every_format_reads_the_same_records(data_dir, name):
    records = read_records(data_dir / name)
    expected = pool_records()
    if name.endswith(".parquet"):  # the Parquet fixture holds the four flat columns
        expected = [{k: r[k] for k in ("id", "text", "domain", "source")} for r in expected]
    assert records == expected


def test_two_frame_zstd_fixture_is_really_two_frames(data_dir):
    raw = (data_dir / "pool.jsonl.zst").read_bytes()
    assert raw.count(b"\x28\xb5\x2f\xfd") >= 2
    assert len(read_records(data_dir / "pool.jsonl.zst")) == 20


@pytest.mark.parametrize("name", POOL_FORMATS)
def test_copy_keeps_every_record(tmp_path, data_dir, name):
    dst = tmp_path / name
    copy_shard(data_dir / name, dst)
    assert read_records(dst) == read_records(data_dir / name)


def test_jsonl_copy_is_byte_identical(tmp_path, data_dir):
    copy_shard(data_dir / "pool.jsonl", tmp_path / "pool.jsonl")
    assert (tmp_path / "pool.jsonl").read_bytes() == (data_dir / "pool.jsonl").read_bytes()


def test_parquet_copy_keeps_schema_and_codec(tmp_path, data_dir):
    copy_shard(data_dir / "pool.parquet", tmp_path / "pool.parquet")
    src, dst = pq.ParquetFile(data_dir / "pool.parquet"), pq.ParquetFile(tmp_path / "pool.parquet")
    assert dst.schema_arrow == src.schema_arrow
    assert dst.metadata.row_group(0).column(0).compression == src.metadata.row_group(0).column(0).compression
    assert dst.read().equals(src.read())


def test_compressed_outputs_are_deterministic(tmp_path, data_dir):
    for suffix in (".jsonl.gz", ".jsonl.zst"):
        copy_shard(data_dir / "pool.jsonl", tmp_path / f"a{suffix}")
        copy_shard(data_dir / "pool.jsonl", tmp_path / f"b{suffix}")
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()


def test_concatenated_gzip_members_are_read_whole(tmp_path, data_dir):
    body = (data_dir / "pool.jsonl").read_bytes()
    cut = body.index(b"\n", 100) + 1
    (tmp_path / "cat.jsonl.gz").write_bytes(gzip.compress(body[:cut]) + gzip.compress(body[cut:]))
    assert read_records(tmp_path / "cat.jsonl.gz") == pool_records()


def test_blank_lines_are_ignored(tmp_path):
    (tmp_path / "b.jsonl").write_text('\n{"text": "a"}\n\n   \n{"text": "b"}\r\n\n')
    assert [r["text"] for r in read_records(tmp_path / "b.jsonl")] == ["a", "b"]


def test_batches_bound_memory_and_number_rows(data_dir):
    shard = resolve_inputs([str(data_dir / "pool.jsonl.zst")])[0]
    batches = list(iter_batches(shard, ReadOptions(batch_size=6)))
    assert [len(b) for b in batches] == [6, 6, 6, 2]
    assert [b.start for b in batches] == [0, 6, 12, 18]
    assert batches[1].ids[0] == pool_records()[6]["id"]


def test_parquet_reads_only_text_and_id_when_asked(data_dir):
    shard = resolve_inputs([str(data_dir / "pool.parquet")])[0]
    batch = next(iter(iter_batches(shard, ReadOptions(), all_columns=False)))
    assert batch.payload.schema.names == ["text", "id"]


# -- property tests ------------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20) | st.floats(
    allow_nan=False, allow_infinity=False)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)
record_st = st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k != "text"), json_values,
                            max_size=5).flatmap(lambda d: st.text(max_size=200).map(lambda t: {**d, "text": t}))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record_st, min_size=1, max_size=12), suffix=st.sampled_from(CODEC_SUFFIXES),
       batch_size=st.integers(1, 5))
def test_jsonl_round_trip_any_fields(tmp_path_factory, records, suffix, batch_size):
    tmp = tmp_path_factory.mktemp("rt")
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    src = tmp / f"in{suffix}"
    src.write_bytes({".jsonl": lambda b: b, ".jsonl.gz": gzip.compress,
                     ".jsonl.zst": zstandard.ZstdCompressor().compress}[suffix](body))
    shard = resolve_inputs([str(src)])[0]
    dst = tmp / f"out{suffix}"
    with open_writer(str(dst), shard) as writer:
        for batch in iter_batches(shard, ReadOptions(batch_size=batch_size, id_field=None)):
            writer.write(batch)
    assert read_records(dst) == records


column_types = st.sampled_from([
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.float64(), st.floats(allow_nan=False)),
    (pa.string(), st.text(max_size=10)),
    (pa.bool_(), st.booleans()),
    (pa.list_(pa.int32()), st.lists(st.integers(-(2**31), 2**31 - 1), max_size=3)),
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), n_rows=st.integers(1, 15), n_cols=st.integers(0, 4))
def test_parquet_round_trip_any_schema(tmp_path_factory, data, n_rows, n_cols):
    tmp = tmp_path_factory.mktemp("pq")
    names = data.draw(st.lists(st.text(string.ascii_letters + "_é", min_size=1, max_size=8).filter(
        lambda n: n != "text"), min_size=n_cols, max_size=n_cols, unique=True))
    columns = {"text": pa.array(data.draw(st.lists(st.text(max_size=30), min_size=n_rows, max_size=n_rows)))}
    for name in names:
        typ, values = data.draw(column_types)
        columns[name] = pa.array(data.draw(st.lists(st.none() | values, min_size=n_rows, max_size=n_rows)), type=typ)
    table = pa.table(columns)
    pq.write_table(table, tmp / "in.parquet", row_group_size=4)
    shard = Shard(0, str(tmp / "in.parquet"), "in.parquet", "parquet")
    with open_writer(str(tmp / "out.parquet"), shard) as writer:
        for batch in iter_batches(shard, ReadOptions(batch_size=3)):
            writer.write(batch)
    out = pq.read_table(tmp / "out.parquet")
    assert out.schema == table.schema
    assert out.equals(table)
