"""The hashed n-gram featurizer: the reference's tokens and sha256 buckets (golden vectors), and the fast hash."""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.selectors import ngram_sha256, ngrams
from sievekit.selectors.ngrams import NgramFeaturizer, hash_strings_fast, sha256_bucket
from sievekit.selectors.wordpunct import codepoint_classes, split_words, token_spans, word_punct_pattern

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
    monkeypatch.setattr(ngram_sha256, "MAX_MEMO_NGRAMS", 4)
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


# -- the vectorised featurizer against an independent model and against the pre-rewrite version ----------------------

_M64 = (1 << 64) - 1
_FNV = 0x100000001B3


def _mix64_int(x):
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _token_hash_int(token):
    """The fast hash of one token, in Python integers: sum_j b_j * FNV**j mod 2**64, length mixed in, splitmix64."""
    data = token.encode("utf-8", "surrogatepass")
    poly = sum(b * pow(_FNV, j, 1 << 64) for j, b in enumerate(data)) & _M64
    return _mix64_int(poly ^ ((len(data) * 0xD6E8FEB86659FD93) & _M64))


def _reference_features(texts, buckets, order, lowercase):
    """(doc_ids, bucket_ids, csr) of one chunk from the regex tokens and Python integers, one n-gram at a time."""
    docs, ids = [], []
    token_hashes = [[_token_hash_int(t) for t in doc] for doc in split_words(texts, lowercase)]
    for k in range(1, order + 1):
        seed = (0x9E3779B97F4A7C15 * (k + 1)) % (1 << 64)
        for d, hashes in enumerate(token_hashes):
            for i in range(len(hashes) - k + 1):
                key = hashes[i]
                for j in range(1, k):
                    key = _mix64_int((key * _FNV + hashes[i + j] + seed) & _M64)
                docs.append(d)
                ids.append(key % buckets)
    rows = [Counter(b for d, b in zip(docs, ids) if d == row) for row in range(len(texts))]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = [b for r in rows for b in sorted(r)]
    counts = [r[b] for r in rows for b in sorted(r)]
    return docs, ids, (indptr.tolist(), indices, counts)


_TRICKY = st.sampled_from(
    ["a", "Z", "_", "9", " ", "\t", "\n", ",", "(", "\x1c", "\x85", "\xa0", "\u3000", "\u00e9", "\u0301", "\u00b2",
     "\u200d", "\u0130", "\u01c5", "\ufb01", "\U0001f642", "\U00020000", "\U000e01ef", "\U000e01f0", "\ud800"])
# Texts from the tricky characters alone, from any character of the Basic Multilingual Plane (a batch without
# astral characters uses the smaller class table), and from any character at all; lone surrogates included.
_TEXT = (st.text(_TRICKY, max_size=24)
         | st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]) | _TRICKY, max_size=24)
         | st.text(st.characters(exclude_categories=["Cs"]) | _TRICKY, max_size=24))


@settings(max_examples=120, deadline=None)
@given(st.lists(_TEXT, max_size=6), st.integers(1, 3), st.sampled_from([1 << 20, 1000, 64, 1]),
       st.booleans())
def test_vectorised_features_equal_a_per_token_model(texts, order, buckets, lowercase):
    feats = NgramFeaturizer(buckets=buckets, order=order, lowercase=lowercase).featurize(texts)
    docs, ids, csr = _reference_features(texts, buckets, order, lowercase)
    assert feats.doc_ids.tolist() == docs
    assert feats.bucket_ids.tolist() == ids
    assert [a.tolist() for a in feats.to_csr()] == list(csr)
    assert all(a.dtype == np.int64 for a in (feats.doc_ids, feats.bucket_ids, *feats.to_csr()))


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, max_size=8), st.booleans())
def test_vectorised_spans_equal_the_regex_tokens_on_any_text(texts, lowercase):
    spans = token_spans(texts, lowercase)
    expected = split_words(texts, lowercase)
    assert spans.tokens() == [t for doc in expected for t in doc]
    assert spans.n_tokens.tolist() == [len(doc) for doc in expected]
    assert spans.doc_of.tolist() == [d for d, doc in enumerate(expected) for _ in doc]


def test_codepoint_classes_agree_with_the_pattern():
    pattern = word_punct_pattern()
    word, other = re.compile(pattern.pattern.split("|")[0]), re.compile(pattern.pattern.split("|")[1])
    table = codepoint_classes(astral=True)
    assert np.array_equal(codepoint_classes(astral=False), table[:0x10000])
    for cp in [*range(0x10000), *range(0x10000, 0x110000, 61), *range(0x1F100, 0x1F1A0), *range(0xE0000, 0xE0200)]:
        ch = chr(cp)
        expected = 1 if word.fullmatch(ch) else 2 if other.fullmatch(ch) else 0
        assert table[cp] == expected, hex(cp)


