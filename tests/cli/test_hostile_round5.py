"""Hostile round 5: a new user against the single-file contract, the once-per-run notices, empty pools, the
compiled featurizer, the fit passes of DSIR and zstd-ml, and dedupe's exact pass.

Each test was a finding first (a failing test), then fixed; those whose fix lies in another engineer's module
are marked ``xfail(strict=True)`` with the reason, so they turn into failures the day they are fixed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, one_error_line

POOL = DATA / "pool.jsonl"
TARGET = DATA / "target.jsonl"
SELECT = ["select", POOL, "--method", "length", "--top-k", "5"]


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


def test_report_on_the_sidecars_of_score_says_to_pass_them_with_scores(invoke, tmp_path):
    scores = tmp_path / "scores"
    assert invoke("score", POOL, "--method", "length", "-o", scores).exit_code == 0
    res = invoke("report", scores)
    assert res.exit_code == 2, res.stderr
    line = one_error_line(res.stderr)
    assert "sievekit score" in line and "--scores" in res.stderr and "--text-field" not in res.stderr
    assert invoke("report", POOL, "--scores", scores).exit_code == 0  # what the hint says works


# --- corrupt inputs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b'\x00\x00\x00{"text": "a"}\n', b'\x00{"text": "a"}\n',
                                     b'{"text": "a"}\n\x00\x00\x00\x00\n'])
def test_nul_bytes_are_named_as_such_not_as_invalid_utf8(invoke, tmp_path, content):
    # a zero-filled tail is what a crash leaves in a preallocated file; NUL is valid UTF-8
    bad = tmp_path / "zeros.jsonl"
    bad.write_bytes(content)
    res = invoke("select", bad, "--method", "length", "--top-k", "1", "-o", "-")
    assert res.exit_code == 1, res.stderr
    line = one_error_line(res.stderr)
    assert "zeros.jsonl:" in line and "NUL" in line and "UTF-8" not in line


def test_a_utf8_byte_order_mark_is_still_read(invoke, tmp_path):
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"text": "caf\xc3\xa9"}\n')
    res = invoke("select", bom, "--method", "length", "--top-k", "1", "-o", "-")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["text"] == "caf\u00e9"


# --- option values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["classifier", "zstd-ml", "random"])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "99999999999999999999"])
def test_a_seed_out_of_range_is_a_usage_error_not_a_traceback(invoke, method, seed):
    res = invoke("select", POOL, "--method", method, "--target", TARGET, "--top-k", "3", "-o", "-", "--seed", seed)
    assert res.exit_code == 2, res.stderr
    assert "--seed" in res.stderr and "Traceback" not in res.stderr and res.stdout == ""


def test_a_seed_out_of_range_from_a_config_file_is_a_usage_error(invoke, tmp_path):
    cfg = tmp_path / "job.toml"
    cfg.write_text("seed = -1\n")
    res = invoke("select", POOL, "--method", "random", "--top-k", "3", "-o", "-", "--config", cfg)
    assert res.exit_code == 2, res.stderr
    assert "seed" in res.stderr and "Traceback" not in res.stderr


def test_the_largest_seed_still_runs(invoke):
    res = invoke("select", POOL, "--method", "random", "--top-k", "3", "-o", "-", "--seed", str(2**32 - 1))
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == 3


@pytest.mark.parametrize("args", [["--bags", "1000"], ["--min-df", "1000000"]])
def test_classifier_options_the_data_cannot_satisfy_are_one_line(invoke, args):
    res = invoke("select", POOL, "--method", "classifier", "--target", TARGET, "--top-k", "3", "-o", "-", *args)
    assert res.exit_code in (1, 2)
    assert args[0] in one_error_line(res.stderr)


# --- warnings -----------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("default::UserWarning")  # as a user's interpreter shows it (the suite makes it an error)
def test_zipfits_long_pair_warning_is_one_line_without_source_code(invoke):
    res = invoke("select", POOL, "--method", "zipfit", "--target", TARGET, "--top-k", "3", "-o", "-",
                 "--max-pair-bytes", "10")
    assert res.exit_code == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "max-pair-bytes" in ln]
    assert len(lines) == 1 and lines[0].startswith("Warning: zipfit:"), res.stderr
    assert ".py:" not in res.stderr and "score_batch" not in res.stderr


def test_zipfits_long_pair_warning_is_shown_once_with_workers(tmp_path):
    for i in range(4):
        (tmp_path / f"s{i}.jsonl").write_bytes(POOL.read_bytes())
    # A real process: the workers write to its stderr (CliRunner captures only this one's).
    res = subprocess.run([sys.executable, "-W", "default::UserWarning", "-m", "sievekit", "select", str(tmp_path),
                          "--method", "zipfit", "--target", str(TARGET), "--top-k", "3", "-o", "-",
                          "--max-pair-bytes", "10", "-j", "2"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("max-pair-bytes 10") == 1, res.stderr
    assert ".py:" not in res.stderr


# --- full disks, size limits --------------------------------------------------------------------------------


def _run_limited(args: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return subprocess.run([sys.executable, "-m", "sievekit", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, preexec_fn=limit, env={**os.environ, **(env or {})})


def _big_pool(tmp_path: Path) -> Path:
    pool = tmp_path / "pool"
    pool.mkdir()
    lines = POOL.read_text().splitlines()
    with open(pool / "big.jsonl", "w") as f:
        for i in range(40):
            for line in lines:
                rec = json.loads(line)
                rec["id"] = f"{i}-{rec['id']}"
                f.write(json.dumps(rec) + "\n")
    return pool


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
def test_an_output_past_the_file_size_limit_says_so(tmp_path):
    pool = _big_pool(tmp_path)
    proc = _run_limited(["select", pool, "--method", "length", "--top-k", "500", "-o", "kept.jsonl"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert "kept.jsonl" in line and "File too large" in line
    assert "ulimit -f" in proc.stderr  # the hint names the limit, not permissions
    assert not (tmp_path / "kept.jsonl").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
def test_dedupes_work_files_past_the_size_limit_say_where_they_go(tmp_path):
    pool = _big_pool(tmp_path)
    proc = _run_limited(["dedupe", pool, "-o", "-"], tmp_path, {"TMPDIR": str(tmp_path)})
    assert proc.returncode == 1, proc.stderr
    one_error_line(proc.stderr)
    assert "ulimit -f" in proc.stderr and "--work-dir" in proc.stderr


# --- killed runs, odd paths ---------------------------------------------------------------------------------


KILL_AFTER_SIGN = """
import os, signal, sys
from sievekit.duplicates import runner
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
runner.exact_pass = die  # after the sign stage wrote its work
sys.argv = ["sievekit", *sys.argv[1:]]
from sievekit.cli.main import main
main()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_dedupe_leaves_no_work_folder_behind_after_the_next_run(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    args = ["dedupe", POOL, "-o", tmp_path / "kept.jsonl"]
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_SIGN, *map(str, args)], capture_output=True, timeout=120,
                          env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    again = subprocess.run([sys.executable, "-m", "sievekit", *map(str, args)], capture_output=True, text=True,
                           timeout=120, env=env)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in tmp.iterdir() if p.name.startswith("sievekit-dedupe-")] == []


