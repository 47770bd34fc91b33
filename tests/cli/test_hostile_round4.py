"""Hostile round 4: nothing lost or overwritten by surprise.

Single-file outputs (``-o kept.jsonl``) follow the run contract of directories: the same job again does
nothing, another job is refused unless ``--overwrite``, a file no run recorded is not replaced, two runs do
not write at once, a killed run leaves no partial file and resumes to the same bytes. Also: a truncated
stream warns once, a finished staged dedupe leaves no lock file, an empty pool is bad data.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sievekit.io.locks import locked
from tests.conftest import DATA, one_error_line

POOL = DATA / "pool.jsonl"
SELECT = ["select", POOL, "--method", "length", "--top-k", "5"]


def _records_beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name and out.name in p.name)


# --- 1. single-file outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "differs"), [
    (["--top-k", "7"], "rule.value: 5 then, 7 now"),
    (["--method", "random"], "random"),
    (["--seed", "3"], "seed: 0 then, 3 now"),
    (["--input", DATA / "pool.jsonl.gz"], "inputs"),
])
def test_a_different_run_into_the_same_file_is_refused_naming_the_difference(invoke, tmp_path, change, differs):
    out = tmp_path / "kept.jsonl"
    first = invoke(*SELECT, "-o", out)
    assert first.exit_code == 0, first.stderr
    before = out.read_bytes()
    assert len(before.splitlines()) == 5
    args = list(SELECT)
    if change[0] == "--input":
        args[1] = change[1]
    else:
        flag = change[0]
        args = args[:args.index(flag)] + args[args.index(flag) + 2:] if flag in args else args
        args += change
    res = invoke(*args, "-o", out)
    assert res.exit_code == 2, res.stderr
    line = one_error_line(res.stderr)
    assert f"{out} holds the results of a different run" in line and differs in line and "--overwrite" in line
    assert res.stdout == "" and out.read_bytes() == before  # untouched
    again = invoke(*args, "-o", out, "--overwrite")
    assert again.exit_code == 0, again.stderr
    assert "kept" in again.stderr


def test_the_same_run_again_is_nothing_to_do_however_the_file_is_spelled(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke(*SELECT, "-o", "kept.jsonl").exit_code == 0
    stamp = os.stat("kept.jsonl").st_mtime_ns
    for spelling in ("kept.jsonl", "./kept.jsonl", str(tmp_path / "kept.jsonl"), "sub/../kept.jsonl"):
        os.makedirs("sub", exist_ok=True)
        res = invoke(*SELECT, "-o", spelling)
        assert res.exit_code == 0, res.stderr
        assert "nothing to do" in res.stderr and res.stdout == ""
    assert os.stat("kept.jsonl").st_mtime_ns == stamp
    assert _records_beside(tmp_path / "kept.jsonl") == ["kept.jsonl.manifest.json"]  # marker and lock gone
    manifest = json.loads((tmp_path / "kept.jsonl.manifest.json").read_text())
    assert manifest["command"] == "select" and manifest["rows_out"] == 5
    assert manifest["written"] == ["kept.jsonl"]  # relative to its folder: valid from any working directory


def test_a_file_no_run_wrote_is_not_replaced_without_overwrite(invoke, tmp_path):
    out = tmp_path / "notes.jsonl"
    out.write_text('{"text": "my own notes"}\n')
    res = invoke(*SELECT, "-o", out)
    assert res.exit_code == 2
    line = one_error_line(res.stderr)
    assert str(out) in line and "already exists" in line and "--overwrite" in line
    assert out.read_text() == '{"text": "my own notes"}\n'
    assert _records_beside(out) == []  # a refused run leaves no claim
    res = invoke(*SELECT, "-o", out, "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert len(out.read_text().splitlines()) == 5


def test_stdout_is_not_a_claimed_output(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = invoke(*SELECT, "-o", "-")
    b = invoke("select", POOL, "--method", "length", "--top-k", "7", "-o", "-")
    assert a.exit_code == b.exit_code == 0
    assert len(a.stdout.splitlines()) == 5 and len(b.stdout.splitlines()) == 7
    assert os.listdir(tmp_path) == []


def test_an_overwritten_output_keeps_its_file_until_the_new_run_has_finished(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    assert invoke(*SELECT, "-o", out).exit_code == 0
    before = out.read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": \n')
    res = invoke("select", bad, "--method", "length", "--top-k", "1", "-o", out, "--overwrite")
    assert res.exit_code == 1 and "bad.jsonl:2" in one_error_line(res.stderr)
    assert out.read_bytes() == before  # the failed replacement took nothing away


def test_dedupe_into_a_file_records_its_clusters_and_another_run_clears_them(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    res = invoke("dedupe", POOL, "-o", out)
    assert res.exit_code == 0, res.stderr
    assert _records_beside(out) == ["kept.jsonl.manifest.json"]
    assert (tmp_path / "kept.clusters.jsonl").exists()
    again = invoke("dedupe", POOL, "-o", out)
    assert again.exit_code == 0 and "nothing to do" in again.stderr
    res = invoke(*SELECT, "-o", out)
    assert res.exit_code == 2
    assert "written by `sievekit dedupe`, not `sievekit select`" in one_error_line(res.stderr)
    res = invoke(*SELECT, "-o", out, "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert not (tmp_path / "kept.clusters.jsonl").exists()  # the dedupe run's clusters went with it


def test_a_stale_clusters_file_is_not_overwritten_by_surprise(invoke, tmp_path):
    (tmp_path / "kept.clusters.jsonl").write_text("{}\n")
    res = invoke("dedupe", POOL, "-o", tmp_path / "kept.jsonl")
    assert res.exit_code == 2
    line = one_error_line(res.stderr)
    assert "kept.clusters.jsonl (the clusters file of" in line and "--overwrite" in line
    assert not (tmp_path / "kept.jsonl").exists() and (tmp_path / "kept.clusters.jsonl").read_text() == "{}\n"


@pytest.mark.parametrize("args", [
    ["dedupe", POOL, "-o", "{out}", "--clusters", "{out}"],
    ["dedupe", POOL, "-o", "{tmp}/k.jsonl", "--clusters", POOL],
    ["dedupe", POOL, "-o", "{tmp}/k.jsonl", "--clusters", "{tmp}/k.jsonl.manifest.json"],
    ["select", "{tmp}/in.jsonl", "--method", "length", "--top-k", "1", "-o", "{tmp}/./in.jsonl"],
    ["select", "{tmp}/in", "--method", "length", "--top-k", "1", "-o", "{tmp}/in/picked.jsonl"],
])
def test_every_path_a_run_writes_is_checked_against_its_inputs_first(invoke, tmp_path, args):
    (tmp_path / "in").mkdir()
    (tmp_path / "in.jsonl").write_bytes(POOL.read_bytes())
    (tmp_path / "in" / "a.jsonl").write_bytes(POOL.read_bytes())
    before = sorted(p.name for p in tmp_path.rglob("*"))
    res = invoke(*[str(a).format(out=tmp_path / "o.jsonl", tmp=tmp_path) for a in args])
    assert res.exit_code == 2, res.stderr
    one_error_line(res.stderr)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written, no claim left


HOLDER = """
import sys, time
from sievekit.run.layout import Layout
with Layout(sys.argv[1]).claimed({"command": "select", "held": True}, overwrite=False):
    print("held", flush=True)
    time.sleep(60)
