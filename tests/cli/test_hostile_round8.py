"""Hostile round 8, against ``report`` and ``score`` (the least-tested commands): odd inputs a new user tries.

- ``report --scores`` with the sidecars of another pool of the same shape (shard names and row counts alike, other
  documents) showed their scores as these documents' (``select`` already refused them by their ids).
"""

from __future__ import annotations

import json

from tests.conftest import DATA, one_error_line


def _other_pool_of_the_same_shape(tmp_path):
    """``pool.jsonl`` with the same row count and other ids (another day's crawl, say)."""
    other = tmp_path / "other" / "pool.jsonl"
    other.parent.mkdir()
    rows = [json.loads(line) for line in (DATA / "pool.jsonl").read_text().splitlines()]
    other.write_text("".join(json.dumps({**r, "id": f"other-{i}"}) + "\n" for i, r in enumerate(rows)))
    return other


def test_report_refuses_the_sidecars_of_another_pool_of_the_same_shape(invoke, tmp_path):
    scores = tmp_path / "scores"
    assert invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", scores).exit_code == 0
    other = _other_pool_of_the_same_shape(tmp_path)
    res = invoke("report", other, "--scores", scores, "--json", "-q")
    assert res.exit_code == 1, res.output
    line = one_error_line(res.stderr)
    assert "pool.scores.jsonl" in line and "ids" in line
    assert "sievekit score" in res.stderr  # the hint: score these inputs
    assert res.stdout == ""


def test_report_still_takes_the_sidecars_of_its_own_inputs(invoke, tmp_path):
    scores = tmp_path / "scores"
    assert invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", scores).exit_code == 0
    res = invoke("report", DATA / "pool.jsonl", "--scores", scores, "--json", "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["scores"]["length"]["summary"]["count"] == 20
