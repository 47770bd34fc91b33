"""Hostile round 7: output names against ``Layout.of_output`` (compressed Parquet names, a bare ``.parquet``,
``--dry-run``, ``--clusters``), the default method's note when the solver is switched off, and -j 2 runs."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_output_names import COMMANDS
from tests.conftest import DATA, one_error_line, read_records


@pytest.mark.parametrize("where", ["here", "sub"])
def test_a_bare_parquet_name_never_hints_the_root_directory(invoke, tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    out = ".parquet" if where == "here" else str(tmp_path / ".parquet")
    res = invoke(*COMMANDS["select"], "-o", out)
    assert res.exit_code == 2, res.output
    one_error_line(res.stderr)
    assert "--output /)" not in res.stderr and "--output /," not in res.stderr
    assert "//" not in res.stderr
    assert ("kept/" if where == "here" else f"{tmp_path / 'kept'}/") in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_parquet_file_and_links_to_it_are_refused_and_kept(invoke, tmp_path):
    real = tmp_path / "data.parquet"
    real.write_bytes((DATA / "pool.parquet").read_bytes())
    link = tmp_path / "link.parquet"
    link.symlink_to(real)
    for out in (real, link):
        res = invoke(*COMMANDS["select"], "-o", out)
        assert res.exit_code == 2, res.output
        assert str(out) in one_error_line(res.stderr)
    assert real.read_bytes() == (DATA / "pool.parquet").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet", "link.parquet"]


def test_a_link_named_parquet_to_a_directory_is_that_directory(invoke, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "kept.parquet").symlink_to(tmp_path / "real")
    res = invoke(*COMMANDS["select"], "-o", tmp_path / "kept.parquet")
    assert res.exit_code == 0, res.output
    assert len(read_records(tmp_path / "real")) == 5


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_dry_run_refuses_what_the_run_would(invoke, tmp_path, command):
    """``--dry-run`` printed a plan (exit 0) for ``-o kept.parquet``, which the real run refuses."""
    res = invoke(*COMMANDS[command], "-o", tmp_path / "kept.parquet", "--dry-run")
    assert res.exit_code == 2, res.output
    assert str(tmp_path / "kept.parquet") in one_error_line(res.stderr)
    assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_of_a_good_output_still_prints_its_plan(invoke, tmp_path):
    res = invoke(*COMMANDS["select"], "-o", f"{tmp_path / 'kept.parquet'}/", "--dry-run")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["top_k"] == 5


@pytest.mark.parametrize("name", ["clusters.parquet", "clusters.jsonl.gz", "clusters.jsonl.zst"])
def test_a_clusters_file_named_for_another_format_is_refused(invoke, tmp_path, name):
    """The clusters file is copied as plain JSON Lines: named ``.gz`` it was not gzip (``report`` then failed
    with "corrupt gzip stream"), named ``.parquet`` not Parquet."""
    dup = tmp_path / "in" / "dup.jsonl"
    dup.parent.mkdir()
    dup.write_text((DATA / "pool.jsonl").read_text() * 2)
    for extra in ([], ["--dry-run"]):
        res = invoke("dedupe", dup, "-o", tmp_path / "out/", "--clusters", tmp_path / name, *extra)
        assert res.exit_code == 2, res.output
        line = one_error_line(res.stderr)
        assert str(tmp_path / name) in line and "--clusters" in line
        assert "clusters.jsonl" in res.stderr  # the hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_plain_clusters_file_is_written_and_read_back(invoke, tmp_path):
    dup = tmp_path / "dup.jsonl"
    dup.write_text((DATA / "pool.jsonl").read_text() * 2)
    res = invoke("dedupe", dup, "-o", tmp_path / "out/", "--clusters", tmp_path / "cl.jsonl")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "cl.jsonl").read_text().splitlines()]
    assert rows and all(r["size"] == 2 for r in rows)


def test_the_default_methods_note_names_the_switch_that_turned_the_solver_off(monkeypatch):
    """With numba installed but ``SIEVEKIT_JIT=0`` and no scikit-learn, the note told the user to install the
    extra they already had."""
    import importlib.util

    from sievekit.scoring.methods import default_method

    real = importlib.util.find_spec
    for name in ("scipy", "numba"):
        if real(name) is None:
            pytest.skip(f"{name} is not installed here")
    monkeypatch.setenv("SIEVEKIT_JIT", "0")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    name, why = default_method()
    assert name == "zstd-ml"
    assert why is not None and "SIEVEKIT_JIT" in why
    assert "using zstd-ml" not in why  # the CLI already says "ranking with zstd-ml (...)"


def _burn(seconds: float) -> int:
    import os
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return os.getpid()


def _terminate_self() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGTERM)


def test_a_worker_stopped_by_sigterm_is_an_error_of_the_run_not_a_silent_exit():
    """The worker's SIGTERM handler raises SystemExit(143) inside the task; the pool handed it back and the
    run's own process exited 143 without a word (no Error line, no cleanup message)."""
    from sievekit.errors import SievekitError
    from sievekit.run.executor import Executor

    with pytest.raises(SievekitError, match="worker process of this run was stopped"), Executor(jobs=2) as ex:
        ex.map(_terminate_self, [()])


def test_an_executor_closed_inside_another_leaves_the_outer_ones_workers_alone():
    """The inner executor's close stopped the process's one fork server and SIGTERMed its children: the outer
    run's workers (and then, by the SystemExit above, the outer process)."""
    from sievekit.run.executor import Executor

    with Executor(jobs=2) as outer:
        rest = outer.imap(_burn, [(0.3,)] * 6)  # busy when the inner one closes
        first = next(rest)
        with Executor(jobs=2) as inner:
            assert len(inner.map(_burn, [(0.01,)] * 2)) == 2
        assert len([first, *rest]) == 6


def test_an_executor_used_twice_counts_its_workers_cpu_time_both_times():
    import resource

    from sievekit.run.executor import Executor

    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with Executor(jobs=2) as ex:
            ex.map(_burn, [(0.1,)] * 2)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 0.15