"""


def test_two_runs_on_one_output_file_one_is_refused_with_the_others_pid(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        res = invoke(*SELECT, "-o", out)
        assert res.exit_code == 1
        assert f"in use by PID {holder.pid}" in one_error_line(res.stderr)
        assert not out.exists()
        other = invoke(*SELECT, "-o", tmp_path / "other.jsonl")  # another file in the same folder is free
        assert other.exit_code == 0, other.stderr
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    res = invoke(*SELECT, "-o", out)  # the killed holder's claim is another job's: refused, then replaced
    assert res.exit_code == 2 and "--overwrite" in res.stderr
    assert invoke(*SELECT, "-o", out, "--overwrite").exit_code == 0


KILLER = """
import os, signal, sys
from sievekit.run import writeback
original, calls = writeback._write_shard, []
def write_then_die(*args, **kwargs):
    if calls:
        os.kill(os.getpid(), signal.SIGKILL)  # the first shard is in the temporary file, the second not yet
    calls.append(1)
    return original(*args, **kwargs)
writeback._write_shard = write_then_die
sys.argv = ["sievekit", *sys.argv[1:]]
from sievekit.cli.main import main
main()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_run_killed_mid_write_leaves_no_partial_file_and_resumes_to_the_same_bytes(invoke, tmp_path):
    args = ["select", POOL, DATA / "pool.jsonl.zst", "--method", "length", "--top-k", "30"]
    reference = tmp_path / "reference.jsonl"
    assert invoke(*args, "-o", reference).exit_code == 0
    out = tmp_path / "kept.jsonl"
    proc = subprocess.run([sys.executable, "-c", KILLER, *map(str, args), "-o", str(out)], capture_output=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists()  # nothing under the final name
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".kept.jsonl"))
    assert ".kept.jsonl.manifest.run.json" in left and any(".tmp-" in n for n in left)
    res = invoke(*args, "-o", out)
    assert res.exit_code == 0, res.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert _records_beside(out) == ["kept.jsonl.manifest.json"]  # the dead run's temporary swept


