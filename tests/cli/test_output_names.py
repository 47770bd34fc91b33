"""An output named as one file of a format sievekit writes only shard by shard (``-o kept.parquet``) is refused
before anything is written: it used to become a directory of that name holding JSON Lines shards."""

from __future__ import annotations

import pytest

from tests.conftest import DATA, one_error_line, read_records

POOL = [DATA / "pool.jsonl", DATA / "pool.parquet"]
COMMANDS = {
    "select": ["select", *POOL, "--method", "length", "--top-k", "5"],
    "score": ["score", *POOL, "--method", "length"],
    "dedupe": ["dedupe", *POOL],
}


# compressed names (hostile round 7) used to become a directory of JSON Lines shards too
@pytest.mark.parametrize("name", ["kept.parquet", "kept.parquet.zst", "kept.PARQUET.gz", "kept.pq.zstd"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_single_parquet_output_is_refused_and_nothing_is_written(invoke, tmp_path, command, name):
    out = tmp_path / name
    res = invoke(*COMMANDS[command], "-o", out)
    assert res.exit_code == 2, res.output
    line = one_error_line(res.stderr)
    assert str(out) in line and "parquet" in line
    assert f"{tmp_path / 'kept'}/" in res.stderr  # the hint names a directory
    assert ("kept.jsonl.zst" in res.stderr) == (command != "score")  # score writes no single file
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["kept.parquet", "kept.parquet.zst"])
def test_a_trailing_slash_asks_for_a_directory_of_that_name(invoke, tmp_path, name):
    out = tmp_path / name
    res = invoke(*COMMANDS["select"], "-o", f"{out}/")
    assert res.exit_code == 0, res.output
    assert out.is_dir() and len(read_records(out)) == 5


def test_a_directory_of_that_name_an_earlier_run_made_is_still_its_output(invoke, tmp_path):
    out = tmp_path / "kept.parquet"
    assert invoke(*COMMANDS["select"], "-o", f"{out}/").exit_code == 0
    again = invoke(*COMMANDS["select"], "-o", out)  # the same run, spelled without the slash
    assert again.exit_code == 0, again.output
    assert len(read_records(out)) == 5


def test_a_parquet_file_is_still_read_and_reported(invoke, tmp_path):
    res = invoke("report", DATA / "pool.parquet", "-q")
    assert res.exit_code == 0, res.output


# a name with two suffixes (``x.jsonl.parquet``) was refused with the hint ``x.jsonl.jsonl.zst``: the hint's stem
# is the name without every format and codec suffix it ends in, as for a plain name
@pytest.mark.parametrize(("name", "stem"), [
    ("x.jsonl.parquet", "x"),
    ("x.jsonl.zst.parquet", "x"),
    ("x.parquet.parquet.gz", "x"),
    ("x.JSONL.pq", "x"),
    ("x.v2.parquet", "x.v2"),  # not a format: kept
    (".jsonl.parquet", "kept"),  # nothing left: the hint must not say ``-o /``
])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_hint_for_a_name_with_two_suffixes_strips_them_all(invoke, tmp_path, command, name, stem):
    out = tmp_path / name
    res = invoke(*COMMANDS[command], "-o", out)
    assert res.exit_code == 2, res.output
    hint = res.stderr.split("Hint:", 1)[1]
    assert f"{tmp_path / stem}/)" in hint
    if command == "score":
        assert ".jsonl.zst" not in hint
    else:
        assert f"{tmp_path / stem}.jsonl.zst)" in hint
    assert list(tmp_path.iterdir()) == []
