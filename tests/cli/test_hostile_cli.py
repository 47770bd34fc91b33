"""Hostile inputs and conditions at the CLI: each ends in one line on stderr and exit 1 or 2, or quietly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, pool_records


def _one_error_line(stderr: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("Error: ") and len([ln for ln in lines if ln.startswith("Error")]) == 1
    assert "Traceback" not in stderr and "\x1b" not in stderr


def test_a_closed_stdout_ends_the_run_quietly_with_0():
    pool = Path(__file__).parents[2] / "sievekit" / "demo" / "pool"  # more than a pipe's buffer
    cmd = [sys.executable, "-m", "sievekit", "select", str(pool), "--method", "length", "--fraction", "1",
           "--batch-size", "1"]
    for _ in range(3):  # the pipe may close at different points
        res = subprocess.run(["bash", "-c", " ".join(cmd) + " | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}"],
                             capture_output=True, text=True)
        assert res.returncode == 0 and res.stderr == "", res.stderr
    small = " ".join([*cmd[:4], str(DATA / "pool.jsonl"), *cmd[5:]])  # fits the pipe: no write fails
    res = subprocess.run(["bash", "-c", small + " | (head -c 10; sleep 0.5) >/dev/null; exit ${PIPESTATUS[0]}"],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr


def test_control_characters_in_names_do_not_reach_the_terminal(invoke, tmp_path):
    bad = tmp_path / "evil\x1b[31mred\nsecond.jsonl"
    bad.write_text('{"text": "ok"}\n{broken\n')
    res = invoke("select", bad, "--method", "length", "--top-k", "1")
    assert res.exit_code == 1
    _one_error_line(res.stderr)
    assert "\\x1b[31mred\\nsecond.jsonl:2" in res.stderr


def test_markup_in_names_is_shown_as_text(invoke, tmp_path):
    bad = tmp_path / "in" / "[bold]x[link=http:e.x]y[red].jsonl"
    bad.parent.mkdir()
    bad.write_text("{broken\n")
    res = invoke("select", bad.parent, "--method", "length", "--top-k", "1")
    assert res.exit_code == 1 and "[bold]x[link=http:e.x]y[red].jsonl:1" in res.stderr
    _one_error_line(res.stderr)


def test_a_misspelt_score_field_names_the_fields_there_are(invoke, tmp_path):
    res = invoke("select", DATA / "pool.jsonl", "--score-field", "scroe", "--top-k", "3", "-o", tmp_path / "o")
    assert res.exit_code == 2 and "no record has a field 'scroe' for --score-field" in res.stderr
    assert "text" in res.stderr and not (tmp_path / "o" / "pool.jsonl").exists()


def test_a_huge_number_in_the_score_field_is_one_line(invoke, tmp_path):
    shard = tmp_path / "p.jsonl"
    shard.write_text(json.dumps({"text": "a", "q": 1}) + "\n" + '{"text": "b", "q": ' + "9" * 400 + "}\n")
    res = invoke("select", shard, "--score-field", "q", "--top-k", "1", "-o", tmp_path / "o")
    assert res.exit_code == 1 and "too large" in res.stderr
    _one_error_line(res.stderr)


def test_a_damaged_state_file_is_a_usage_error(invoke, tmp_path):
    assert invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", tmp_path / "s").exit_code == 0
    state = tmp_path / "s" / "state" / "length.json"
    for damage in ("{not json", "[1, 2]", json.dumps({"name": "length", "config": {"nope": 1}})):
        state.write_text(damage)
        res = invoke("select", DATA / "pool.jsonl", "--state", tmp_path / "s", "--method", "length", "--top-k", "2",
                     "-o", tmp_path / f"o{len(damage)}")
        assert res.exit_code == 2, res.stderr
        _one_error_line(res.stderr)


def test_a_damaged_dedupe_work_directory_is_one_line(invoke, tmp_path):
    work = tmp_path / "w"
    assert invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "o", "--work-dir", work).exit_code == 0
    (work / "run.json").write_text("{damaged")
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "o2", "--work-dir", work)
    assert res.exit_code == 1 and "damaged work-directory record" in res.stderr
    _one_error_line(res.stderr)


def test_a_failed_against_check_creates_nothing(invoke, tmp_path):
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "o", "--against", tmp_path / "nowhere")
    assert res.exit_code == 2 and "not a sievekit dedupe work directory" in res.stderr
    assert not (tmp_path / "nowhere").exists()


def test_absurd_key_parts_are_refused(invoke, tmp_path):
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "o", "--key-parts", "1000000")
    assert res.exit_code == 2 and "--key-parts must be within" in res.stderr


def test_true_in_a_config_file_is_not_a_count(invoke, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("method = 'length'\ntop_k = true\n")
    res = invoke("select", DATA / "pool.jsonl", "--config", config, "-o", tmp_path / "o")
    assert res.exit_code == 2 and "top_k takes a value, not true" in res.stderr


def test_a_resumed_run_sweeps_the_temporaries_of_dead_runs(invoke, tmp_path):
    out = tmp_path / "sel"
    args = [DATA / "pool.jsonl", DATA / "pool.parquet", "--method", "length", "--top-k", "5", "-o", out]
    assert invoke("select", *args).exit_code == 0
    whole = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").unlink()  # as if killed before the end: marker back, one output missing
    (out / ".sievekit-run.json").write_text(json.dumps({"fingerprint": manifest["fingerprint"],
                                                        "job": manifest["job"]}))
    (out / "pool.parquet").unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".pool.parquet.tmp-{dead.pid}"
    stale.write_bytes(b"half a file")
    mine = out / f".other.tmp-{os.getpid()}"  # a live process's temporary is left alone
    mine.write_bytes(b"in use")
    assert invoke("select", *args).exit_code == 0
    assert not stale.exists() and mine.exists()
    assert {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")} == whole


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_workers_die_with_a_killed_parent(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    text = [r["text"] for r in pool_records()]
    for i in range(8):
        with open(pool / f"p{i}.jsonl", "w") as fh:
            for j in range(3000):
                fh.write(json.dumps({"id": f"{i}-{j}", "text": text[j % len(text)] + f" {i} {j}"}) + "\n")
    cmd = [sys.executable, "-m", "sievekit", "score", str(pool), "--method", "zstd-ml", "--target",
           str(DATA / "target.jsonl"), "-j", "2", "-o", str(tmp_path / "s"), "-q"]
    parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and parent.poll() is None:
            workers = [c for c in _children(parent.pid)
                       if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()] if _children(parent.pid) else []
            if len(workers) >= 2:
                break
            time.sleep(0.02)
        if parent.poll() is not None or len(workers) < 2:
            pytest.skip("the run ended before its workers could be seen")
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{w}") and
                                                  "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]
                                                  for w in workers):
            time.sleep(0.05)
        alive = [w for w in workers if os.path.exists(f"/proc/{w}")
                 and Path(f"/proc/{w}/stat").read_text().split()[2] != "Z"]
        assert not alive, f"workers outlived their parent: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        shutil.rmtree(tmp_path / "s", ignore_errors=True)


@pytest.mark.parametrize("name", ["pool.jsonl", "pool.parquet"])
def test_annotate_never_overwrites_a_records_own_field(invoke, tmp_path, name):
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = tmp_path / name
    rows = [{"id": f"r{i}", "text": r["text"], "score": "mine"} for i, r in enumerate(pool_records())]
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), shard)
    else:
        shard.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = invoke("select", shard, "--method", "length", "--top-k", "3", "--annotate", "-o", tmp_path / "o")
    assert res.exit_code == 2 and "already have a field 'score'" in res.stderr and "--annotate" in res.stderr
    _one_error_line(res.stderr)
    res = invoke("dedupe", shard, "--annotate", "-o", tmp_path / "d")
    assert res.exit_code == 0, res.stderr  # dedupe adds dedupe_* fields: no clash


def test_a_misspelt_stratify_field_names_the_fields_there_are(invoke, tmp_path):
    res = invoke("select", DATA / "pool.jsonl", "--method", "length", "--top-k", "3", "--stratify", "domian",
                 "-o", tmp_path / "o")
    assert res.exit_code == 2 and "no record has a field 'domian' for --stratify" in res.stderr
    _one_error_line(res.stderr)


def test_a_resumed_score_keeps_the_counters_of_shards_done_before_the_kill(invoke, tmp_path):
    args = [DATA / "pool.jsonl", DATA / "pool.jsonl.zst", "--method", "length"]
    assert invoke("score", *args, "-o", tmp_path / "whole").exit_code == 0
    out = tmp_path / "s"
    assert invoke("score", *args, "-o", out).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").unlink()  # killed after the first sidecar: marker back, the second sidecar gone
    (out / ".sievekit-run.json").write_text(json.dumps({"fingerprint": manifest["fingerprint"],
                                                        "job": manifest["job"]}))
    (out / "pool.scores.jsonl.zst").unlink()
    assert invoke("score", *args, "-o", out).exit_code == 0
    resumed = json.loads((out / "manifest.json").read_text())["shards"]
    whole = json.loads((tmp_path / "whole" / "manifest.json").read_text())["shards"]
    assert [{k: v for k, v in s.items() if k != "output"} for s in resumed] == \
        [{k: v for k, v in s.items() if k != "output"} for s in whole]
    assert resumed[0]["bytes_in"] > 0


def test_dry_run_validates_what_a_run_would(invoke, tmp_path):
    out = tmp_path / "o"
    res = invoke("select", tmp_path / "missing", "--method", "length", "--top-k", "3", "--dry-run", "-o", out)
    assert res.exit_code == 2 and "no such file or directory" in res.stderr
    res = invoke("select", DATA / "pool.jsonl", "--method", "dsir", "--buckets", "abc", "--top-k", "3", "--dry-run")
    assert res.exit_code == 2 and "--buckets takes a value of type int" in res.stderr
    res = invoke("select", DATA / "pool.jsonl", "--method", "zstd-ml", "--target", DATA / "target.jsonl", "--top-k",
                 "3", "--level", "5", "--dry-run", "-o", out)
    assert res.exit_code == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["methods"][0]["config"]["level"] == 5 and plan["methods"][0]["config"]["min_bytes"] == 64
    assert [s["name"] for s in plan["shards"]] == ["pool.jsonl"] and plan["format_version"] == 1
    assert not out.exists()


def test_output_names_always_tell_their_codec(invoke, tmp_path):
    from tests.conftest import read_records

    out = tmp_path / "sel"
    res = invoke("select", DATA / "pool.jsonl", DATA / "pool.parquet", "--method", "length", "--top-k", "12",
                 "--output-compression", "gzip", "-o", out)
    assert res.exit_code == 0, res.stderr
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["manifest.json", "pool.jsonl.gz", "pool.parquet"]  # Parquet keeps its own codec
    assert len(read_records(out)) == 12  # sievekit reads its own output back
    res = invoke("select", DATA / "pool.jsonl", DATA / "pool.jsonl.zst", "--method", "length", "--top-k", "3",
                 "--output-compression", "gzip", "-o", tmp_path / "two")
    assert res.exit_code == 2 and "would both be written to" in res.stderr  # a.jsonl and a.jsonl.zst -> a.jsonl.gz
    res = invoke("select", DATA / "pool.jsonl", "--method", "length", "--top-k", "3", "--output-compression", "gzip",
                 "-o", tmp_path / "one.jsonl")
    assert res.exit_code == 2 and "the name says uncompressed" in res.stderr
    assert not (tmp_path / "one.jsonl").exists()
    res = invoke("dedupe", DATA / "pool.jsonl", "--output-compression", "zstd", "-o", tmp_path / "d")
    assert res.exit_code == 0 and (tmp_path / "d" / "pool.jsonl.zst").exists()


def test_score_overwrite_leaves_no_stale_state(invoke, tmp_path):
    out = tmp_path / "s"
    assert invoke("score", DATA / "pool.jsonl", "--method", "random", "-o", out).exit_code == 0
    assert invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", out, "--overwrite").exit_code == 0
    assert sorted(p.name for p in (out / "state").iterdir()) == ["length.json"]
    res = invoke("select", DATA / "pool.jsonl", "--state", out, "--top-k", "2", "-o", tmp_path / "o")
    assert res.exit_code == 0, res.stderr


def test_a_misspelt_keep_score_field_names_the_fields_there_are(invoke, tmp_path):
    res = invoke("dedupe", DATA / "pool.jsonl", "--keep", "score:qualty", "-o", tmp_path / "d")
    assert res.exit_code == 2 and "no record has a field 'qualty' for --keep score:FIELD" in res.stderr
    _one_error_line(res.stderr)
    assert not (tmp_path / "d" / "pool.jsonl").exists()