def test_an_unwritable_place_is_one_line_not_a_traceback(invoke, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    res = invoke(*SELECT, "-o", blocker / "kept.jsonl")  # its "folder" is a file
    assert res.exit_code in (1, 2)
    assert "afile" in one_error_line(res.stderr) and res.stdout == ""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.isdir("/sys"), reason="Linux sysfs")
def test_a_folder_nobody_may_write_is_one_line_even_for_root(invoke):
    for args in (SELECT, ["dedupe", POOL]):  # sysfs takes no new files, not even from root
        res = invoke(*args, "-o", "/sys/kept.jsonl")
        assert res.exit_code == 1, res.stderr
        assert "/sys" in one_error_line(res.stderr) and res.stdout == ""
    assert not os.path.exists("/sys/kept.jsonl")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line_not_a_traceback(invoke, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        for args in (SELECT, ["dedupe", POOL]):
            res = invoke(*args, "-o", folder / "kept.jsonl")
            assert res.exit_code in (1, 2)
            assert "ro" in one_error_line(res.stderr)
    finally:
        folder.chmod(0o755)


# --- 2. a truncated stream warns once -----------------------------------------------------------------------


@pytest.fixture
def truncated(tmp_path) -> Path:
    folder = tmp_path / "pool"
    folder.mkdir()
    (folder / "cut.jsonl.gz").write_bytes(gzip.compress(POOL.read_bytes())[:2000])
    (folder / "whole.jsonl").write_bytes(POOL.read_bytes())
    return folder


@pytest.mark.parametrize("args", [
    ["select", "{cut}/cut.jsonl.gz", "--target", DATA / "target.jsonl", "--top-k", "3", "-o", "-"],  # 3 passes
    # two workers read the truncated shard in different passes: still one warning
    ["select", "{cut}", "--method", "zstd-ml", "--target", DATA / "target.jsonl", "--top-k", "3", "-o", "{tmp}/sel",
     "-j", "2"],
    ["dedupe", "{cut}", "-o", "{tmp}/d", "-j", "2"],
    ["score", "{cut}/cut.jsonl.gz", "--method", "length", "-o", "{tmp}/scores"],
])
def test_a_truncated_stream_is_warned_about_once(invoke, tmp_path, truncated, args):
    res = invoke(*[str(a).format(cut=truncated, tmp=tmp_path) for a in args], "--on-bad-record", "skip")
    assert res.exit_code == 0, res.stderr
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("Warning:")]
    assert len(warnings) == 1 and "cut.jsonl.gz: truncated gzip stream" in warnings[0]
    again = invoke(*[str(a).format(cut=truncated, tmp=tmp_path / "2") for a in args], "--on-bad-record", "skip")
    assert sum(ln.startswith("Warning:") for ln in again.stderr.splitlines()) == 1  # each run warns anew


# --- 3. no lock file left behind ------------------------------------------------------------------------------


def test_no_finished_run_or_stage_leaves_a_lock_file(invoke, tmp_path):
    work, out = tmp_path / "w", tmp_path / "out"
    for stage in ("sign", "bucket", "cluster", "filter"):
        res = invoke("dedupe", POOL, "--work-dir", work, "--stage", stage, "-o", out)
        assert res.exit_code == 0, res.stderr
        assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".lock")], stage
    runs = [["dedupe", DATA / "pool.jsonl.gz", "--work-dir", tmp_path / "w2", "--stage", "sign", "--shard", "0"],
            ["dedupe", POOL, "-o", tmp_path / "d.jsonl"],
            ["score", POOL, "--method", "length", "-o", tmp_path / "s"],
            ["score", POOL, "--method", "length", "-o", tmp_path / "p", "--shard-index", "0", "--num-shards", "1"],
            [*SELECT, "-o", tmp_path / "k.jsonl"], [*SELECT, "-o", tmp_path / "k"]]
    for args in runs:
        res = invoke(*args)
        assert res.exit_code == 0, res.stderr
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".lock")]


