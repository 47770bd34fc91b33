"""What ``select`` tells the user about its scores: why it kept fewer documents than asked (a method's minimum
length), and a mixture's estimate of the target-like share per target."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_records


def test_a_shortfall_from_min_length_is_explained_on_one_line(invoke, tmp_path, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "dsir", "--target", data_dir / "target.jsonl",
                 "--top-k", "5", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.stderr
    kept = read_records(tmp_path / "out")
    warnings = [line for line in res.stderr.splitlines() if line.startswith("Warning:")]
    assert len(kept) < 5 and len(warnings) == 1
    assert f"kept {len(kept)} of the 5 documents asked for" in warnings[0]
    assert "score -inf" in warnings[0] and "--min-length 100 tokens" in warnings[0]


def test_no_shortfall_note_when_the_selection_is_full(invoke, tmp_path, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "dsir", "--target", data_dir / "target.jsonl",
                 "--top-k", "5", "--min-length", "1", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.stderr
    assert len(read_records(tmp_path / "out")) == 5 and "Warning" not in res.stderr


def test_a_shortfall_of_zstd_names_min_bytes(invoke, tmp_path, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "zstd-ml", "--target", data_dir / "target.jsonl",
                 "--top-k", "20", "--min-bytes", "401", "--background-bytes", "500", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.stderr
    assert "--min-bytes 401 bytes" in res.stderr and "kept 1 of the 20" in res.stderr


def test_a_mixture_shows_each_targets_estimate(invoke, tmp_path, data_dir):
    pytest.importorskip("sklearn")
    targets = [f"{data_dir / 'target.jsonl'}:0.5", f"{data_dir / 'pool.parquet'}:0.5"]
    res = invoke("select", data_dir / "pool.jsonl", "--method", "classifier", "--target", targets[0],
                 "--target", targets[1], "--top-k", "6", "-o", tmp_path / "out", "-v")
    assert res.exit_code == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if "the classifier estimates" in line]
    assert [line.split(":")[1].strip() for line in lines] == [f"toward {data_dir / 'target.jsonl'}",
                                                              f"toward {data_dir / 'pool.parquet'}"]
    mixture = json.loads((tmp_path / "out" / "manifest.json").read_text())["mixture"]
    for part in mixture:
        share = part["target_share"]
        assert share["recorded"] and share["kept"] == part["documents"] and 0 <= share["kept_above"] <= share["kept"]
