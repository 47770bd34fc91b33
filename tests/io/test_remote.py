"""fsspec URLs as inputs and outputs: the memory filesystem in this process, file:// URLs across workers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, pool_records

fsspec = pytest.importorskip("fsspec", reason="the remote extra (fsspec) is not installed")


@pytest.fixture
def memfs():
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")
    for name in ("pool.jsonl.zst", "pool.parquet"):
        with fs.open(f"/in/{name}", "wb") as fh:
            fh.write((DATA / name).read_bytes())
    with fs.open("/t/target.jsonl", "wb") as fh:
        fh.write((DATA / "target.jsonl").read_bytes())
    yield fs
    fs.store.clear()


def test_select_and_score_between_memory_urls(invoke, memfs):
    res = invoke("select", "memory://in", "--method", "length", "--top-k", "6", "-o", "memory://out/picked")
    assert res.exit_code == 0, res.stderr
    assert sorted(memfs.ls("/out/picked", detail=False)) == [
        "/out/picked/manifest.json", "/out/picked/pool.jsonl.zst", "/out/picked/pool.parquet"]
    manifest = json.loads(memfs.cat("/out/picked/manifest.json"))
    assert (manifest["rows_in"], manifest["rows_out"]) == (40, 6)
    res = invoke("report", "memory://out/picked", "--json")
    assert json.loads(res.stdout)["total"]["rows"] == 6
    res = invoke("score", "memory://in/pool.jsonl.zst", "--method", "length", "-o", "memory://out/scores")
    assert res.exit_code == 0, res.stderr
    lines = memfs.cat("/out/scores/pool.scores.jsonl.zst")
    import zstandard

    rows = [json.loads(x) for x in zstandard.ZstdDecompressor().decompressobj().decompress(lines).splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in pool_records()]
    res = invoke("select", "memory://in/pool.jsonl.zst", "--scores", "memory://out/scores", "--top-k", "3")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 3


def test_a_glob_over_a_url(invoke, memfs):
    res = invoke("report", "memory://in/*.jsonl*", "memory://t/*.jsonl", "--json")
    assert res.exit_code == 0, res.stderr
    assert [s["name"] for s in json.loads(res.stdout)["shards"]] == ["pool.jsonl.zst", "target.jsonl"]


def test_file_urls_with_worker_processes_match_plain_paths(invoke, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("pool.jsonl", "pool.jsonl.gz", "pool.parquet"):
        (src / name).write_bytes((DATA / name).read_bytes())
    a = invoke("select", src, "--method", "random", "--sample", "11", "-j", "2", "-o", tmp_path / "plain")
    b = invoke("select", f"file://{src}", "--method", "random", "--sample", "11", "-j", "2",
               "-o", f"file://{tmp_path / 'url'}")
    assert a.exit_code == b.exit_code == 0, b.stderr
    for name in ("pool.jsonl", "pool.jsonl.gz", "pool.parquet"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "url" / name).read_bytes()


def test_a_missing_url_is_an_input_error(invoke, memfs):
    res = invoke("report", "memory://nowhere/x.jsonl")
    assert res.exit_code == 1 and "no such file or directory" in res.stderr
