"""Progress while a run goes: the library's protocol (phases, byte and shard totals), timed lines off a terminal
(stderr only, silenced by -q), rich on a terminal, and the last line of an interrupted run."""

from __future__ import annotations

import importlib
import io
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from sievekit import commands
from sievekit.cli.progress import LineView, Watch, feedback
from sievekit.duplicates.options import DedupeConfig
from sievekit.rules import Rule
from sievekit.run import RunOptions
from sievekit.run.progress import Progress, tracker
from sievekit.scoring import MethodSpec, ScoreSource
from tests.conftest import POOL_FORMATS

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (select|score|dedupe): \w+")


class Recorder:
    """A ``Progress`` that writes down every call, and sums them up per phase."""

    def __init__(self) -> None:
        self.phases: list[dict] = []

    def phase(self, name: str, total_bytes: int, total_shards: int, unit: str = "shards") -> None:
        self.phases.append({"name": name, "total_bytes": total_bytes, "total": total_shards, "unit": unit,
                            "bytes": 0, "docs": 0, "done": 0})

    def advance(self, docs: int, nbytes: int = 0) -> None:
        self.phases[-1]["docs"] += docs
        self.phases[-1]["bytes"] += nbytes

    def shard_done(self) -> None:
        self.phases[-1]["done"] += 1

    def by_name(self) -> dict[str, dict]:
        return {p["name"]: p for p in self.phases}


@pytest.fixture
def pool(tmp_path, data_dir) -> Path:
    """The test corpus in every format: four shards, 20 documents each."""
    folder = tmp_path / "pool"
    folder.mkdir()
    for name in POOL_FORMATS:
        shutil.copy(data_dir / name, folder / name)
    return folder


def sizes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def progress_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if LINE.match(line)]


# -- the library's protocol ---------------------------------------------------------------------------------
def test_recorder_is_a_progress():
    assert isinstance(Recorder(), Progress)


def test_select_reports_fit_score_and_write_with_the_shards_bytes(pool, tmp_path, data_dir):
    rec = Recorder()
    commands.select([str(pool)], str(tmp_path / "out"), rule=Rule("top_k", 5),
                    source=ScoreSource(methods=[MethodSpec("zipfit", {})], target=[str(data_dir / "target.jsonl")]),
                    run=RunOptions(progress=rec))
    phases = rec.by_name()
    assert [p["name"] for p in rec.phases] == ["fit", "score", "write"]
    assert phases["fit"]["total_bytes"] == phases["fit"]["bytes"] == (data_dir / "target.jsonl").stat().st_size
    for name in ("score", "write"):
        p = phases[name]
        assert p["total_bytes"] == p["bytes"] == sizes(pool), name  # every codec counted by its size on disk
        assert p["total"] == p["done"] == 4
    assert phases["score"]["docs"] == 80


@pytest.mark.parametrize("jobs", [1, 2])
def test_dedupe_reports_every_stage(pool, tmp_path, jobs):
    rec = Recorder()
    commands.dedupe([str(pool)], str(tmp_path / "out"), config=DedupeConfig(), run=RunOptions(jobs=jobs, progress=rec))
    phases = rec.by_name()
    assert [p["name"] for p in rec.phases] == ["sign", "bucket", "cluster", "filter"]
    for name in ("sign", "filter"):
        p = phases[name]
        assert (p["total_bytes"], p["bytes"], p["total"], p["done"], p["docs"]) == (sizes(pool), sizes(pool), 4, 4, 80)
    bands = DedupeConfig().banding.bands
    assert (phases["bucket"]["unit"], phases["bucket"]["total"], phases["bucket"]["done"]) == ("bands", bands, bands)
    assert (phases["cluster"]["total"], phases["cluster"]["done"]) == (bands + 1, bands + 1)  # verify each, join


def test_spans_of_one_shard_add_up_to_its_size(tmp_path, data_dir):
    rec = Recorder()
    shard = data_dir / "pool.jsonl"
    commands.select([str(shard)], "-", rule=Rule("top_k", 5), source=ScoreSource(methods=[MethodSpec("length", {})]),
                    run=RunOptions(progress=rec, split_mb=0.002))  # 2 kB spans: several tasks for one shard
    score = rec.by_name()["score"]
    assert (score["bytes"], score["done"], score["docs"]) == (shard.stat().st_size, 1, 20)


def test_a_plain_callable_still_gets_the_documents_done(data_dir, capsys):
    seen: list[int] = []
    commands.select([str(data_dir / "pool.jsonl")], "-", rule=Rule("top_k", 5),
                    source=ScoreSource(methods=[MethodSpec("length", {})]), run=RunOptions(progress=seen.append))
    capsys.readouterr()
    assert sum(seen) == 20


def test_the_tracker_never_reports_past_the_announced_total():
    rec = Recorder()
    t = tracker(rec)
    t.phase("score", 100, 1)
    t.advance(1, 80)
    t.advance(1, 80)
    t.shard_done()
    t.shard_done()
    assert (rec.phases[0]["bytes"], rec.phases[0]["done"]) == (100, 1)


