"""The hashed n-gram featurizer: the reference's tokens and sha256 buckets (golden vectors), and the fast hash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.selectors import ngrams
from sievekit.selectors.ngrams import NgramFeaturizer, hash_strings_fast, sha256_bucket
from sievekit.selectors.wordpunct import split_words, token_spans, word_punct_pattern

# A copy of ../shared/golden/dsir_hashed_ngrams.json (data-selection 1.0.3, nltk 3.10.4), kept with the tests.
GOLDEN = json.loads((Path(__file__).parent / "dsir_hashed_ngrams.golden.json").read_text(encoding="utf-8"))
FEATURIZE = GOLDEN["featurize"]


def test_sha256_buckets_match_the_reference():
    for case in GOLDEN["hash"]:
        assert sha256_bucket(case["s"], case["B"]) == case["bucket"], case


@pytest.mark.parametrize("case", FEATURIZE, ids=lambda c: repr(c["text"][:20]))
def test_tokens_match_the_reference(case):
    assert NgramFeaturizer().tokenize(case["text"]) == case["tokens"]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sha256_count_vectors_match_the_reference(order):
    feats = NgramFeaturizer(buckets=10000, order=order, hash="sha256").featurize([c["text"] for c in FEATURIZE])
    dense = feats.dense()
    for i, case in enumerate(FEATURIZE):
        expected = {int(k): v for k, v in case[f"n{order}_B10000"].items()}
        got = {int(b): int(dense[i, b]) for b in np.flatnonzero(dense[i])}
        assert got == expected, case["text"]
        assert feats.lengths()[i] == case[f"n{order}_sum"]


def test_tokenizer_follows_the_regex_engine_classes():
    pattern = word_punct_pattern()
    # Combining marks and the zero-width joiner are word characters; superscripts and \x1c are not.
    assert pattern.findall("cafe\u0301 a\u200db x\u00b2") == ["cafe\u0301", "a\u200db", "x", "\u00b2"]
    assert pattern.findall("a\x1cb") == ["a", "\x1c", "b"]
    assert pattern.findall("\u24b6\u24b7 z") == ["\u24b6\u24b7", "z"]
    assert pattern.findall("a\u3000b\tc\n") == ["a", "b", "c"]


def test_hand_counted_bigrams():
    text = "Hello, world!!! a"
    feats = NgramFeaturizer(buckets=1000, order=2, hash="sha256").featurize([text])
    grams = ["hello", ",", "world", "!!!", "a", "hello ,", ", world", "world !!!", "!!! a"]
    assert feats.buckets.tolist() == [sha256_bucket(g, 1000) for g in grams]
    assert feats.indptr.tolist() == [0, 9]


def test_lowercase_option_keeps_case():
    assert NgramFeaturizer(lowercase=False).tokenize("Hello World") == ["Hello", "World"]
    assert NgramFeaturizer().tokenize("Hello World") == ["hello", "world"]


def test_ngrams_never_span_documents():
    f = NgramFeaturizer(buckets=4096, hash="fast")
    apart, joined = f.featurize(["a b", "c d"]), f.featurize(["a b c d"])
    assert apart.lengths().tolist() == [3, 3]
    assert joined.lengths().tolist() == [7]
    assert set(apart.buckets.tolist()) < set(joined.buckets.tolist())  # joined adds the bigram "b c"


@pytest.mark.parametrize("hash_name", ["fast", "sha256"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_batching_does_not_change_features(hash_name, order):
    texts = ["def f(x): return x", "", "word", "The cat sat on the mat.", "x y z w v"]
    together = NgramFeaturizer(buckets=997, order=order, hash=hash_name).featurize(texts)
    alone = [NgramFeaturizer(buckets=997, order=order, hash=hash_name).featurize([t]) for t in texts]
    assert together.buckets.tolist() == [b for a in alone for b in a.buckets.tolist()]
    assert together.lengths().tolist() == [int(a.lengths()[0]) for a in alone]


def test_memo_reset_does_not_change_features(monkeypatch):
    texts = ["alpha beta gamma", "beta gamma delta", "alpha alpha"]
    monkeypatch.setattr(ngrams, "MAX_MEMO_NGRAMS", 4)
    f = NgramFeaturizer(hash="sha256")
    expected = NgramFeaturizer(hash="sha256").featurize(texts).buckets.tolist()
    assert [b for _ in range(2) for t in texts for b in f.featurize([t]).buckets.tolist()] == expected * 2


def test_csr_matches_dense():
    feats = NgramFeaturizer(buckets=50).featurize(["a a a b", "", "b c b c", "d"])
    indptr, indices, counts = feats.to_csr()
    dense = np.zeros((4, 50), dtype=np.int64)
    for row in range(4):
        dense[row, indices[indptr[row]:indptr[row + 1]]] = counts[indptr[row]:indptr[row + 1]]
    assert np.array_equal(dense, feats.dense())
    assert np.array_equal(feats.totals(), feats.dense().sum(axis=0))
    weights = np.linspace(-1, 1, 50)
    assert np.allclose(feats.dot(weights), feats.dense() @ weights)


def test_fast_hash_is_stable_across_processes():
    tokens = ["alice", "é", "日本語", "x" * 300, "a\u200db"]
    here = hash_strings_fast(tokens).tolist()
    code = ("import json,sys; from sievekit.selectors.ngrams import hash_strings_fast as h; "
            "print(json.dumps(h(json.loads(sys.argv[1])).tolist()))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(tokens)], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert json.loads(out.stdout) == here
    assert len(set(here)) == len(here)


def test_fast_buckets_spread_evenly():
    tokens = [f"tok{i}" for i in range(50_000)]
    buckets = NgramFeaturizer(buckets=100, order=1).featurize([" ".join(tokens)]).buckets
    counts = np.bincount(buckets, minlength=100)
    # 500 expected per bucket; a uniform hash stays within +-25% (about 5.6 standard deviations).
    assert counts.min() > 375 and counts.max() < 625


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"buckets": 0}, "buckets must be within"), ({"buckets": (1 << 20) + 1}, "buckets must be within"),
    ({"order": 0}, "order must be within"), ({"order": 6}, "order must be within"), ({"hash": "md5"}, "hash must"),
])
def test_invalid_parameters_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NgramFeaturizer(**kwargs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab c,.!\u00e9\u0301\n"), max_size=12), max_size=6),
       st.integers(1, 3))
def test_occurrence_count_formula(texts, order):
    f = NgramFeaturizer(buckets=64, order=order)
    feats = f.featurize(texts)
    n = np.array([len(f.tokenize(t)) for t in texts], dtype=np.int64)
    expected = sum(np.maximum(n - k, 0) for k in range(order)) if texts else np.zeros(0)
    assert feats.lengths().tolist() == list(expected)
    assert ((feats.buckets >= 0) & (feats.buckets < 64)).all()


def test_fast_unigram_bucket_is_the_hash_of_the_token():
    texts = ["Alice went, home", "", "日本語 é !!! \x1c", "x" * 70]
    f = NgramFeaturizer(buckets=1 << 20, order=1)
    tokens = [t for text in texts for t in f.tokenize(text)]
    assert f.featurize(texts).buckets.tolist() == [int(h) % (1 << 20) for h in hash_strings_fast(tokens)]


@pytest.mark.parametrize("hash_name", ["fast", "sha256"])
def test_features_depend_only_on_the_token_sequence(hash_name):
    f = NgramFeaturizer(buckets=1 << 20, order=3, hash=hash_name)
    one = f.featurize(["Hello,world  (x)\tcafé"])
    other = f.featurize(["hello , world ( x )\ncafé  "])
    assert one.buckets.tolist() == other.buckets.tolist()
    assert len(one.buckets) == 7 + 6 + 5


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aZ_9 ,.(\t\n\x1c\x1f\x0b\u00e9\u0301\u00b2\u200d\U0001f642\u3000"),
                        max_size=16), max_size=8))
def test_vectorised_spans_equal_the_regex_tokens(texts):
    spans = token_spans(texts)
    assert spans.tokens() == [t for doc in split_words(texts) for t in doc]
    assert spans.n_tokens.tolist() == [len(doc) for doc in split_words(texts)]


class _CollidingHash:
    """Every range hashes to 0: all n-grams of a batch fall into one group."""

    def prefix(self, buf):
        return np.zeros(len(buf) + 1, dtype=np.uint64)

    def ranges(self, prefix, starts, ends):
        return np.zeros(len(starts), dtype=np.uint64)


def test_sha256_buckets_survive_collisions_of_the_grouping_hash(monkeypatch):
    texts = [c["text"] for c in FEATURIZE]
    expected = NgramFeaturizer(hash="sha256").featurize(texts).buckets.tolist()
    monkeypatch.setattr(ngrams, "_HASH", _CollidingHash())
    assert NgramFeaturizer(hash="sha256").featurize(texts).buckets.tolist() == expected


@pytest.mark.parametrize("hash_name", ["fast", "sha256"])
def test_chunking_long_batches_does_not_change_features(monkeypatch, hash_name):
    texts = [c["text"] for c in FEATURIZE] * 3
    whole = NgramFeaturizer(hash=hash_name).featurize(texts)
    monkeypatch.setattr(ngrams, "CHUNK_CHARS", 40)
    chunked = NgramFeaturizer(hash=hash_name).featurize(texts)
    assert chunked.indptr.tolist() == whole.indptr.tolist()
    assert chunked.buckets.tolist() == whole.buckets.tolist()
    assert ngrams._chunk_bounds(np.array([30, 30, 50, 5]), 40) == [0, 1, 2, 3, 4]
    assert ngrams._chunk_bounds(np.array([10, 10, 10, 30]), 40) == [0, 3, 4]
