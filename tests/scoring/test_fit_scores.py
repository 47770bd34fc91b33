"""DSIR in one featurisation (sievekit/selectors/dsir.py's note): the fit keeps each shard's features in an array
log, scores them once ``log_diff`` is known, and the scoring pass takes those scores instead of featurising
again. Scores, counters, sidecars and selections are those of the two-pass way, bit for bit."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from sievekit.io import ReadOptions, ShardStats, iter_batches, iter_texts, resolve_inputs
from sievekit.io.arraylog import read_log, write_log
from sievekit.run.executor import Executor
from sievekit.scoring.methods import fit_all, shard_pool
from sievekit.scoring.passes import Sinks, score_shards
from sievekit.selectors.dsir import DsirConfig, DsirSelector
from tests.conftest import read_records
from tests.scoring.test_pool_sample import _pool


def test_array_log_round_trip(tmp_path):
    path = str(tmp_path / "log")
    records = [[np.arange(5, dtype=np.uint16), np.array([-1, 2], dtype=np.int64), np.empty(0, dtype=np.float64)],
               [np.array([3.5], dtype=np.float32)]]
    with write_log(path) as log:
        for record in records:
            log.append(record)
    back = list(read_log(path))
    assert [[(a.dtype, a.tolist()) for a in r] for r in back] == [[(a.dtype, a.tolist()) for a in r] for r in records]
    assert log.nbytes == (tmp_path / "log").stat().st_size


def test_array_log_refuses_a_cut_file_and_a_bad_type(tmp_path):
    path = tmp_path / "log"
    with write_log(str(path)) as log:
        log.append([np.arange(10, dtype=np.int32)])
        with pytest.raises(TypeError, match="array log holds"):
            log.append([np.array(["a"])])
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="ends inside an array"):
        list(read_log(str(path)))


def _two_pass(config: DsirConfig, target: list[str], shards, opts=ReadOptions()) -> DsirSelector:
    """The selector fitted the old way: a pool whose tasks do not keep features (as on Ray)."""
    pool = shard_pool(shards, opts)
    pool.local = False
    return DsirSelector(config).fit(target, pool)


@pytest.mark.parametrize("budget", ["150", "2600", "auto"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_fit_scores_are_score_batch_bit_for_bit(tmp_path, budget, jobs):
    folder, _ = _pool(tmp_path, sizes=(9, 12, 7, 15, 11), suffixes=(".jsonl", ".jsonl.zst", ".parquet", ".jsonl",
                                                                      ".jsonl.gz"))
    shards = resolve_inputs([str(folder)])
    target = ["def f(x): return x + 1", "import os\nclass A: pass", "yield self.value"]
    config = DsirConfig(min_length=3, raw_budget=budget)
    reference = _two_pass(config, target, shards)
    with Executor(jobs) as ex:
        pool = shard_pool(shards, ReadOptions(), ex)
        one = DsirSelector(config).fit(target, pool)
    assert one.state_dict() == reference.state_dict()  # the same raw counts, budget and documents used
    for shard in shards:
        found = one.fit_scores(shard)
        stats = ShardStats()
        texts = [t for b in iter_batches(shard, ReadOptions(), stats, all_columns=False) for t in b.texts]
        expected = reference.score_batch(texts)
        if found is None:  # only where the budget ended before the shard's wave: the scoring pass reads it
            assert budget != "auto" and shard.index > 0
            continue
        scores, found_stats = found
        assert scores.tobytes() == expected.tobytes()  # bit for bit, -inf below min_length included
        assert found_stats.as_dict() == stats.as_dict()
    assert reference.fit_scores(shards[0]) is None


def test_no_fit_scores_past_the_budget_and_for_another_path(tmp_path):
    folder, _ = _pool(tmp_path, sizes=(30, 30, 30), suffixes=(".jsonl", ".jsonl", ".jsonl"))
    shards = resolve_inputs([str(folder)])
    one = DsirSelector(DsirConfig(min_length=1, raw_budget="5")).fit(["def f(x): pass"], shard_pool(shards,
                                                                                                   ReadOptions()))
    assert one.fit_scores(shards[0]) is not None
    assert one.fit_scores(shards[1]) is None and one.fit_scores(shards[2]) is None  # the first wave held one shard
    moved = type(shards[0])(shards[0].index, str(tmp_path / "elsewhere.jsonl"), shards[0].name, shards[0].format)
    assert one.fit_scores(moved) is None


def test_scoring_pass_uses_fit_scores_and_still_writes_sidecars(tmp_path):
    folder, _ = _pool(tmp_path)
    shards = resolve_inputs([str(folder)])
    target = ["def f(x): return x + 1", "class A: pass"]
    config = DsirConfig(min_length=2)
    reference = _two_pass(config, target, shards)
    expected, expected_stats = score_shards([reference], shards, ReadOptions(),
                                            sinks=[Sinks(sidecar=str(tmp_path / f"a{i}.jsonl")) for i in
                                                   range(len(shards))])
    selector = DsirSelector(config)
    fit_all([selector], target, shards, ReadOptions())
    calls: list[int] = []
    original = selector.score_batch
    selector.score_batch = lambda texts: calls.append(len(texts)) or original(texts)  # type: ignore[method-assign]
    got, stats = score_shards([selector], shards, ReadOptions())  # nothing to write: no shard is read again
    with_sidecars, _ = score_shards([selector], shards, ReadOptions(),
                                    sinks=[Sinks(sidecar=str(tmp_path / f"b{i}.jsonl")) for i in range(len(shards))])
    assert calls == []  # never featurised again
    for a, b, c in zip(expected, got, with_sidecars):
        assert a["dsir"].tobytes() == b["dsir"].tobytes() == c["dsir"].tobytes()
    assert [s.as_dict() for s in stats] == [s.as_dict() for s in expected_stats]
    for i in range(len(shards)):
        assert (tmp_path / f"a{i}.jsonl").read_bytes() == (tmp_path / f"b{i}.jsonl").read_bytes()


def test_select_with_dsir_is_the_same_for_any_jobs_and_the_two_pass_way(invoke, tmp_path, data_dir, monkeypatch):
    folder, _ = _pool(tmp_path)
    args = ["--method", "dsir", "--target", data_dir / "target.jsonl", "--top-k", "12", "--min-length", "2"]
    outs = {}
    for name, jobs in (("a", "1"), ("b", "2")):
        res = invoke("select", folder, *args, "-j", jobs, "-o", tmp_path / name)
        assert res.exit_code == 0, res.stderr
        outs[name] = read_records(tmp_path / name)
    import sievekit.scoring.methods as methods

    made = methods.shard_pool

    def two_pass(*a, **k):
        pool = made(*a, **k)
        pool.local = False
        return pool

    monkeypatch.setattr(methods, "shard_pool", two_pass)
    monkeypatch.setattr(sys.modules["sievekit.commands.select"], "shard_pool", two_pass)
    res = invoke("select", folder, *args, "-o", tmp_path / "c")
    assert res.exit_code == 0, res.stderr
    outs["c"] = read_records(tmp_path / "c")
    assert len(outs["a"]) == 12 and outs["a"] == outs["b"] == outs["c"]
    manifests = [json.loads((tmp_path / n / "manifest.json").read_text()) for n in "abc"]
    assert manifests[0]["selector"] == manifests[1]["selector"] == manifests[2]["selector"]
    assert [s["rows_in"] for s in manifests[0]["shards"]] == [s["rows_in"] for s in manifests[2]["shards"]]
    texts = list(iter_texts(resolve_inputs([str(folder)]), ReadOptions()))
    assert sum(s["rows_in"] for s in manifests[0]["shards"]) == len(texts)


def test_a_failing_disk_keeps_no_features_and_changes_nothing(tmp_path, monkeypatch):
    folder, _ = _pool(tmp_path)
    shards = resolve_inputs([str(folder)])
    target = ["def f(x): return x + 1", "class A: pass"]
    config = DsirConfig(min_length=2)
    reference = _two_pass(config, target, shards)
    import sievekit.io.arraylog as arraylog

    append = arraylog.LogWriter.append

    def failing(self, arrays):  # the disk fills up in the shard of index 2
        if "2.features" in os.path.basename(str(self.fh.name)):
            raise OSError(28, "No space left on device")
        append(self, arrays)

    monkeypatch.setattr(arraylog.LogWriter, "append", failing)
    one = DsirSelector(config).fit(target, shard_pool(shards, ReadOptions()))
    assert one.state_dict() == reference.state_dict()
    assert one.fit_scores(shards[2]) is None and one.fit_scores(shards[1]) is not None
    got, _ = score_shards([one], shards, ReadOptions())
    expected, _ = score_shards([reference], shards, ReadOptions())
    assert all(a["dsir"].tobytes() == b["dsir"].tobytes() for a, b in zip(got, expected))
