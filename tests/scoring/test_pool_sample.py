"""The fit's pool pass (sievekit/io/pool.py): records counted without parsing, only drawn rows fetched, per-shard
tasks on any executor; the samples are those of a plain stream, whatever ``-j`` and executor."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.errors import BadRecordError, InputError
from sievekit.io import ReadOptions, iter_texts, resolve_inputs
from sievekit.io.pool import ShardPool, count_shard_rows, reservoir_positions
from sievekit.run.executor import Executor
from sievekit.scoring.methods import fit_all, shard_pool
from sievekit.selectors.classifier import SAMPLE_CHUNK, ClassifierConfig, ClassifierSelector, reservoir_sample
from sievekit.selectors.compress_background import sample_backgrounds
from sievekit.selectors.compress_zstd import ZstdMLConfig, ZstdMLSelector
from sievekit.selectors.dsir import DsirConfig, DsirSelector
from tests.conftest import read_records

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
         "xi", "omicron", "pi", "rho", "sigma", "tau", "def", "return", "import", "class", "yield", "async", "await",
         "self", "print"]


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 60)))) + f" #{seed}-{i} é\n\"q\"" for i in range(n)]


def _lines(texts: list[str]) -> list[bytes]:
    return [json.dumps({"id": i, "text": t, "meta": {"n": i}}).encode() for i, t in enumerate(texts)]


def _write(path: Path, texts: list[str], blank: bool = False, final_newline: bool = True) -> Path:
    """``texts`` as a shard named ``path`` (its suffix picks format and codec); ``blank`` mixes in empty,
    whitespace-only and CRLF lines (JSONL)."""
    if path.suffix == ".parquet":
        pq.write_table(pa.table({"id": list(range(len(texts))), "text": texts}), path, row_group_size=7)
        return path
    lines = _lines(texts)
    if blank:
        lines = [b"", b"   \t", *lines[:3], b"\r", *[line + b"\r" for line in lines[3:6]], b"", *lines[6:], b"  "]
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def _pool(tmp_path: Path, sizes=(23, 1, 40, 17), suffixes=(".jsonl.zst", ".jsonl", ".jsonl.gz", ".parquet"),
          blank: bool = False) -> tuple[Path, list[str]]:
    folder = tmp_path / "pool"
    folder.mkdir()
    every: list[str] = []
    for k, (n, suffix) in enumerate(zip(sizes, suffixes)):
        texts = _texts(n, k)
        _write(folder / f"part-{k}{suffix}", texts, blank=blank, final_newline=k % 2 == 0)
        every += texts
    return folder, every


# -- row counting ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"])
@pytest.mark.parametrize("final_newline", [True, False])
@pytest.mark.parametrize("blank", [False, True])
def test_rows_are_counted_as_the_reader_reads_them(tmp_path, suffix, final_newline, blank):
    if suffix == ".parquet" and (blank or not final_newline):
        pytest.skip("lines are a JSONL matter")
    shard = resolve_inputs([str(_write(tmp_path / f"s{suffix}", _texts(31, 5), blank, final_newline))])[0]
    count = count_shard_rows(shard, ReadOptions())
    assert count.rows == len(list(iter_texts([shard], ReadOptions()))) == 31
    assert count.bytes > 0


def test_a_blank_line_across_decoded_chunks_is_not_a_record(tmp_path):
    # 3 MB of lines: the reader's 1 MiB chunks cut inside lines; blank lines sit everywhere.
    lines = []
    for i in range(3000):
        lines.append(json.dumps({"text": "x" * (700 + i % 300)}).encode())
        if i % 7 == 0:
            lines.append(b"" if i % 2 else b"  ")
    path = tmp_path / "big.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(lines)))
    shard = resolve_inputs([str(path)])[0]
    assert count_shard_rows(shard, ReadOptions()).rows == 3000
    texts = list(iter_texts([shard], ReadOptions()))
    pool = ShardPool([shard], ReadOptions())
    rows = np.array([0, 1, 1499, 2998, 2999])
    assert pool.fetch(rows) == [texts[r] for r in rows]


def test_a_truncated_stream_is_one_error_naming_the_file(tmp_path):
    data = zstandard.ZstdCompressor().compress(b"\n".join(_lines(_texts(400, 1))) + b"\n")
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.jsonl.zst"):
        count_shard_rows(resolve_inputs([str(path)])[0], ReadOptions())


# -- fetching only the drawn rows -----------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(picks=st.lists(st.integers(0, 80), unique=True, max_size=30))
def test_fetch_gives_the_streams_texts_at_any_positions(tmp_path_factory, picks):
    folder, _ = _pool(tmp_path_factory.mktemp("p"), blank=True)
    shards = resolve_inputs([str(folder)])
    stream = list(iter_texts(shards, ReadOptions()))
    pool = ShardPool(shards, ReadOptions())
    assert pool.rows == len(stream) == 81
    assert pool.fetch(picks) == [stream[p] for p in picks]


def _joined(texts):
    return "|".join("-" if t is None else t for t in texts)


@settings(max_examples=15, deadline=None)
@given(picks=st.lists(st.integers(0, 80), unique=True, max_size=30))
def test_fetch_map_runs_on_each_shards_drawn_rows_in_pool_order(tmp_path_factory, picks):
    folder, _ = _pool(tmp_path_factory.mktemp("p"), blank=True)
    pool = ShardPool(resolve_inputs([str(folder)]), ReadOptions())
    ordered = np.array(sorted(picks), dtype=np.int64)
    parts = list(pool.fetch_map(ordered, _joined))
    assert "|".join(p for p in parts) == _joined(pool.fetch(ordered))
    assert len(parts) == len({int(np.searchsorted(np.cumsum([c.rows for c in pool.counts()]), p, "right"))
                              for p in ordered})  # one task per shard holding a drawn row


def test_fetch_map_and_call_run_on_workers_as_here(tmp_path):
    folder, _ = _pool(tmp_path)
    shards = resolve_inputs([str(folder)])
    here = ShardPool(shards, ReadOptions())
    with Executor(2, "local") as ex:
        there = ShardPool(shards, ReadOptions(), ex.imap, ex.jobs)
        positions = np.array([0, 5, 40, 79], dtype=np.int64)
        assert list(there.fetch_map(positions, _joined)) == list(here.fetch_map(positions, _joined))
        assert there.call(_joined, ["a", None]) == here.call(_joined, ["a", None]) == "a|-"
    with pytest.raises(ValueError, match="sorted"):
        list(here.fetch_map(np.array([5, 0]), _joined))


def test_a_bad_drawn_record_names_file_and_line_or_is_skipped(tmp_path):
    lines = _lines(_texts(10, 0))
    lines[4] = b'{"text": "broken'
    (tmp_path / "bad.jsonl").write_bytes(b"\n\n" + b"\n".join(lines) + b"\n")
    shards = resolve_inputs([str(tmp_path / "bad.jsonl")])
    with pytest.raises(BadRecordError) as err:
        ShardPool(shards, ReadOptions()).fetch([3, 4])
    assert "bad.jsonl" in str(err.value) and err.value.line == 7  # two blank lines, then the fifth record
    skipping = ShardPool(shards, ReadOptions(on_bad_record="skip"))
    got = skipping.fetch([3, 4, 5])
    assert got[1] is None and got[0] is not None and got[2] is not None


def test_cli_a_corrupt_shard_is_one_line_and_exit_1(invoke, tmp_path, data_dir):
    folder, _ = _pool(tmp_path)
    data = (folder / "part-0.jsonl.zst").read_bytes()
    (folder / "part-0.jsonl.zst").write_bytes(data[: len(data) // 2])
    res = invoke("select", folder, "--method", "zstd-ml", "--target", data_dir / "target.jsonl", "--top-k", "3",
                 "-o", tmp_path / "out")
    assert res.exit_code == 1
    assert "part-0.jsonl.zst" in res.stderr and "Traceback" not in res.stderr
    assert len([line for line in res.stderr.splitlines() if line.startswith("Error")]) == 1


def test_cli_a_malformed_line_names_file_and_line(invoke, tmp_path, data_dir):
    folder, _ = _pool(tmp_path, sizes=(30,), suffixes=(".jsonl",))
    lines = (folder / "part-0.jsonl").read_bytes().split(b"\n")
    lines[12] = b'{"text": 3'
    (folder / "part-0.jsonl").write_bytes(b"\n".join(lines))
    res = invoke("select", folder, "--method", "classifier", "--target", data_dir / "target.jsonl", "--top-k", "3",
                 "--negatives-ratio", "10", "-o", tmp_path / "out")
    assert res.exit_code == 1
    assert "part-0.jsonl:13: malformed JSON" in res.stderr and "Traceback" not in res.stderr
    assert len([line for line in res.stderr.splitlines() if line.startswith("Error")]) == 1


# -- the samples: a plain stream's, for any -j and executor ----------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(n_items=st.integers(0, 20_000), n=st.integers(1, 5000), seed=st.integers(0, 9))
def test_reservoir_positions_are_reservoir_samplings(n_items, n, seed):
    sample, seen = reservoir_sample(range(n_items), n, np.random.default_rng(seed))
    assert seen == n_items
    assert reservoir_positions(n_items, n, np.random.default_rng(seed), SAMPLE_CHUNK).tolist() == sample


def _fits(tmp_path: Path, executor: Executor | None, data_dir: Path) -> dict[str, object]:
    folder, _ = _pool(tmp_path, blank=True) if not (tmp_path / "pool").exists() else (tmp_path / "pool", [])
    shards = resolve_inputs([str(folder)])
    target = list(iter_texts(resolve_inputs([str(data_dir / "target.jsonl")]), ReadOptions()))
    classifier = ClassifierSelector(ClassifierConfig(negatives_ratio=4, seed=3))
    zstd = ZstdMLSelector(ZstdMLConfig(min_bytes=1, background_bytes=900, seed=5))
    dsir = DsirSelector(DsirConfig(min_length=1, raw_budget="900"))
    fit_all([classifier, zstd, dsir], target, shards, ReadOptions(), executor)
    return {"classifier": classifier.state_dict(), "zstd": zstd.state_dict(), "dsir": dsir.state_dict()}


def test_fits_are_the_same_inline_on_workers_and_from_a_stream(tmp_path, data_dir):
    inline = _fits(tmp_path, None, data_dir)
    with Executor(2, "local") as ex:
        workers = _fits(tmp_path, ex, data_dir)
    assert workers == inline
    # ... and the samples a plain stream of the same texts gives (the library's fit over an iterable)
    shards = resolve_inputs([str(tmp_path / "pool")])
    stream = list(iter_texts(shards, ReadOptions()))
    target = list(iter_texts(resolve_inputs([str(data_dir / "target.jsonl")]), ReadOptions()))
    classifier = ClassifierSelector(ClassifierConfig(negatives_ratio=4, seed=3)).fit(target, iter(stream))
    assert classifier.state_dict() == inline["classifier"]
    zstd = ZstdMLSelector(ZstdMLConfig(min_bytes=1, background_bytes=900, seed=5)).fit(target, iter(stream))
    assert zstd.state_dict() == inline["zstd"]
    assert [b["rows"] for b in zstd.backgrounds][0]  # the backgrounds are drawn
    dsir = DsirSelector(DsirConfig(min_length=1, raw_budget="900")).fit(target, iter(stream))
    assert dsir.state_dict() == inline["dsir"]


def test_fits_are_the_same_on_ray(tmp_path, data_dir):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    inline = _fits(tmp_path, None, data_dir)
    try:
        with Executor(2, "ray") as ex:
            on_ray = _fits(tmp_path, ex, data_dir)
    finally:
        import ray

        ray.shutdown()
    assert on_ray == inline


@pytest.mark.parametrize("budget", ["1", "150", "700", "2600", "auto", "all"])
def test_dsir_counts_the_manifest_order_prefix_in_parallel(tmp_path, budget):
    folder, _ = _pool(tmp_path, sizes=(9, 12, 7, 15, 11), suffixes=(".jsonl", ".jsonl.zst", ".parquet", ".jsonl",
                                                                      ".jsonl.gz"))
    shards = resolve_inputs([str(folder)])
    stream = list(iter_texts(shards, ReadOptions()))
    config = DsirConfig(raw_budget=budget)
    expected, used = DsirSelector(config).count(iter(stream), config.raw_budget_features())
    with Executor(2, "local") as ex:
        for pool in (shard_pool(shards, ReadOptions()), shard_pool(shards, ReadOptions(), ex)):
            for spill in (None, tmp_path / "spill"):  # counted only, or featurised whole and kept on disk
                spill_dir = None if spill is None else str(spill)
                if spill is not None:
                    spill.mkdir(exist_ok=True)
                counts, n, kept = DsirSelector(config).count_pool(pool, config.raw_budget_features(), spill_dir)
                assert n == used and np.array_equal(counts, expected)
                assert (not kept) if spill is None else 0 in kept


@pytest.mark.parametrize("draws", [1, 3])
def test_backgrounds_from_shards_are_the_streams(tmp_path, draws):
    folder, _ = _pool(tmp_path, blank=True)
    shards = resolve_inputs([str(folder)])
    stream = list(iter_texts(shards, ReadOptions()))
    for budget, min_bytes in ((1, 0), (500, 0), (3000, 200), (10**7, 0)):
        assert (sample_backgrounds(ShardPool(shards, ReadOptions()), budget, 4, draws, min_bytes)
                == sample_backgrounds(iter(stream), budget, 4, draws, min_bytes))


# -- seeds -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["classifier", "zstd-ml"])
def test_seeds_reproduce_the_selection(invoke, tmp_path, data_dir, method):
    folder, _ = _pool(tmp_path)
    outs = {}
    for name, seed, jobs in (("a", "1", "1"), ("b", "1", "2"), ("c", "2", "1")):
        res = invoke("select", folder, "--method", method, "--target", data_dir / "target.jsonl", "--top-k", "9",
                     "--seed", seed, "-j", jobs, "-o", tmp_path / name)
        assert res.exit_code == 0, res.stderr
        outs[name] = [rec["text"] for rec in read_records(tmp_path / name)]
        state = json.loads((tmp_path / name / "manifest.json").read_text())["selector"]["state"]
        outs[name + "-state"] = state
    assert len(outs["a"]) == 9 and outs["a"] == outs["b"] and outs["a-state"] == outs["b-state"]
    assert outs["a-state"] != outs["c-state"]  # another seed, another sample
