"""Exact verification from the shingle sets the sign stage writes: right Jaccards, any chunking, clear refusals."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from dedupe_corpus import edit, graded_pairs_pool, make_doc, write_jsonl

import sievekit
from sievekit.duplicates import DedupeConfig
from sievekit.duplicates import verify as verify_mod
from sievekit.duplicates.minhash import Signer
from sievekit.duplicates.sources import plan_sources
from sievekit.duplicates.verify import ShingleSets, set_jaccard
from sievekit.errors import SievekitError
from sievekit.io import resolve_inputs


def shingles(text: str) -> set[tuple[str, ...]]:
    w = re.findall(r"\w+", text.lower())
    return {tuple(w[i:i + 5]) for i in range(len(w) - 4)} if len(w) >= 5 else {tuple(w)}


def test_set_jaccard_matches_python_sets():
    rng = np.random.default_rng(0)
    sets = [np.unique(rng.integers(0, 60, rng.integers(0, 40))).astype(np.uint32) for _ in range(50)]
    pairs = [(i, j) for i in range(50) for j in range(50)]
    a = np.concatenate([sets[i] for i, _ in pairs])
    b = np.concatenate([sets[j] for _, j in pairs])
    got = set_jaccard(a, np.array([len(sets[i]) for i, _ in pairs]), b, np.array([len(sets[j]) for _, j in pairs]))
    for (i, j), g in zip(pairs, got, strict=True):
        sa, sb = set(sets[i].tolist()), set(sets[j].tolist())
        assert g == pytest.approx(len(sa & sb) / len(sa | sb) if sa | sb else 1.0)


def test_signer_sets_are_the_shingle_sets():
    rng = random.Random(2)
    texts = [make_doc(rng, 50), "a b", "", "x y z w v u t"]
    _, _, values, counts = Signer(ngram=5).sign_with_sets(texts)
    assert counts.tolist() == [len(shingles(t)) for t in texts]
    assert np.all(np.diff(values[:counts[0]].astype(np.int64)) > 0)  # sorted, unique


@pytest.fixture
def signed(tmp_path):
    """A pool of 40 documents in three shards, signed: pairs of graded edits."""
    pool = tmp_path / "pool"
    texts = graded_pairs_pool(pool, seed=5, length_step=10, edit_step=0.01)
    work = tmp_path / "work"
    sievekit.dedupe([str(pool)], str(tmp_path / "o"), work_dir=str(work), stage="sign")
    shards = resolve_inputs([str(pool)])
    order = [t for s in range(3) for i, t in enumerate(texts) if i % 3 == s]
    return plan_sources(str(work), shards, []), order


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_shingle_sets_give_true_jaccard_in_any_chunking(signed, monkeypatch, chunk):
    sources, texts = signed
    monkeypatch.setattr(verify_mod, "CHUNK_VALUES", chunk)
    n = len(texts)
    u = np.repeat(np.arange(n), n)
    v = np.tile(np.arange(n), n)
    got = ShingleSets(sources).jaccard(u, v)
    sets = [shingles(t) for t in texts]
    want = [len(sets[a] & sets[b]) / len(sets[a] | sets[b]) for a, b in zip(u.tolist(), v.tolist(), strict=True)]
    assert np.allclose(got, want, atol=1e-3)  # 32-bit hashes: a false shared shingle is ~1e-5 likely here


def test_exact_verification_against_a_run_signed_for_sig_says_what_to_do(dup_pool, tmp_path):
    sievekit.dedupe([str(dup_pool)], str(tmp_path / "o1"), config=DedupeConfig(verify="sig"),
                    work_dir=str(tmp_path / "w1"))
    new = tmp_path / "new"
    new.mkdir()
    write_jsonl(new / "c.jsonl", [{"id": "n0", "text": "something else entirely, not seen before at all"}])
    with pytest.raises(SievekitError, match="--verify sig"):
        sievekit.dedupe([str(new)], str(tmp_path / "o2"), against=str(tmp_path / "w1"), work_dir=str(tmp_path / "w2"))
    res = sievekit.dedupe([str(new)], str(tmp_path / "o3"), config=DedupeConfig(verify="sig"),
                          against=str(tmp_path / "w1"), work_dir=str(tmp_path / "w3"))
    assert res.rows_out == 1


def test_switching_verify_on_a_work_dir_is_refused_not_mixed(dup_pool, tmp_path):
    sievekit.dedupe([str(dup_pool)], str(tmp_path / "o1"), config=DedupeConfig(verify="sig"),
                    work_dir=str(tmp_path / "w"))
    with pytest.raises(SievekitError, match="other sign parameters"):
        sievekit.dedupe([str(dup_pool)], str(tmp_path / "o2"), work_dir=str(tmp_path / "w"))


def test_a_member_that_misses_the_hub_gets_a_second_chance():
    """13 is near 5 and 9 but not near the hub 1: it still joins the cluster (no new group of one)."""
    from sievekit.duplicates.cluster import components, peel

    g, m = np.array([0, 0, 0, 0]), np.array([1, 5, 9, 13])
    u, v = peel(g, m, lambda a, b: ~((a == 1) & (b == 13)))
    assert sorted(zip(u.tolist(), v.tolist())) == [(1, 5), (1, 9), (5, 13), (9, 13)]
    assert components(u, v)[1].tolist() == [1, 1, 1, 1]
    u, v = peel(g, m, lambda a, b: ~((a == 1) & (b == 13)) & ~((a == 5) & (b == 13)))  # 9 still takes it
    assert (9, 13) in set(zip(u.tolist(), v.tolist()))


@pytest.mark.parametrize("t", [0.7, 0.8, 0.9])
def test_settled_counts_are_binomial_tails_below_the_error(t):
    from math import comb

    from sievekit.duplicates.verify import settled_counts

    lo, hi = settled_counts(t, 128, 1e-6)
    pmf = [comb(128, m) * t**m * (1 - t) ** (128 - m) for m in range(129)]
    assert sum(pmf[:lo + 1]) <= 1e-6 < sum(pmf[:lo + 2])
    assert sum(pmf[hi:]) <= 1e-6 < sum(pmf[hi - 1:])


def test_pairs_settled_by_their_signatures_get_the_same_clusters(tmp_path, monkeypatch):
    """Long documents (>= 4 shingles a slot) at graded edit rates: settling by signature changes nothing."""
    rng = random.Random(9)
    recs = []
    for k in range(8):
        base = make_doc(rng, 900)
        recs += [{"id": f"{k}-0", "text": base}] + [{"id": f"{k}-{r}", "text": edit(base, r / 200, rng)}
                                                     for r in (1, 4, 8, 12, 16, 24)]
    write_jsonl(tmp_path / "pool.jsonl", recs)
    for t in (0.7, 0.8):
        sievekit.dedupe([str(tmp_path / "pool.jsonl")], str(tmp_path / f"a{t}.jsonl"),
                        config=DedupeConfig(threshold=t))
        with monkeypatch.context() as m:
            m.setattr(verify_mod, "SETTLE_MIN_SHINGLES", 10**9)
            sievekit.dedupe([str(tmp_path / "pool.jsonl")], str(tmp_path / f"b{t}.jsonl"),
                            config=DedupeConfig(threshold=t))
        assert (tmp_path / f"a{t}.clusters.jsonl").read_text() == (tmp_path / f"b{t}.clusters.jsonl").read_text()
        assert (tmp_path / f"a{t}.jsonl").read_text() == (tmp_path / f"b{t}.jsonl").read_text()
