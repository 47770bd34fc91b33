"""Hostile round 3: dedupe's --memory-mb and --clusters at their edges, as a shell user types them."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import DATA, one_error_line


def test_a_huge_memory_budget_means_everything_in_memory_not_a_traceback(invoke, tmp_path):
    # 1e308 MB is finite but overflows to inf once turned into bytes
    small = invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "a", "--memory-mb", "1")
    huge = invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "b", "--memory-mb", "1e308")
    assert small.exit_code == 0 and huge.exit_code == 0, huge.stderr
    assert (tmp_path / "a" / "pool.jsonl").read_bytes() == (tmp_path / "b" / "pool.jsonl").read_bytes()
    assert (tmp_path / "a" / "clusters.jsonl").read_bytes() == (tmp_path / "b" / "clusters.jsonl").read_bytes()


def test_clusters_to_dash_is_refused_not_a_file_named_dash(invoke, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for out in ("kept.jsonl", "-"):
            res = invoke("dedupe", DATA / "pool.jsonl", "-o", out, "--clusters", "-")
            assert res.exit_code == 2
            one_error_line(res.stderr)
            assert "--clusters" in res.stderr and res.stdout == ""
            assert not Path("-").exists() and not Path("kept.jsonl").exists()
    finally:
        os.chdir(cwd)


def test_target_from_stdin_is_a_usage_error_naming_the_fix(invoke, tmp_path):
    # it was read as a file named "-": "No such file or directory", exit 1, a hint about free space
    target = (DATA / "target.jsonl").read_text()
    for args in (["select", DATA / "pool.jsonl", "--target", "-", "--top-k", "2"],
                 ["select", "-", "--target", "-", "--top-k", "2"],
                 ["score", DATA / "pool.jsonl", "--target", "-", "-o", tmp_path / "scores"]):
        res = invoke(*args, input=target)
        assert res.exit_code == 2, res.stderr
        one_error_line(res.stderr)
        assert "--target cannot be -" in res.stderr and res.stdout == ""
    assert not (tmp_path / "scores").exists()


def test_a_work_dir_inside_the_output_dir_is_refused(invoke, tmp_path):
    # accepted before: the next step (select OUT) then read OUT/w/bucket/*.json as shards and failed
    out = tmp_path / "out"
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", out, "--work-dir", out / "w")
    assert res.exit_code == 2
    one_error_line(res.stderr)
    assert "inside the output directory" in res.stderr and "--work-dir" in res.stderr
    assert not out.exists()
    ok = invoke("dedupe", DATA / "pool.jsonl", "-o", out, "--work-dir", tmp_path / "w")
    assert ok.exit_code == 0, ok.stderr
