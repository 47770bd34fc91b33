"""The exact pass in a memory budget (bucket files by key prefix) and verification's pair memo and positional reads:
each changes how much is held or read, never a value."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dedupe_corpus import graded_pairs_pool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sievekit
from sievekit.duplicates import DedupeConfig
from sievekit.duplicates import verify as verify_mod
from sievekit.duplicates.exact import bucket_bits, exact_pass
from sievekit.duplicates.pairmemo import ABOVE, BELOW, PairMemo, shared_memo
from sievekit.duplicates.preads import Files
from sievekit.duplicates.sources import SigStore, Source, plan_sources
from sievekit.duplicates.verify import ShingleSets, exact_check, set_jaccard
from sievekit.duplicates.workdir import EPHEMERAL, WorkDir
from sievekit.errors import InputError
from sievekit.io import Shard, resolve_inputs


def _write_keys(work: WorkDir, shards: list[list[tuple[int, int]]]) -> list[Source]:
    """Sign-stage exact-key files for shards of (k0, k1) keys, and their sources."""
    sources, offset = [], 0
    for i, keys in enumerate(shards):
        base = work.sign_base(i)
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".exact").write_bytes(np.array(keys, dtype=np.uint64).reshape(-1, 2).tobytes())
        sources.append(Source(str(work.root), Shard(i, f"s{i}.jsonl", f"s{i}.jsonl", "jsonl"), len(keys), offset,
                              False))
        offset += len(keys)
    return sources


# a few distinct 128-bit keys, some sharing their top bits (the bucket) but not the rest
KEYS = [(0, 1), (0, 2), (1 << 63, 5), ((1 << 63) + 1, 5), (2**64 - 1, 0), (12345 << 40, 7)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.lists(st.lists(st.integers(0, len(KEYS) - 1), max_size=30), min_size=1, max_size=4),
       memory_mb=st.sampled_from([1e-5, 1e-4, 1e-3, 1024]))
def test_the_exact_pass_gives_the_same_groups_for_any_budget(tmp_path_factory, which, memory_mb):
    root = tmp_path_factory.mktemp("w")
    (root / EPHEMERAL).touch()  # no fsyncs: the examples are many
    work = WorkDir(root)
    sources = _write_keys(work, [[KEYS[k] for k in shard] for shard in which])
    flat = [k for shard in which for k in shard]
    exact_pass(str(work.root), sources, {"p": 1}, memory_mb)
    rep = np.load(work.path("exact", "rep.npy")).tolist()
    assert rep == [flat.index(k) for k in flat]  # each document's first copy
    info = json.loads(work.path("exact", "rep.json").read_text())
    assert info["exact_groups"] == len(set(flat))
    assert info["buckets"] == 1 << bucket_bits(len(flat), memory_mb)
    assert not list(work.path("exact").glob("buckets-*"))  # the bucket files are gone


def test_a_tiny_budget_spills_the_keys_to_buckets_and_a_whole_run_is_unchanged(dup_pool, tmp_path):
    assert bucket_bits(5_000_000, 1024) == 0 and bucket_bits(5_000_000, 64) == 4
    a = sievekit.dedupe([str(dup_pool)], str(tmp_path / "a"), work_dir=str(tmp_path / "wa"))
    b = sievekit.dedupe([str(dup_pool)], str(tmp_path / "b"), work_dir=str(tmp_path / "wb"),
                        config=DedupeConfig(memory_mb=1e-4))
    assert json.loads((tmp_path / "wb" / "exact" / "rep.json").read_text())["buckets"] > 1
    assert (tmp_path / "wa" / "exact" / "rep.npy").read_bytes() == (tmp_path / "wb" / "exact" / "rep.npy").read_bytes()
    assert a.rows_out == b.rows_out
    for name in ("clusters.jsonl", "keep.npy", "cluster.npy", "jaccard.npy"):
        assert (tmp_path / "wa" / "cluster" / name).read_bytes() == (tmp_path / "wb" / "cluster" / name).read_bytes()


def test_bucket_folders_of_a_killed_pass_are_swept_and_a_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from sievekit.duplicates import exact

    work = WorkDir(tmp_path / "w")
    sources = _write_keys(work, [[KEYS[k % len(KEYS)] for k in range(40)]])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = work.path("exact", f"buckets-{exact._HOST}-{int(gone.stdout)}-abc")
    live = work.path("exact", f"buckets-{exact._HOST}-{os.getpid()}-abc")
    other = work.path("exact", f"buckets-otherhost-{int(gone.stdout)}-abc")
    for folder in (dead, live, other):
        folder.mkdir(parents=True)
    exact_pass(str(work.root), sources, {"p": 1}, 1e-4)
    assert not dead.exists() and live.exists() and other.exists()


def test_damaged_exact_keys_are_named(tmp_path):
    work = WorkDir(tmp_path / "w")
    sources = _write_keys(work, [[KEYS[0], KEYS[1]]])
    work.sign_base(0).with_suffix(".exact").write_bytes(b"\0" * 20)  # one key and a bit
    with pytest.raises(InputError, match="fewer exact keys than rows"):
        exact_pass(str(work.root), sources, {"p": 1})


def _value(a: int, b: int) -> float:
    """A pair's value depends on the pair only (as a Jaccard does), in either order."""
    return ((a * b + a + b) % 97) / 97


