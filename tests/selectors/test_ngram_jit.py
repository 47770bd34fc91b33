"""The compiled featurizer (numba, the ``fast`` extra) against the numpy path: the same tokens, buckets, counts
and scores, bit for bit, on any Unicode text; and the numpy path alone when the kernels are switched off."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.selectors import ngram_jit
from sievekit.selectors.classifier import ClassifierConfig, ClassifierSelector
from sievekit.selectors.features import LOG_TABLE_SIZE, Features, tf_scores
from sievekit.selectors.ngrams import NgramFeaturizer

pytest.importorskip("numba")

_PIECE = st.sampled_from(
    ["a", "Z", "_", "9", " ", "\t", "\n", ",", "(", "\x1c", "\x85", "\xa0", "\u3000", "\u00e9", "\u0301", "\u00b2",
     "\u200d", "\u0130", "\u01c5", "\ufb01", "\U0001f642", "\U00020000", "\U000e01ef", "\U000e01f0", "\ud800",
     "\udfff", "Ab", "ab ab ab ", "x=1;", "AB", "def ", "self", "))", " 42 ", "\u65e5\u672c"])
# Texts from tricky pieces, from any character of the Basic Multilingual Plane (the smaller class table), from any
# character at all; long enough, at times, for more than 32 distinct buckets (the radix sort's path).
_TEXT = (st.lists(_PIECE, max_size=150).map("".join)
         | st.lists(st.characters(max_codepoint=0xFFFF) | _PIECE, max_size=60).map("".join)
         | st.lists(st.characters() | _PIECE, max_size=60).map("".join))


def _both(monkeypatch, compute):
    """``compute()`` with the kernels and with the numpy path."""
    monkeypatch.delenv(ngram_jit.ENV, raising=False)
    assert ngram_jit.kernels() is not None
    fast = compute()
    monkeypatch.setenv(ngram_jit.ENV, "0")
    assert ngram_jit.kernels() is None
    slow = compute()
    monkeypatch.delenv(ngram_jit.ENV)
    return fast, slow


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, max_size=7), st.integers(1, 3), st.sampled_from([1 << 20, 1000, 64, 1]), st.booleans())
def test_compiled_features_equal_the_numpy_features(texts, order, buckets, lowercase):
    f = NgramFeaturizer(buckets=buckets, order=order, lowercase=lowercase)
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both(mp, lambda: (f.featurize(texts), f.counts(texts)))
    assert np.array_equal(fast[0].doc_ids, slow[0].doc_ids)
    assert np.array_equal(fast[0].bucket_ids, slow[0].bucket_ids)
    for a, b in zip(fast[1], slow[1]):
        assert a.dtype == b.dtype == np.int64
        assert np.array_equal(a, b)
    assert [a.tolist() for a in slow[1]] == [a.tolist() for a in slow[0].to_csr()]


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, max_size=7), st.integers(1, 3), st.sampled_from([1 << 20, 1000, 64]), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_compiled_scores_equal_the_numpy_scores_bit_for_bit(texts, order, buckets, lowercase, seed):
    f = NgramFeaturizer(buckets=buckets, order=order, lowercase=lowercase)
    weights = np.random.default_rng(seed).normal(size=buckets).astype(np.float32)
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both(mp, lambda: (tf_scores(f, texts, weights), tf_scores(f, texts, weights.astype(np.float64)),
                                        Features.from_texts(f, texts)))
    assert fast[0].tobytes() == slow[0].tobytes() == fast[1].tobytes() == slow[1].tobytes()
    assert slow[0].tobytes() == slow[2].dot(weights.astype(np.float64)).tobytes()
    for name in ("indptr", "indices", "values"):
        assert getattr(fast[2], name).tobytes() == getattr(slow[2], name).tobytes()


def test_counts_past_the_log_table_are_scored_the_numpy_way(monkeypatch):
    # One bucket counted LOG_TABLE_SIZE + 5 times in the second text: the kernel hands that text back.
    texts = ["a b", "x " * (LOG_TABLE_SIZE + 5) + "y", ""]
    f = NgramFeaturizer(buckets=1 << 20, order=2, lowercase=False)
    weights = np.linspace(-1, 1, f.buckets).astype(np.float32)
    fast, slow = _both(monkeypatch, lambda: tf_scores(f, texts, weights))
    assert fast.tobytes() == slow.tobytes()
    indptr, _, counts = f.counts(texts)
    assert indptr.tolist() == [0, 3, 7, 7]  # a, b, "a b"; x, y, "x x", "x y"; nothing
    assert sorted(counts[3:7].tolist()) == [1, 1, LOG_TABLE_SIZE + 4, LOG_TABLE_SIZE + 5]
    assert np.isfinite(fast).all() and fast[2] == 0.0


def test_a_classifier_scores_the_same_with_and_without_the_kernels(monkeypatch):
    sel = ClassifierSelector(ClassifierConfig(negatives_ratio=1, pu_top_fraction=0))
    pytest.importorskip("sklearn")
    sel.fit(["def f(x): return x", "def g(y): return y", "class A: pass"],
            iter(["the cat sat", "a dog ran", "Ünïcödé text 🙂 here"]))
    texts = ["def h(z): return z", "the cow sat", "", "🙂 ünï", "return return return x"]
    fast, slow = _both(monkeypatch, lambda: sel.score_batch(texts))
    assert fast.tobytes() == slow.tobytes()
    assert fast[0] > 0 > fast[1]


def test_the_environment_switch_and_a_missing_numba_fall_back(monkeypatch):
    monkeypatch.setenv(ngram_jit.ENV, "0")
    assert ngram_jit.kernels() is None
    monkeypatch.delenv(ngram_jit.ENV)
    assert ngram_jit.kernels() is not None
    monkeypatch.setattr(ngram_jit, "_import_kernels", lambda: None)  # as where numba does not import
    f = NgramFeaturizer(buckets=64, order=2)
    assert f.counts(["a b a"])[2].tolist() == f.featurize(["a b a"]).to_csr()[2].tolist()