def test_a_shared_lock_is_removed_only_by_its_last_holder(tmp_path):
    with locked(str(tmp_path), shared=True):
        with locked(str(tmp_path), shared=True):
            pass
        assert (tmp_path / ".sievekit.lock").exists()  # the outer holder still holds it
    assert not (tmp_path / ".sievekit.lock").exists()


# --- 4. an empty pool ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["select", "{pool}", "--target", DATA / "target.jsonl", "--top-k", "5", "-o", "-"],
    ["select", "{pool}", "--method", "random", "--fraction", "0.5", "-o", "{tmp}/k.jsonl"],
    ["score", "{pool}", "--method", "length", "-o", "{tmp}/scores"],
    ["score", "{pool}", "--target", DATA / "target.jsonl", "-o", "-"],
    ["dedupe", "{pool}", "-o", "{tmp}/d"],
])
@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_pool_is_bad_data_in_one_line(invoke, tmp_path, args, content):
    pool = tmp_path / "empty.jsonl"
    pool.write_text(content)
    res = invoke(*[str(a).format(pool=pool, tmp=tmp_path) for a in args])
    assert res.exit_code == 1, res.stderr
    line = one_error_line(res.stderr)
    assert "empty.jsonl: the pool holds no documents" in line and res.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]  # nothing claimed or written


def test_an_empty_pool_from_stdin_is_bad_data_too(invoke):
    res = invoke("select", "-", "--method", "length", "--top-k", "1", "-o", "-", input="")
    assert res.exit_code == 1
    assert "<stdin>: the pool holds no documents" in one_error_line(res.stderr)


def test_a_pool_whose_every_record_was_skipped_says_so(invoke, tmp_path):
    pool = tmp_path / "bad.jsonl"
    pool.write_text("not json\n{also not\n")
    res = invoke("dedupe", pool, "-o", "-", "--on-bad-record", "skip")
    assert res.exit_code == 1
    assert "holds no documents" in one_error_line(res.stderr) and "--on-bad-record skip" in res.stderr