# -- the CLI: lines off a terminal ----------------------------------------------------------------------------
def test_the_line_reads_as_documented():
    now = [0.0]
    written: list[str] = []
    watch = Watch("select", clock=lambda: now[0])
    watch.view = LineView(watch, 1.0, written.append, wall=lambda: datetime(2026, 11, 27, 17, 40))
    watch.phase("score", 475_200_000, 8)
    for _ in range(3):
        watch.shard_done()
    assert written == []  # not yet due
    now[0] = 120.5 / 36.1
    watch.advance(0, 120_500_000)
    assert written == ["2026-11-27T17:40:00 select: score 3/8 shards, 120.5 of 475.2 MB (25%), 36.1 MB/s, ETA 0:00:10"]


@pytest.mark.parametrize("command", [["select", "--method", "length", "--top-k", "5"], ["dedupe"]])
def test_timed_lines_go_to_stderr_never_stdout(invoke, pool, command):
    res = invoke(*command, pool, "--progress-interval", "0.001")
    assert res.exit_code == 0, res.stderr
    assert progress_lines(res.stderr)
    assert all(json.loads(line) for line in res.stdout.splitlines())  # data only
    assert not progress_lines(res.stdout)


@pytest.mark.parametrize("flags", [["-q"], ["--progress-interval", "0"]])
def test_quiet_or_interval_zero_silences_them(invoke, pool, flags):
    res = invoke("select", pool, "--method", "length", "--top-k", "5", "--progress-interval", "0.001", *flags)
    assert res.exit_code == 0, res.stderr
    assert not progress_lines(res.stderr)
    assert (res.stderr == "") == (flags == ["-q"])


def test_the_default_interval_prints_nothing_on_a_short_run(invoke, pool):
    res = invoke("select", pool, "--method", "length", "--top-k", "5")
    assert not progress_lines(res.stderr)


def test_progress_interval_must_not_be_negative(invoke, pool):
    assert invoke("select", pool, "--method", "length", "--top-k", "5", "--progress-interval", "-1").exit_code == 2


# -- interruption --------------------------------------------------------------------------------------------
def _interrupt_after_one_shard(exc: BaseException):
    def write_kept(shards, *args, progress, **kwargs):  # the write phase as write_kept reports it
        progress.phase_of("write", shards)
        for i, _ in enumerate(shards):
            if i == 1:
                raise exc
            progress.shard_done()
    return write_kept


@pytest.mark.parametrize("output, then", [("dir", "resume"), ("-", "start again")])
def test_ctrl_c_says_how_far_it_got(invoke, pool, tmp_path, monkeypatch, output, then):
    module = importlib.import_module("sievekit.commands.select")  # the package exports a function of that name
    monkeypatch.setattr(module, "write_kept", _interrupt_after_one_shard(KeyboardInterrupt()))
    out = str(tmp_path / "out") if output == "dir" else "-"
    res = invoke("select", pool, "--method", "length", "--top-k", "5", "-o", out, "-q")
    assert res.exit_code != 0
    assert f"select: interrupted after 1 of 4 shards (write); re-run the same command to {then}" in res.stderr
    assert "interrupted" not in res.stdout


@pytest.mark.parametrize("work_dir, then", [(False, "start again"), (True, "resume")])
def test_sigterm_in_a_dedupe_stage(invoke, pool, tmp_path, monkeypatch, work_dir, then):
    from sievekit.duplicates import runner

    signed = []

    def sign_shard(*args, **kwargs):
        if signed:
            raise SystemExit(143)  # what the CLI's SIGTERM handler raises
        signed.append(1)
        return runner.sign_shard.__wrapped__(*args, **kwargs)

    sign_shard.__wrapped__ = runner.sign_shard  # type: ignore[attr-defined]
    monkeypatch.setattr(runner, "sign_shard", sign_shard)
    extra = ["--work-dir", tmp_path / "work"] if work_dir else []
    res = invoke("dedupe", pool, "-o", tmp_path / "out", *extra)
    assert res.exit_code == 143
    assert res.stderr.splitlines()[-1] == \
        f"dedupe: interrupted after 1 of 4 shards (sign); re-run the same command to {then}"


# -- on a terminal --------------------------------------------------------------------------------------------
def test_a_terminal_gets_a_rich_display_per_phase():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    with feedback("dedupe", quiet=False, interval=60, resumable=True, console=console, tty=True) as watch:
        watch.phase("sign", 2_000_000, 2)
        watch.advance(10, 1_000_000)
        watch.shard_done()
        watch.phase("bucket", 0, 16, "bands")
        watch.shard_done()
    text = buf.getvalue()
    assert "dedupe sign" in text and "1.0/2.0 MB, 1/2 shards, 10 docs" in text
    assert "dedupe bucket" in text and "1/16 bands" in text
