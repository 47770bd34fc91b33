"""`sievekit dedupe` through the CLI: exit codes, stdout carries data only, stdin, stages, config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TEXT = " ".join(f"word{i % 41} filler{i % 7}" for i in range(200))


def _pool(tmp_path: Path) -> Path:
    recs = [{"id": "a", "text": TEXT}, {"id": "b", "text": TEXT.upper() + "!"}, {"id": "c", "text": "other text"},
            {"id": "d", "text": TEXT.replace("word3 ", "changed ", 1)}]
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_dedupe_to_stdout(invoke, tmp_path, source):
    pool = _pool(tmp_path)
    args, stdin = ([pool], None) if source == "file" else (["-"], pool.read_text())
    res = invoke("dedupe", *args, input=stdin)
    assert res.exit_code == 0, res.stderr
    assert [json.loads(x)["id"] for x in res.stdout.splitlines()] == ["a", "c"]
    assert "kept 2 of 4 documents (1 exact and 1 near duplicates dropped)" in res.stderr


def test_dedupe_to_directory_with_clusters_and_manifest(invoke, tmp_path):
    out = tmp_path / "out"
    res = invoke("dedupe", _pool(tmp_path), "-o", out, "-v", "--keep", "longest")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    # "d" is the longest member of the cluster: "changed" is longer than the "word3" it replaced
    assert [json.loads(x)["id"] for x in (out / "pool.jsonl").read_text().splitlines()] == ["c", "d"]
    assert len((out / "clusters.jsonl").read_text().splitlines()) == 3
    assert json.loads((out / "manifest.json").read_text())["dedupe"]["cluster_sizes"] == {"3-4": 1}
    assert "bucket: 18 bands x 7 rows" in res.stderr


def test_dedupe_to_one_file_writes_the_clusters_beside_it(invoke, tmp_path):
    res = invoke("dedupe", _pool(tmp_path), "-o", tmp_path / "kept.jsonl", "-v")
    assert res.exit_code == 0, res.stderr
    clusters = tmp_path / "kept.clusters.jsonl"
    assert len(clusters.read_text().splitlines()) == 3
    assert f"clusters file {clusters}" in res.stderr


def test_dedupe_to_stdout_says_the_clusters_are_not_kept(invoke, tmp_path):
    res = invoke("dedupe", _pool(tmp_path), "-v")
    assert res.exit_code == 0, res.stderr
    assert "pass --clusters FILE" in res.stderr and not list(tmp_path.glob("*clusters*"))


def test_dry_run_prints_the_derived_banding(invoke, tmp_path):
    res = invoke("dedupe", _pool(tmp_path), "--threshold", "0.7", "--dry-run")
    assert res.exit_code == 0
    cfg = json.loads(res.stdout)
    assert (cfg["bands"], cfg["rows"], cfg["verify"]) == (25, 5, "exact")


def test_config_file_and_flags(invoke, tmp_path):
    conf = tmp_path / "d.toml"
    conf.write_text('threshold = 0.9\nverify = "sig"\nnum-perm = 64\n')
    res = invoke("dedupe", _pool(tmp_path), "--config", conf, "--num-perm", "32", "--dry-run")
    cfg = json.loads(res.stdout)
    assert (cfg["threshold"], cfg["verify"], cfg["num_perm"]) == (0.9, "sig", 32)


def test_stages_through_the_cli(invoke, tmp_path):
    pool, work, out = _pool(tmp_path), tmp_path / "w", tmp_path / "out"
    for stage in (["--stage", "sign", "--shard", "0"], ["--stage", "bucket", "--band", "0"], ["--stage", "bucket"],
                  ["--stage", "cluster"], ["--stage", "filter"]):
        res = invoke("dedupe", pool, "--work-dir", work, "-o", out, *stage)
        assert res.exit_code == 0, res.stderr
    assert [json.loads(x)["id"] for x in (out / "pool.jsonl").read_text().splitlines()] == ["a", "c"]
    res = invoke("dedupe", pool, "--work-dir", work, "-o", out, "--threshold", "0.5")
    assert res.exit_code == 2
    assert "threshold: 0.8 then, 0.5 now" in res.stderr and "--overwrite" in res.stderr


@pytest.mark.parametrize("args", [
    ["--verify", "maybe"], ["--keep", "biggest"], ["--bands", "4"], ["--threshold", "1.5"], ["--stage", "sign"],
    ["--engine", "rust"], ["--work-dir", "W", "--stage", "cluster", "--shard", "0"],
])
def test_usage_errors_exit_2(invoke, tmp_path, args):
    res = invoke("dedupe", _pool(tmp_path), *[str(tmp_path / a) if a == "W" else a for a in args])
    assert res.exit_code == 2, res.stderr
    assert res.stdout == ""


def test_data_errors_exit_1(invoke, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine"}\n{"id": 2, "body": "no text"}\n')
    res = invoke("dedupe", bad)
    assert res.exit_code == 1
    assert "bad.jsonl:2" in res.stderr and "Hint:" in res.stderr
    res = invoke("dedupe", tmp_path / "missing.jsonl")
    assert res.exit_code == 1


def test_skip_bad_records(invoke, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine words here"}\nnot json\n{"id": 3, "text": "Fine words, here."}\n')
    res = invoke("dedupe", bad, "--on-bad-record", "skip")
    assert res.exit_code == 0
    assert [json.loads(x)["id"] for x in res.stdout.splitlines()] == [1]


def test_help_lists_the_options(invoke):
    res = invoke("dedupe", "--help")
    assert res.exit_code == 0
    for opt in ("--threshold", "--verify", "--keep", "--work-dir", "--stage", "--against", "--annotate", "--jobs"):
        assert opt in res.stdout