def test_a_report_of_an_empty_pool_is_a_report_of_zero_documents(invoke, tmp_path):
    pool = tmp_path / "empty.jsonl"
    pool.write_text("")
    res = invoke("report", pool, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["total"]["rows"] == 0


# --- the hostile user against the single-file contract --------------------------------------------------------


def test_a_symlinked_output_is_written_through_and_is_one_output_with_its_target(invoke, tmp_path):
    real, link = tmp_path / "runs" / "today.jsonl", tmp_path / "latest.jsonl"
    assert invoke(*SELECT, "-o", real).exit_code == 0
    link.symlink_to(real)
    res = invoke(*SELECT, "-o", link)
    assert res.exit_code == 0 and "nothing to do" in res.stderr  # the same file: the same output
    res = invoke("select", POOL, "--method", "length", "--top-k", "7", "-o", link, "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert link.is_symlink() and len(real.read_text().splitlines()) == 7  # the link stays, its target changed
    assert not (tmp_path / "latest.jsonl.manifest.json").exists()


def test_a_symlinked_output_onto_an_input_is_refused(invoke, tmp_path):
    link = tmp_path / "out.jsonl"
    link.symlink_to(POOL)
    res = invoke(*SELECT, "-o", link)
    assert res.exit_code == 2 and "would overwrite an input" in one_error_line(res.stderr)


def test_odd_output_names(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("my out[1].jsonl", "-dash.jsonl", ".hidden.jsonl", "KEPT.JSONL"):
        assert invoke(*SELECT, "-o", name).exit_code == 0, name
        res = invoke(*SELECT, "-o", name)
        assert res.exit_code == 0 and "nothing to do" in res.stderr, name
        assert os.path.exists(name + ".manifest.json")
    res = invoke(*SELECT, "-o", "picked.jsonl/")  # a trailing slash asks for a directory
    assert res.exit_code == 0 and (tmp_path / "picked.jsonl" / "pool.jsonl").exists()
    for empty in ("", " "):
        res = invoke(*SELECT, "-o", empty)
        assert res.exit_code == 2 and "--output is empty" in one_error_line(res.stderr)


def test_a_file_in_the_way_of_a_directory_output_is_one_line(invoke, tmp_path):
    assert invoke(*SELECT, "-o", tmp_path / "k.jsonl").exit_code == 0
    res = invoke(*SELECT, "-o", f"{tmp_path / 'k.jsonl'}/")
    assert res.exit_code == 1 and "a file is in the way" in one_error_line(res.stderr)


def test_the_manifest_beside_a_file_is_never_read_as_a_shard(invoke, tmp_path):
    folder = tmp_path / "picked"
    assert invoke(*SELECT, "-o", folder / "kept.jsonl").exit_code == 0
    res = invoke("report", folder, "--json")
    assert res.exit_code == 0, res.stderr
    assert [s["name"] for s in json.loads(res.stdout)["shards"]] == ["kept.jsonl"]


def test_a_damaged_record_is_replaced_with_overwrite_as_its_hint_says(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    assert invoke(*SELECT, "-o", out).exit_code == 0
    (tmp_path / "kept.jsonl.manifest.json").write_text("{not json")
    res = invoke(*SELECT, "-o", out)
    assert res.exit_code == 2 and "unreadable run record" in one_error_line(res.stderr)
    assert "--overwrite" in res.stderr
    res = invoke(*SELECT, "-o", out, "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert json.loads((tmp_path / "kept.jsonl.manifest.json").read_text())["rows_out"] == 5


def test_a_finished_file_deleted_since_is_written_again(invoke, tmp_path):
    out = tmp_path / "kept.jsonl"
    assert invoke(*SELECT, "-o", out).exit_code == 0
    before = out.read_bytes()
    out.unlink()
    res = invoke(*SELECT, "-o", out)
    assert res.exit_code == 0 and "kept 5 of 20" in res.stderr
    assert out.read_bytes() == before


def test_dedupe_filter_of_one_shard_into_one_file_is_refused(invoke, tmp_path):
    work = tmp_path / "w"
    for stage in ("sign", "bucket", "cluster"):
        assert invoke("dedupe", POOL, "--work-dir", work, "--stage", stage).exit_code == 0
    res = invoke("dedupe", POOL, "--work-dir", work, "--stage", "filter", "--shard", "0", "-o", tmp_path / "k.jsonl")
    assert res.exit_code == 2 and "one file for all shards" in one_error_line(res.stderr)
    assert not (tmp_path / "k.jsonl").exists()


def test_an_output_file_an_input_pattern_would_match_is_refused(invoke, tmp_path):
    # accepted before: the next day's run read yesterday's selection as one of its shards
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "a.jsonl").write_bytes(POOL.read_bytes())
    pattern = f"{tmp_path}/shards/*.jsonl"
    res = invoke("select", pattern, "--method", "length", "--top-k", "3", "-o", tmp_path / "shards" / "top.jsonl")
    assert res.exit_code == 2 and "matches the input pattern" in one_error_line(res.stderr)
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["a.jsonl"]
    res = invoke("dedupe", pattern, "-o", tmp_path / "shards" / "d.jsonl")
    assert res.exit_code == 2 and "matches the input pattern" in one_error_line(res.stderr)
    res = invoke("select", pattern, "--method", "length", "--top-k", "3", "-o", tmp_path / "top.jsonl")
    assert res.exit_code == 0, res.stderr


def test_a_clusters_file_inside_an_input_directory_is_refused(invoke, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_bytes(POOL.read_bytes())
    res = invoke("dedupe", tmp_path / "in", "-o", tmp_path / "out", "--clusters", tmp_path / "in" / "c.jsonl")
    assert res.exit_code == 2
    line = one_error_line(res.stderr)
    assert "the clusters file" in line and "inside the input directory" in line and "--clusters" in res.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "in" / "c.jsonl").exists()


def test_overwriting_a_copied_output_never_touches_the_original(invoke, tmp_path):
    # a manifest once listed absolute (or working-directory) paths: --overwrite into a copy removed the original's
    import shutil

    original = tmp_path / "picked"
    assert invoke(*SELECT, "-o", original).exit_code == 0
    copy = tmp_path / "archive" / "picked"
    shutil.copytree(original, copy)
    res = invoke("select", POOL, "--method", "length", "--top-k", "2", "-o", copy, "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert len((original / "pool.jsonl").read_text().splitlines()) == 5  # untouched
    assert len((copy / "pool.jsonl").read_text().splitlines()) == 2
    res = invoke(*SELECT, "-o", original)
    assert res.exit_code == 0 and "nothing to do" in res.stderr


def test_a_hand_made_record_cannot_point_overwrite_outside_its_output(invoke, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    out = tmp_path / "sub" / "kept.jsonl"
    assert invoke(*SELECT, "-o", out).exit_code == 0
    record = tmp_path / "sub" / "kept.jsonl.manifest.json"
    data = json.loads(record.read_text())
    data["written"] += ["../precious.txt", str(victim)]
    record.write_text(json.dumps(data))
    res = invoke("select", POOL, "--method", "length", "--top-k", "2", "-o", out, "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert victim.read_text() == "keep me"
