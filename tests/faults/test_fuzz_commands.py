"""Fuzz every command with hostile shards: random bytes, random JSON lines, corrupted gzip/zstd/Parquet.

Whatever the input, a command ends with exit 0, 1 or 2, never a traceback; a failure is one ``Error:`` line
(and at most a hint), and the bad shard's output never appears under its final name.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sievekit.cli.main import app
from tests.conftest import DATA

COMMANDS = {
    "select": ["select", "{pool}", "--method", "length", "--top-k", "3", "-o", "{out}"],
    "score": ["score", "{pool}", "--method", "length", "-o", "{out}"],
    "dedupe": ["dedupe", "{pool}", "-o", "{out}"],
    "report": ["report", "{pool}", "--json", "-q"],
}
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=10)
records = st.dictionaries(st.sampled_from(["text", "id", "x", "\n", "[/]"]), json_values, max_size=4)


def _parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one two three", "four five six"]}), sink)
    return sink.getvalue()


def _corrupt(data: bytes, cut: int, flip: int) -> bytes:
    if not data:
        return data
    data = bytearray(data[: max(1, cut % (len(data) + 1))])
    data[flip % len(data)] ^= 0x5A
    return bytes(data)


@st.composite
def shards(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["bytes", "json", "gz", "zst", "parquet"]))
    if kind == "bytes":
        return draw(st.sampled_from([".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"])), draw(st.binary(max_size=300))
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in draw(st.lists(records, max_size=5)))
    if kind == "json":
        return ".jsonl", lines if draw(st.booleans()) else lines + draw(st.binary(max_size=40))
    cut, flip = draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000))
    if kind == "gz":
        return ".jsonl.gz", _corrupt(gzip.compress(lines or b"{}\n"), cut, flip)
    if kind == "zst":
        return ".jsonl.zst", _corrupt(zstandard.ZstdCompressor().compress(lines or b"{}\n"), cut, flip)
    return ".parquet", _corrupt(_parquet_bytes(), cut, flip)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shard=shards(), command=st.sampled_from(sorted(COMMANDS)))
def test_every_command_fails_cleanly_on_hostile_shards(shard, command):
    suffix, data = shard
    root = Path(tempfile.mkdtemp(prefix="sievekit-fuzz-"))
    try:
        pool = root / "pool"
        pool.mkdir()
        shutil.copy(DATA / "pool.jsonl", pool / "good.jsonl")  # a good shard beside the bad one
        (pool / f"bad{suffix}").write_bytes(data)
        out = root / "out"
        args = [a.format(pool=pool, out=out) for a in COMMANDS[command]]
        res = CliRunner().invoke(app, args)
        assert res.exit_code in (0, 1, 2), (res.exit_code, res.stderr)
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert "Traceback" not in res.stderr
        if res.exit_code:
            errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
            assert len(errors) == 1, res.stderr
            written = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")] if out.exists() \
                else []
            # Whole outputs of the good shard (and the fitted state) may stay for a resume; never the bad one's.
            assert not [p for p in written if p.name.startswith("bad")], written
    finally:
        shutil.rmtree(root, ignore_errors=True)
