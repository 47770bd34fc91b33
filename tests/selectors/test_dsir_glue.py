"""DSIR's work on featurised batches (``HashedBatch``): lengths from the token counts, ``dot`` and ``totals`` by the
kernels or by numpy's bincount, the same values (``dot``: the same bits) either way and as the per-occurrence
document ids give them; and the array log of a shard's features, which scores as ``score_batch`` does."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.io.arraylog import write_log
from sievekit.selectors import ngram_jit, ngrams
from sievekit.selectors.dsir import DsirConfig, DsirSelector, _encode, read_features, score_log
from sievekit.selectors.hashed_batch import HashedBatch, compact_dtype
from sievekit.selectors.ngrams import NgramFeaturizer

_TEXT = (st.lists(st.sampled_from(["a", "B", " ", "\n", ",", "déf", "x(y)", "\u65e5\u672c", "ab ab ", "42"]),
                  max_size=40).map("".join)
         | st.text(max_size=30))


def _by_bincount(feats: HashedBatch, weights: np.ndarray) -> bytes:
    """The scores as the batch's old numpy code computed them: one bincount over every occurrence's document."""
    return np.bincount(feats.doc_ids, weights=weights[feats.bucket_ids], minlength=feats.n_docs).tobytes()


def _with_and_without_kernels(compute):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ngram_jit.ENV, raising=False)
        fast = compute()
        mp.setenv(ngram_jit.ENV, "0")
        slow = compute()
    return fast, slow


@settings(max_examples=120, deadline=None)
@given(st.lists(_TEXT, max_size=9), st.integers(1, 4), st.sampled_from([1, 7, 10000, 1 << 17]),
       st.sampled_from(["fast", "sha256"]), st.booleans(), st.sampled_from([1 << 21, 16]), st.integers(0, 2**32 - 1))
def test_kernels_and_numpy_agree_on_every_batch_value(texts, order, buckets, hash_name, compact, chunk_chars, seed):
    weights = np.random.default_rng(seed).normal(size=buckets)
    weights[::3] = -weights[::3] * 1e-9  # terms of very different sizes: the order of the additions shows
    featurizer = NgramFeaturizer(buckets=buckets, order=order, hash=hash_name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ngrams, "CHUNK_CHARS", chunk_chars)  # 16: a batch of many chunks, each its own layout

        def compute():
            feats = featurizer.featurize(texts, compact=compact)
            cut = len(texts) // 2
            return (feats, feats.dot(weights).tobytes(), feats.totals(), feats.lengths(), feats.head(cut).totals(),
                    feats.head(cut).dot(weights).tobytes())

        fast, slow = _with_and_without_kernels(compute)
    feats = fast[0]
    assert feats.bucket_ids.dtype == (compact_dtype(buckets) if compact else np.int64)
    assert np.array_equal(feats.bucket_ids, slow[0].bucket_ids) and np.array_equal(feats.doc_ids, slow[0].doc_ids)
    assert fast[1] == slow[1] == _by_bincount(feats, weights)
    assert np.array_equal(fast[2], slow[2])
    assert fast[2].tolist() == np.bincount(feats.bucket_ids, minlength=buckets).tolist()
    assert fast[3].tolist() == slow[3].tolist() == np.bincount(feats.doc_ids, minlength=len(texts)).tolist()
    cut = len(texts) // 2
    assert fast[4].tolist() == slow[4].tolist() == np.bincount(feats.bucket_ids[feats.doc_ids < cut],
                                                               minlength=buckets).tolist()
    assert fast[5] == slow[5] == np.asarray(np.frombuffer(fast[1])[:cut]).tobytes()


def test_the_layout_gives_each_occurrence_its_document():
    # Two chunks ([0, 2) and [2, 3)), order 2: chunk 1's unigrams (2 + 1), its bigrams (1 + 0), then chunk 2's (3, 2).
    feats = HashedBatch(np.array([5, 6, 7, 8, 1, 2, 3, 4, 9]), np.array([2, 1, 3]), 2, 10, np.array([0, 2, 3]))
    assert feats.doc_ids.tolist() == [0, 0, 1, 0, 2, 2, 2, 2, 2]
    assert feats.lengths().tolist() == [3, 1, 5]
    assert feats.buckets.tolist() == [5, 6, 8, 7, 1, 2, 3, 4, 9]
    assert feats.dot(np.arange(10.0)).tolist() == [19.0, 7.0, 19.0]
    assert feats.totals().tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert feats.head(1).doc_ids.tolist() == [0, 0, 0] and feats.head(0).n_docs == 0


@pytest.mark.parametrize("bucket_ids, n_tokens, chunks", [
    ([1, 2], [2], [0, 1]),  # two tokens make three n-grams of order 1..2
    ([1, 2, 3], [2], [0]),  # the chunks stop short of the documents
    ([1, 2, 3], [2], [1, 1]),  # and must start at 0
    ([], [0, 0], [0, 2, 1, 2]),  # and never go back
])
def test_a_batch_that_does_not_fit_its_layout_is_refused(bucket_ids, n_tokens, chunks):
    with pytest.raises(ValueError, match="does not fit its layout"):
        HashedBatch(np.array(bucket_ids, dtype=np.int64), np.array(n_tokens, dtype=np.int64), 2, 10,
                    np.array(chunks, dtype=np.int64))


def test_dot_and_totals_refuse_arrays_of_another_size():
    feats = NgramFeaturizer(buckets=50).featurize(["a b c"])
    with pytest.raises(ValueError, match="49 weights for 50 buckets"):
        feats.dot(np.ones(49))
    with pytest.raises(ValueError, match="counts of 50 buckets cannot be added into 49"):
        feats.totals(out=np.zeros(49, dtype=np.int64))


@pytest.mark.parametrize("buckets", [10000, 1 << 17])
@pytest.mark.parametrize("jit", ["1", "0"])
def test_a_logged_shard_scores_as_score_batch_bit_for_bit(tmp_path, monkeypatch, buckets, jit):
    monkeypatch.setenv(ngram_jit.ENV, jit)
    monkeypatch.setattr(ngrams, "CHUNK_CHARS", 64)
    texts = ["def f(x): return x + 1 " * (i % 5) + "résumé" * (i % 3) for i in range(40)] + ["", "ü"]
    config = DsirConfig(buckets=buckets, min_length=3)
    sel = DsirSelector(config).fit(texts[:5], iter(texts))
    path = str(tmp_path / "shard.features")
    batches = [sel.featurizer.featurize(texts[i: i + 16], compact=True) for i in range(0, len(texts), 16)]
    with write_log(path) as log:
        for feats in batches:
            log.append(_encode(feats, buckets))
    back = list(read_features(path, buckets))
    for wrote, read in zip(batches, back, strict=True):
        assert read.bucket_ids.dtype == compact_dtype(buckets)
        assert np.array_equal(read.bucket_ids, wrote.bucket_ids) and np.array_equal(read.doc_ids, wrote.doc_ids)
    scores = score_log(path, config, sel.log_diff)
    assert scores.tobytes() == sel.score_batch(texts).tobytes()
    assert np.isneginf(scores[-2:]).all() and np.isfinite(scores[1:5]).all()


def test_texts_that_lowercase_to_ascii_featurise_as_the_numpy_path_does():
    # The Kelvin sign lowercases to an ASCII "k"; the dotted capital I to "i" and a combining dot.
    texts = ["\u212aelvin scale", "\u0130stanbul", "plain ascii", "caf\u00e9 \u212a"]
    featurizer = NgramFeaturizer(buckets=1 << 20, order=2)
    fast, slow = _with_and_without_kernels(lambda: featurizer.featurize(texts))
    assert np.array_equal(fast.bucket_ids, slow.bucket_ids) and fast.n_tokens.tolist() == [2, 1, 2, 2]
    assert fast.bucket_ids[0] == featurizer.featurize(["kelvin"]).bucket_ids[0]
