"""Hostile round 5: a new user against the single-file contract, the once-per-run notices, empty pools, the
compiled featurizer, the fit passes of DSIR and zstd-ml, and dedupe's exact pass.

Each test was a finding first (a failing test), then fixed; those whose fix lies in another engineer's module
are marked ``xfail(strict=True)`` with the reason, so they turn into failures the day they are fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DATA

POOL = DATA / "pool.jsonl"
TARGET = DATA / "target.jsonl"
SELECT = ["select", POOL, "--method", "length", "--top-k", "5"]


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


# --- report on a single output file -------------------------------------------------------------------------


def test_report_of_a_single_output_file_shows_what_its_run_did(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    assert invoke(*SELECT, "-o", out).exit_code == 0
    res = invoke("report", out, "--json", "-q")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["run"]["command"] == "select"
    assert data["run"]["rows_in"] == 20 and data["run"]["rows_out"] == 5
    assert data["run"]["rule"] == {"kind": "top_k", "value": 5, "stratify": None}
    assert data["pool"]["rows"] == 20 and data["pool"]["selected"] == 5  # the pool found through the manifest
    shown = invoke("report", out)
    assert "Run: sievekit select" in shown.stderr


def test_report_of_a_single_dedupe_file_shows_its_clusters(invoke, tmp_path):
    out = tmp_path / "deduped.jsonl.gz"
    assert invoke("dedupe", POOL, "-o", out).exit_code == 0
    data = json.loads(invoke("report", out, "--json", "-q").stdout)
    assert data["run"]["command"] == "dedupe"
    assert data["run"]["dedupe"]["documents_in"] == 20
    assert data["run"]["rows_out"] == data["total"]["rows"]


def test_report_does_not_take_the_records_of_another_file_for_this_one(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    assert invoke(*SELECT, "-o", out).exit_code == 0
    # a user copies the file and its records under a new name: the records still name kept.jsonl
    copy = tmp_path / "mine.jsonl"
    copy.write_bytes(out.read_bytes())
    (tmp_path / "mine.jsonl.manifest.json").write_bytes((tmp_path / "kept.jsonl.manifest.json").read_bytes())
    data = json.loads(invoke("report", copy, "--json", "-q").stdout)
    assert "run" not in data and data["total"]["rows"] == 5


def test_report_of_a_plain_file_and_of_a_parquet_file_has_no_run(invoke, tmp_path):
    for path in (POOL, DATA / "pool.parquet"):
        res = invoke("report", path, "--json", "-q")
        assert res.exit_code == 0, res.stderr
        assert "run" not in json.loads(res.stdout)
