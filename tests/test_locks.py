"""One run at a time in a directory: a second run is refused with the owner's PID; a killed owner's lock is
taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sievekit.io.locks import locked
from tests.conftest import DATA


def test_a_second_run_into_a_locked_directory_is_refused(invoke, tmp_path):
    out = tmp_path / "sel"
    args = ["select", DATA / "pool.jsonl", "--method", "length", "--top-k", "3", "-o", out]
    with locked(str(out)):
        res = invoke(*args)
        assert res.exit_code == 1
        assert f"in use by PID {os.getpid()}" in res.stderr and len(res.stderr.strip().splitlines()) == 2
        assert not (out / "pool.jsonl").exists()
    assert invoke(*args).exit_code == 0


def test_the_lock_of_a_killed_run_is_taken_over(invoke, tmp_path):
    out = tmp_path / "sel"
    code = ("import sys, time; from sievekit.io.locks import locked\n"
            "with locked(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        args = ["select", DATA / "pool.jsonl", "--method", "length", "--top-k", "3", "-o", out]
        assert invoke(*args).exit_code == 1
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while (res := invoke(*args)).exit_code != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert res.exit_code == 0, res.stderr
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_array_tasks_lock_their_own_part(invoke, tmp_path):
    out = tmp_path / "scores"
    with locked(str(out)):  # a whole-run lock does not block array task 0 of 2, which has its own
        res = invoke("score", DATA / "pool.jsonl", DATA / "pool.parquet", "--method", "length", "--shard-index",
                     "0", "--num-shards", "2", "-o", out)
        assert res.exit_code == 0, res.stderr


def test_dedupe_work_directories_take_one_run_but_many_tasks_of_a_staged_run(invoke, tmp_path):
    work, out = tmp_path / "w", tmp_path / "out"
    with locked(str(work)):  # a whole run holds the work directory
        res = invoke("dedupe", DATA / "pool.jsonl", "--work-dir", work, "-o", out)
        assert res.exit_code == 1 and "in use by PID" in res.stderr
        res = invoke("dedupe", DATA / "pool.jsonl", "--work-dir", work, "--stage", "sign", "--shard", "0")
        assert res.exit_code == 1 and "in use by PID" in res.stderr
    with locked(str(work), shared=True), locked(str(work), ".sievekit-sign-shard0.lock"):  # another task runs
        res = invoke("dedupe", DATA / "pool.jsonl", "--work-dir", work, "--stage", "sign")
        assert res.exit_code == 0, res.stderr  # a different task of the same staged run goes ahead
        res = invoke("dedupe", DATA / "pool.jsonl", "--work-dir", work, "--stage", "sign", "--shard", "0")
        assert res.exit_code == 1 and "in use by PID" in res.stderr  # the same task twice does not
        res = invoke("dedupe", DATA / "pool.jsonl", "--work-dir", work, "-o", out)
        assert res.exit_code == 1  # a whole run waits for the staged run's tasks to end
    assert invoke("dedupe", DATA / "pool.jsonl", "--work-dir", work, "-o", out).exit_code == 0
    assert not [p for p in work.iterdir() if p.name.endswith(".lock")]