@given(pairs=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=80),
       capacity=st.sampled_from([0, 5, 1000]), batch=st.integers(1, 9))
def test_the_memo_returns_what_was_put_for_either_order(pairs, capacity, batch):
    memo = PairMemo(capacity)
    for i in range(0, len(pairs), batch):
        u = np.array([p[0] for p in pairs[i:i + batch]], dtype=np.int64)
        v = np.array([p[1] for p in pairs[i:i + batch]], dtype=np.int64)
        found, _ = memo.get(u, v)
        new = ~found
        memo.put(u[new], v[new], np.array([_value(a, b) for a, b in zip(u[new], v[new])], dtype=np.float64))
        assert len(memo) <= capacity
    u = np.array([p[1] for p in pairs], dtype=np.int64)  # the other order
    v = np.array([p[0] for p in pairs], dtype=np.int64)
    found, value = memo.get(u, v)
    for a, b, f, x in zip(u.tolist(), v.tolist(), found.tolist(), value.tolist(), strict=True):
        if f:  # a memo may have forgotten (it starts over when full), never be wrong
            assert x == _value(a, b)
    if capacity >= len(pairs):
        assert found.all()


def test_pairs_past_32_bit_indices_are_never_found():
    memo = PairMemo(10)
    memo.put(np.array([1]), np.array([2]), np.array([0.5]))
    big = np.array([(1 << 32) + 1], dtype=np.int64)  # would pack to the key of (1, 2) modulo 2^64
    memo.put(big, np.array([2]), np.array([0.9]))  # not stored
    found, _ = memo.get(np.array([1, 1 << 32, 1]), np.array([2, 1, (1 << 32) + 2]))
    assert found.tolist() == [True, False, False] and len(memo) == 1


def test_a_shared_memo_is_dropped_when_the_files_change(tmp_path):
    f = tmp_path / "a.sig"
    f.write_bytes(b"x")
    memo = shared_memo([str(f)], (0.8, 128), 100)
    memo.put(np.array([1]), np.array([2]), np.array([0.5]))
    assert shared_memo([str(f)], (0.8, 128), 100) is memo
    assert shared_memo([str(f)], (0.7, 128), 100) is not memo  # another threshold: other verdicts
    f.unlink()
    f.write_bytes(b"yy")  # rewritten: another pool
    assert len(shared_memo([str(f)], (0.8, 128), 100)) == 0


def test_positional_reads_refuse_a_short_file(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"\0" * 8)
    out = np.empty(4, dtype=np.uint32)
    files = Files()
    with pytest.raises(InputError, match="shorter than its index says"):
        files.read_runs(path, np.array([0]), np.array([16]), out)
    files.close()


@pytest.fixture
def signed(tmp_path):
    """40 documents in three shards, signed with their sets: pairs of graded edits."""
    pool = tmp_path / "pool"
    graded_pairs_pool(pool, seed=7, length_step=30, edit_step=0.02)
    sievekit.dedupe([str(pool)], str(tmp_path / "o"), work_dir=str(tmp_path / "work"), stage="sign")
    return plan_sources(str(tmp_path / "work"), resolve_inputs([str(pool)]), [])


def test_memoised_checks_give_the_verdicts_of_fresh_ones(signed, monkeypatch):
    monkeypatch.setattr(verify_mod, "SETTLE_MIN_SHINGLES", 0)  # let signatures settle pairs too
    n = sum(s.rows for s in signed)
    rng = np.random.default_rng(3)
    u, v = rng.integers(0, n, 400), rng.integers(0, n, 400)
    store = SigStore(signed, 128)
    for t in (0.5, 0.8):
        fresh = [exact_check(ShingleSets(signed), store, t, u[i:i + 1], v[i:i + 1])[0] for i in range(len(u))]
        memo = PairMemo(10_000)
        sets = ShingleSets(signed, memo)
        first = exact_check(sets, store, t, u, v)
        again = exact_check(sets, store, t, v, u)  # all from the memo, in the other order
        assert first.tolist() == fresh == again.tolist()
        found, value = memo.get(u, v)
        assert found.all() and (((value >= 0) & (value <= 1)) | np.isin(value, [ABOVE, BELOW])).all()
        assert np.isin(value, [ABOVE, BELOW]).any()  # some pairs were settled by their signatures
        # a settled verdict is never taken for a Jaccard value
        assert np.allclose(sets.jaccard(u, v), ShingleSets(signed).jaccard(u, v))


def test_signatures_read_by_position_equal_the_mapped_ones(signed):
    store = SigStore(signed, 128)
    idx = np.array([0, 39, 5, 5, 20, 1], dtype=np.int64)
    assert np.array_equal(store.read(idx), store.gather(idx))
    store.close()


def test_a_pair_of_identical_sets_is_one_without_reading(signed):
    sets = ShingleSets(signed)
    a = np.arange(10, dtype=np.int64)
    assert sets.jaccard(a, a).tolist() == [1.0] * 10
    assert set_jaccard(np.empty(0, np.uint32), np.array([0]), np.empty(0, np.uint32), np.array([0])).tolist() == [1.0]