def _pinned_corpus():
    rng = random.Random(20261127)
    vocab = ["def", "self", "return", "x", "(", ")", "):", "==", "Hello", "WORLD", "café", "naïve", "İstanbul", "ǅ",
             "日本語", "x²", "a\u200db", "e\u0301", "\U0001F642", "\U00020000", "\ud800", "\x1c", "\u00a0", "\u3000",
             "_", "42", "--", "«»", "ﬁ", "\t", "\n", " ", "  "]
    texts = [c["text"] for c in FEATURIZE]
    for _ in range(400):
        texts.append("".join(rng.choice(vocab) + rng.choice(["", " ", " ", "\n"]) for _ in range(rng.randint(0, 60))))
    return texts


def _digest(feats):
    h = hashlib.sha256()
    for a in (feats.doc_ids, feats.bucket_ids, *feats.to_csr()):
        h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
    return h.hexdigest()[:16]


# Recorded with the featurizer of commit ccc89a4 (before the vectorised tokenizer and CSR): the rewrite must give
# the same per-occurrence ids and CSR rows, bit for bit (whole corpus; 37 texts from 0; 37 texts from 100).
PINNED = [
    ({"buckets": 1 << 20, "order": 2, "lowercase": False, "hash": "fast"},
     ["079a3fbff569e54e", "64f481fb3b7e2c8a", "540313c8284b1038"]),
    ({"buckets": 10000, "order": 2, "lowercase": True, "hash": "fast"},
     ["037311542e0a55a0", "d507d5b245c12faf", "34d33b430230c5e2"]),
    ({"buckets": 997, "order": 3, "lowercase": False, "hash": "fast"},
     ["5185486249737113", "aa3a010278003502", "aad888b7ea0d4c2f"]),
    ({"buckets": 10000, "order": 3, "lowercase": True, "hash": "sha256"},
     ["463c6d6f96c225e3", "4a046cb5cceae309", "3935b7c100b71a80"]),
]


@pytest.mark.parametrize(("config", "digests"), PINNED, ids=["classifier", "dsir", "order3", "sha256"])
def test_features_equal_the_pre_rewrite_featurizer(config, digests):
    texts = _pinned_corpus()
    f = NgramFeaturizer(**config)
    assert [_digest(f.featurize(t)) for t in (texts, texts[0:37], texts[100:137])] == digests


def test_hash_blocks_do_not_change_features(monkeypatch):
    texts = ["x" * 300 + " short tokens, here (and) there", "", "日本語 é " * 40, "a b c d e f g"]
    whole = NgramFeaturizer(order=3).featurize(texts)
    monkeypatch.setattr(ngrams, "HASH_BLOCK_BYTES", 7)  # tokens straddle blocks, one is longer than many blocks
    blocked = NgramFeaturizer(order=3).featurize(texts)
    assert blocked.bucket_ids.tolist() == whole.bucket_ids.tolist()


def test_csr_with_keys_wider_than_32_bits():
    # 4100 documents x 2**20 buckets: (doc, bucket) keys no longer fit 32 bits and take the 64-bit path.
    texts = [f"w{i} w{i % 7} x{i % 3} w{i}" for i in range(4100)]
    feats = NgramFeaturizer(buckets=1 << 20, order=2).featurize(texts)
    indptr, indices, counts = feats.to_csr()
    assert indptr[-1] == len(indices) == len(counts)
    for row in (0, 1, 4098, 4099):
        expected = Counter(feats.bucket_ids[feats.doc_ids == row].tolist())
        got = dict(zip(indices[indptr[row]:indptr[row + 1]].tolist(), counts[indptr[row]:indptr[row + 1]].tolist()))
        assert got == expected
        assert indices[indptr[row]:indptr[row + 1]].tolist() == sorted(expected)
    assert int(counts.sum()) == len(feats.bucket_ids)


@pytest.mark.parametrize("size", [1, 2, 1 << 20, 997, 10000, (1 << 20) - 1])
def test_vectorised_modulo_equals_numpy_remainder(size):
    x = np.random.default_rng(size).integers(0, 1 << 64, 5000, dtype=np.uint64, endpoint=False)
    x[:3] = [0, (1 << 64) - 1, size]
    expected = x % np.uint64(size)
    assert np.array_equal(ngrams.unsigned_mod(x.copy(), size), expected)
    assert np.array_equal(ngrams.unsigned_mod(x.astype(np.uint32), size), x.astype(np.uint32) % np.uint32(size))


def test_the_planes_the_class_tables_skip_hold_no_assigned_code_point():
    import unicodedata

    from sievekit.selectors.wordpunct import _UNASSIGNED_PLANES

    lo, hi = _UNASSIGNED_PLANES
    assert {unicodedata.category(chr(cp)) for cp in range(lo, hi + 1)} == {"Cn"}
