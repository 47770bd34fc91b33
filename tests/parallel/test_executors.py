"""The same per-shard tasks on one process, a local pool and Ray give the same bytes; failures stop runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sievekit.errors import InputError, MissingDependencyError
from sievekit.run.executor import Executor
from tests.conftest import DATA


def _pool(tmp_path):
    src = tmp_path / "pool"
    src.mkdir()
    for i, name in enumerate(("pool.jsonl", "pool.jsonl.gz", "pool.jsonl.zst", "pool.parquet")):
        (src / f"{i}-{name}").write_bytes((DATA / name).read_bytes())
    return src


def _outputs(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")}


def _run_all(invoke, src, out, *extra):
    for command, args in (("score", ["--method", "length", "--method", "random"]),
                          ("select", ["--method", "random", "--sample", "17", "--seed", "3"]),
                          ("dedupe", [])):
        res = invoke(command, src, *args, "-o", out / command, *extra)
        assert res.exit_code == 0, (command, res.stderr)
    return {c: _outputs(out / c) for c in ("score", "select", "dedupe")}


def test_jobs_do_not_change_the_bytes(invoke, tmp_path):
    src = _pool(tmp_path)
    one = _run_all(invoke, src, tmp_path / "j1", "-j", "1")
    two = _run_all(invoke, src, tmp_path / "j2", "-j", "2")
    assert one == two
    assert one["select"] and one["score"] and one["dedupe"]


def test_ray_gives_the_same_bytes(invoke, tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    src = _pool(tmp_path)
    local = _run_all(invoke, src, tmp_path / "local", "-j", "2")
    try:
        on_ray = _run_all(invoke, src, tmp_path / "ray", "-j", "2", "--executor", "ray")
    finally:
        import ray

        ray.shutdown()
    assert on_ray == local


def test_ray_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MissingDependencyError, match="ray"), Executor(2, "ray") as ex:
        ex.map(pow, [(2, 2)])


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise InputError(f"shard-{x}", "bad shard")
    time.sleep(0.05)
    return x


def test_a_failing_task_cancels_the_rest_and_keeps_its_error():
    with pytest.raises(InputError, match="shard-3: bad shard"), Executor(2) as ex:
        ex.map(_fails_on_three, [(i,) for i in range(40)])


def test_one_call_runs_in_a_worker_when_there_are_workers():
    """pool.call's single task (a fit's target) goes to a worker, so the run's parent never loads the kernels."""
    with Executor(2) as ex:
        assert list(ex.imap(os.getpid, [()])) != [os.getpid()]
    assert list(Executor(1).imap(os.getpid, [()])) == [os.getpid()]
    with Executor(2) as ex:
        assert list(ex.imap(os.getpid, [])) == []


def test_array_tasks_cover_the_pool_like_one_run(invoke, tmp_path):
    src = _pool(tmp_path)
    fitted = tmp_path / "fit"
    assert invoke("score", src, "--method", "random", "-o", fitted).exit_code == 0
    parts = tmp_path / "parts"
    for i in range(3):
        res = invoke("score", src, "--state", fitted, "--shard-index", str(i), "--num-shards", "3", "-o", parts)
        assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in parts.glob("manifest.part-*.json")) == [
        f"manifest.part-{i:04d}-of-0003.json" for i in range(3)]
    whole = invoke("select", src, "--scores", fitted, "--top-k", "9")
    split = invoke("select", src, "--scores", parts, "--top-k", "9")
    assert whole.exit_code == split.exit_code == 0 and whole.stdout == split.stdout


def test_array_task_number_is_checked(invoke, tmp_path):
    res = invoke("score", _pool(tmp_path), "--method", "random", "--shard-index", "5", "--num-shards", "2")
    assert res.exit_code == 2 and "--shard-index must be within [0, 1]" in res.stderr


def test_sigterm_stops_the_workers_and_leaves_no_temporaries(tmp_path):
    src = tmp_path / "big"
    src.mkdir()
    for s in range(4):
        with open(src / f"{s}.jsonl", "w") as fh:
            for i in range(60_000):
                fh.write(json.dumps({"id": i, "text": f"document {i} of shard {s} " * 8}) + "\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sievekit", "score", str(src), "--method", "length", "-j", "2",
                             "-o", str(out)], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(".tmp-" in p for p in os.listdir(out))):
        time.sleep(0.02)  # wait until the workers are writing
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    deadline = time.time() + 10  # the workers may finish unwinding just after the parent ends
    while time.time() < deadline and any(".tmp-" in p for p in os.listdir(out)):
        time.sleep(0.05)
    assert [p for p in os.listdir(out) if ".tmp-" in p] == [], os.listdir(out)
    assert not (out / "manifest.json").exists()


def _big_inputs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "big"
    src.mkdir()
    recs = [{"id": f"d{i}", "text": f"document {i} " + "word " * (i % 50), "n": i} for i in range(3000)]
    (src / "a.jsonl").write_text("".join(json.dumps(r) + "\n" + ("\n" if i % 97 == 0 else "")
                                         for i, r in enumerate(recs)))
    pq.write_table(pa.Table.from_pylist(recs), src / "b.parquet", row_group_size=250)
    return src


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_large_shards_split_into_spans_give_the_same_bytes(invoke, tmp_path, jobs):
    src = _big_inputs(tmp_path)
    whole, split = tmp_path / "whole", tmp_path / "split"
    for out, mb in ((whole, "0"), (split, "0.05")):
        res = invoke("score", src, "--method", "length", "--method", "random", "-o", out / "s", "--split-mb", mb,
                     "-j", jobs)
        assert res.exit_code == 0, res.stderr
        res = invoke("select", src, "--method", "random", "--top-k", "700", "-o", out / "k", "--split-mb", mb,
                     "-j", jobs)
        assert res.exit_code == 0, res.stderr
    for sub in ("s", "k"):
        assert _outputs(whole / sub) == _outputs(split / sub)
    assert not [p for p in (split / "s").iterdir() if ".span-" in p.name]


def test_spans_cover_the_file_exactly(tmp_path):
    from sievekit.io import ReadOptions
    from sievekit.io.spans import plan_spans

    src = _big_inputs(tmp_path)
    spans = plan_spans(str(src / "a.jsonl"), "jsonl", ReadOptions(), 20_000)
    assert len(spans) > 3 and spans[0].start == 0 and spans[-1].stop == (src / "a.jsonl").stat().st_size
    assert all(a.stop == b.start for a, b in zip(spans, spans[1:]))
    data = (src / "a.jsonl").read_bytes()
    assert all(data[s.start - 1:s.start] == b"\n" for s in spans[1:])
    groups = plan_spans(str(src / "b.parquet"), "parquet", ReadOptions(), 1)
    assert [(g.start, g.stop, g.first_row) for g in groups] == [(i, i + 1, 250 * i) for i in range(12)]
    assert plan_spans(str(src / "a.jsonl"), "jsonl", ReadOptions(), 10**9) == [None]


def test_an_error_in_a_later_span_names_the_files_line(invoke, tmp_path):
    src = _big_inputs(tmp_path)
    lines = (src / "a.jsonl").read_text().splitlines()
    lines[-5] = '{"text": 7}'
    (src / "a.jsonl").write_text("\n".join(lines) + "\n")
    res = invoke("score", src / "a.jsonl", "--method", "length", "--split-mb", "0.02", "-j", "2")
    assert res.exit_code == 1
    assert f'{src / "a.jsonl"}:{len(lines) - 4}: field "text" is a number' in res.stderr, res.stderr
