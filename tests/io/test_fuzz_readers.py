"""Whatever bytes a shard holds, reading it raises only sievekit's own errors (one line naming the file),
and what the readers let through is valid UTF-8 JSON that can be written back."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sievekit.errors import SievekitError
from sievekit.io import ReadOptions, ShardStats, iter_batches, open_writer
from sievekit.io.shards import Shard

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"]


def _good_jsonl(n: int = 40) -> bytes:
    return "".join(json.dumps({"id": i, "text": f"document {i} " * 8, "meta": {"k": [i, None]}}) + "\n"
                   for i in range(n)).encode()


def _good_parquet() -> bytes:
    sink = io.BytesIO()
    table = pa.table({"id": list(range(60)), "text": [f"row {i} " * 6 for i in range(60)],
                      "tags": [[str(i), "x"] for i in range(60)]})
    pq.write_table(table, sink, row_group_size=16, compression="zstd")
    return sink.getvalue()


GOOD = {".jsonl": _good_jsonl(), ".jsonl.gz": gzip.compress(_good_jsonl(), mtime=0),
        ".jsonl.zst": zstandard.ZstdCompressor().compress(_good_jsonl()), ".parquet": _good_parquet()}


def read_all(path, suffix: str, policy: str) -> None:
    """Read every batch, touch every record and column, and write the batches back out: only SievekitErrors
    may escape, each on one line naming the file."""
    shard = Shard(0, str(path), path.name, "parquet" if suffix == ".parquet" else "jsonl")
    out = path.with_name("out" + suffix)
    try:
        with open_writer(str(out), shard) as writer:
            for batch in iter_batches(shard, ReadOptions(batch_size=7, on_bad_record=policy), ShardStats()):
                assert len(batch.records()) == len(batch) == len(batch.column("text"))
                batch.field_counts()
                for text in batch.texts:
                    text.encode("utf-8")  # no lone surrogates get through
                writer.write(batch, [True] * len(batch), {"score": [1.0] * len(batch)})
    except SievekitError as exc:
        assert "\n" not in str(exc)
        assert str(path) in str(exc), exc  # the input is named (the output, written from good batches, never fails)
        return
    if suffix != ".parquet":
        body = out.read_bytes()
        body = gzip.decompress(body) if suffix == ".jsonl.gz" else body
        if suffix == ".jsonl.zst" and body:
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        for line in body.decode("utf-8").split("\n")[:-1]:  # strict: no invalid UTF-8 was copied out
            assert isinstance(json.loads(line), dict)


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES), policy=st.sampled_from(["fail", "skip"]))
def test_random_bytes(tmp_path_factory, data, suffix, policy):
    path = tmp_path_factory.mktemp("fz") / f"in{suffix}"
    path.write_bytes(data)
    read_all(path, suffix, policy)


@FUZZ
@given(good=st.sampled_from(SUFFIXES), edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4),
                                                                st.sampled_from(["flip", "insert", "cut"])),
                                                      min_size=1, max_size=4),
       policy=st.sampled_from(["fail", "skip"]))
def test_corrupted_files(tmp_path_factory, good, edits, policy):
    """Valid gzip, zstd and Parquet files with bytes flipped, inserted, or cut off at random places."""
    data = bytearray(GOOD[good])
    for where, chunk, how in edits:
        at = int(where * len(data))
        if how == "flip":
            data[at:at + len(chunk)] = bytes(b ^ c for b, c in zip(data[at:at + len(chunk)], chunk))
        elif how == "insert":
            data[at:at] = chunk
        else:
            del data[at:]
    path = tmp_path_factory.mktemp("fz") / f"in{good}"
    path.write_bytes(bytes(data))
    read_all(path, good, policy)


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=10)
# Pieces a hostile line may be made of: valid JSON, escapes of lone surrogates, raw invalid UTF-8, deep nesting.
line_piece = st.one_of(
    json_value.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda t, v: json.dumps({"text": t, "v": v}).encode(), st.text(max_size=12), json_value),
    st.sampled_from([b'{"text": "a\\ud800"}', b'{"text": "\xed\xa0\x80"}', b'{"text": "\xff"}',
                     b'{"text": "x", "k\\udfff": 1}', b'{"text": NaN}', b'{"text": "x", "n": 1e999}',
                     b'{"text": "x", "big": ' + b"9" * 500 + b"}",
                     b'{"text": "x", "d": ' + b"[" * 3000 + b"]" * 3000 + b"}",
                     b'{"text": "x", "d": ' + b"[" * 1100 + b"NaN" + b"]" * 1100 + b"}",
                     b'{"text": "x", "d": ' + b"{\"a\":" * 2000 + b"}",
                     b"PAR1", b"\x1f\x8b", b"\xef\xbb\xbf{\"text\": \"bom\"}"]),
)


@FUZZ
@given(lines=st.lists(line_piece, max_size=12), suffix=st.sampled_from([".jsonl", ".jsonl.gz", ".jsonl.zst"]),
       policy=st.sampled_from(["fail", "skip"]))
def test_random_json_lines(tmp_path_factory, lines, suffix, policy):
    body = b"\n".join(lines) + b"\n"
    body = {".jsonl": lambda b: b, ".jsonl.gz": lambda b: gzip.compress(b, mtime=0),
            ".jsonl.zst": zstandard.ZstdCompressor().compress}[suffix](body)
    path = tmp_path_factory.mktemp("fz") / f"in{suffix}"
    path.write_bytes(body)
    read_all(path, suffix, policy)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_fuzzed_files_start_out_readable(tmp_path, suffix):
    """The corruption test starts from files that read whole (else it would prove nothing)."""
    path = tmp_path / f"in{suffix}"
    path.write_bytes(GOOD[suffix])
    shard = Shard(0, str(path), path.name, "parquet" if suffix == ".parquet" else "jsonl")
    assert sum(len(b) for b in iter_batches(shard, ReadOptions())) == (60 if suffix == ".parquet" else 40)
