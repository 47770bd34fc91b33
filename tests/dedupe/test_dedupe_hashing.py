"""Normalisation, word and shingle hashes: the rules, hand-checked, and stability across batches and processes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sievekit.duplicates.hashing import mix64
from sievekit.duplicates.normalize import Tokenizer, normalise
from sievekit.duplicates.shingles import Shingler


@pytest.mark.parametrize("text, words", [
    ("Hello, World!", [b"hello", b"world"]),
    ("snake_case and-dash 3.14", [b"snake_case", b"and", b"dash", b"3", b"14"]),
    ("Ünïcode — wörds,here", ["ünïcode".encode(), "wörds".encode(), b"here"]),
    ("東京。大阪、京都", ["東京".encode(), "大阪".encode(), "京都".encode()]),  # CJK punctuation separates
    ("  \n\t ", []),
])
def test_normalise_lowercases_and_splits_on_every_non_word_character(text, words):
    assert normalise(text).split() == words


def test_mix64_is_a_bijection_on_a_sample():
    x = np.arange(100_000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert len(np.unique(mix64(x))) == len(x)


def test_word_hash_does_not_depend_on_position_or_batch():
    tok = Tokenizer(seed=1)
    alone = tok(["alpha beta"])
    among = tok(["gamma delta epsilon", "x", "alpha beta"])
    assert alone.hashes.tolist() == among.hashes[among.doc == 2].tolist()
    assert (alone.exact[0] == among.exact[2]).all()
    assert among.counts.tolist() == [3, 1, 2]


def test_word_hashes_depend_on_the_seed_and_the_word():
    a, b = Tokenizer(seed=1)(["alpha alpha beta"]), Tokenizer(seed=2)(["alpha alpha beta"])
    assert a.hashes[0] == a.hashes[1] != a.hashes[2]
    assert a.hashes[0] != b.hashes[0]


def test_exact_key_ignores_case_spacing_and_punctuation_only():
    ex = Tokenizer()(["The cat, sat.", "the   CAT sat", "the cat sat on"]).exact
    assert (ex[0] == ex[1]).all()
    assert not (ex[0] == ex[2]).all()


def test_hashes_are_stable_across_processes():
    code = ("from sievekit.duplicates.minhash import Signer; "
            "s, e = Signer(num_perm=16, seed=5).sign(['a b c d e f g']);"
            "print(s.tolist(), e.tolist())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(i), "PATH": ""}).stdout for i in (1, 2)}
    assert len(outs) == 1


def test_shingles_hand_checked_counts():
    tok = Tokenizer()
    tokens = tok(["one two three four five six seven", "one two three", "", "one two three four five"])
    hashes, doc = Shingler(ngram=5)(tokens)
    assert np.bincount(doc, minlength=4).tolist() == [3, 1, 1, 1]  # short and empty documents: one shingle
    first = hashes[doc == 0]
    assert hashes[doc == 3][0] in first  # the same five words give the same shingle in another document


def test_shingles_depend_on_word_order():
    tokens = Tokenizer()(["a b c", "c b a"])
    hashes, doc = Shingler(ngram=3)(tokens)
    assert hashes[doc == 0][0] != hashes[doc == 1][0]


def test_shingler_rejects_a_zero_ngram():
    with pytest.raises(ValueError, match="ngram"):
        Shingler(ngram=0)