def test_the_clusters_file_cannot_be_the_runs_own_lock(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    res = invoke("dedupe", POOL, "-o", out, "--clusters", tmp_path / ".kept.jsonl.manifest.lock", "--overwrite")
    assert res.exit_code == 2, res.stderr
    assert "lock" in one_error_line(res.stderr)


def test_the_records_of_score_inline_are_read_back_without_their_fitted_states(invoke, tmp_path):
    scored = tmp_path / "scored"
    res = invoke("score", POOL, "--method", "length", "--inline", "-o", scored)
    assert res.exit_code == 0, res.stderr
    assert (scored / "state" / "length.json").exists()  # the fitted state, beside the records
    picked = invoke("select", scored, "--score-field", "length", "--top-k", "3", "-o", "-")
    assert picked.exit_code == 0, picked.stderr
    assert len(picked.stdout.splitlines()) == 3
    data = json.loads(invoke("report", scored, "--json", "-q").stdout)
    assert [s["name"] for s in data["shards"]] == ["pool.jsonl"] and data["total"]["rows"] == 20


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_the_html_report_never_replaces_the_run_record_it_reads(invoke, tmp_path, kind):
    out = tmp_path / ("kept.jsonl" if kind == "file" else "kept")
    assert invoke(*SELECT, "-o", out).exit_code == 0
    record = tmp_path / "kept.jsonl.manifest.json" if kind == "file" else out / "manifest.json"
    before = record.read_bytes()
    res = invoke("report", out, "--html", record)
    assert res.exit_code == 2, res.stderr
    assert "run manifest" in one_error_line(res.stderr)
    assert record.read_bytes() == before
    assert invoke(*SELECT, "-o", out).stderr.count("nothing to do") == 1  # the run is still on record


def test_select_with_a_scores_folder_that_does_not_exist_is_a_usage_error(invoke, tmp_path):
    res = invoke("select", POOL, "--scores", tmp_path / "nowhere", "--method", "length", "--top-k", "3", "-o", "-")
    assert res.exit_code == 2, res.stderr
    assert "no such directory" in one_error_line(res.stderr)


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_a_damaged_run_record_does_not_stop_the_report_of_the_records(invoke, tmp_path, kind):
    out = tmp_path / ("kept.jsonl" if kind == "file" else "kept")
    assert invoke(*SELECT, "-o", out).exit_code == 0
    record = tmp_path / "kept.jsonl.manifest.json" if kind == "file" else out / "manifest.json"
    record.write_text("{ half a manifest")
    res = invoke("report", out, "--json")
    assert res.exit_code == 0, res.stderr  # report has no --overwrite to offer: it reports what it can
    data = json.loads(res.stdout)
    assert data["total"]["rows"] == 5 and "run" not in data
    assert res.stderr.count("unreadable run record") == 1 and "Traceback" not in res.stderr
