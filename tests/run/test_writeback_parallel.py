"""One output stream written with local workers: each shard's kept lines are rendered in a worker and copied in
shard order, so the bytes are those of the serial write for every codec, a failing shard fails the run with its
own message and leaves no output, and the scratch files go away."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sievekit.errors import ShardError
from sievekit.io import ReadOptions, ShardStats, iter_batches, resolve_inputs
from sievekit.run import writeback
from sievekit.run.executor import Executor
from sievekit.run.layout import Layout
from tests.conftest import DATA

FORMATS = ["pool.jsonl", "pool.jsonl.gz", "pool.jsonl.zst", "pool.parquet"]


def _pool(folder: Path, copies: int = 2) -> list:
    """``copies`` of every fixture format as separate shards (more shards than workers times WRITE_AHEAD)."""
    for k in range(copies):
        for name in FORMATS:
            shutil.copy(DATA / name, folder / f"{k}-{name}")
    return resolve_inputs([str(folder)])


def _scored(shards, opts: ReadOptions) -> list[ShardStats]:
    """Each shard's counters from a scoring pass over it (text and id only), as the run's reader leaves them."""
    out = []
    for shard in shards:
        stats = ShardStats()
        for _ in iter_batches(shard, opts, stats, all_columns=False):
            pass
        out.append(stats)
    return out


def _write(shards, stats, keep, extra, target: str, jobs: int, reader: bool = True) -> None:
    """The write pass into one stream; without ``reader`` no counters vouch for the shards (they are parsed)."""
    rows = [st.rows for st in stats]
    given = stats if reader else [ShardStats() for _ in shards]
    with Executor(jobs) as ex:
        writeback.write_kept(shards, rows, keep, extra, Layout(target), ReadOptions(), None, given, executor=ex)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
@pytest.mark.parametrize("reader", [True, False], ids=["copied", "parsed"])
def test_workers_write_the_serial_bytes(tmp_path, suffix, reader):
    shards = _pool(tmp_path)
    stats = _scored(shards, ReadOptions())
    total = sum(st.rows for st in stats)
    keep = np.random.default_rng(0).random(total) < 0.6
    extra = {"score": np.arange(total, dtype=np.float64) / 7}
    for added in (None, extra):
        outputs = []
        for jobs in (1, 2):
            target = tmp_path / f"out-{jobs}{suffix}"
            _write(shards, stats, keep, added, str(target), jobs, reader)
            outputs.append(target.read_bytes())
            target.unlink()
        assert outputs[0] == outputs[1] and len(outputs[0]) > 0
    assert len(shards) > writeback.WRITE_AHEAD * 2  # the copy ran past one window of tasks


def test_a_failing_shard_fails_the_run_and_leaves_nothing(tmp_path, monkeypatch):
    shards = _pool(tmp_path)
    stats = _scored(shards, ReadOptions())
    total = sum(st.rows for st in stats)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)
    # The fifth shard lost its last record after it was scored: the write pass must refuse it.
    victim = shards[4]
    assert victim.path.endswith(".jsonl")
    lines = Path(victim.path).read_bytes().splitlines(keepends=True)
    Path(victim.path).write_bytes(b"".join(lines[:-1]))
    target = tmp_path / "out.jsonl"
    with pytest.raises(ShardError) as err:
        _write(shards, stats, np.ones(total, dtype=bool), None, str(target), 2)
    assert victim.label in str(err.value)
    assert not target.exists()
    assert list(scratch.iterdir()) == []  # the rendered shards went with the run


def test_no_scratch_folder_writes_here(tmp_path, monkeypatch):
    """A temporary directory that cannot take a folder costs the workers, not the run: the same bytes."""
    shards = _pool(tmp_path, copies=1)
    stats = _scored(shards, ReadOptions())
    keep = np.ones(sum(st.rows for st in stats), dtype=bool)
    _write(shards, stats, keep, None, str(tmp_path / "one.jsonl.zst"), 1)
    asked = []

    def no_folder(prefix):
        asked.append(prefix)
        raise ShardError(f"{tmp_path}: cannot make a temporary folder: read-only file system")

    monkeypatch.setattr(writeback.tempdirs, "make", no_folder)
    _write(shards, stats, keep, None, str(tmp_path / "two.jsonl.zst"), 2)
    assert asked == ["sievekit-write-"]
    assert (tmp_path / "one.jsonl.zst").read_bytes() == (tmp_path / "two.jsonl.zst").read_bytes()
