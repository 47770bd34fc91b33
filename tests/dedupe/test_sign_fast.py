"""The fast sign path gives the same words, word hashes and signatures as the plain rules it replaced.

References kept here, written as plainly as possible: ``normalise`` (one ``re.sub``), a word hash computed
in Python integers, and the one-attempt-at-a-time densification loop the probe table replaced.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sievekit.duplicates.hashing import mix64, odd_multiplier, seed_key
from sievekit.duplicates.minhash import Signer, _densify, oph_signatures
from sievekit.duplicates.normalize import Tokenizer, normalise, normalise_fast, word_codepoints

_S32 = np.uint64(32)
_MASK = (1 << 64) - 1
# Text mixing ASCII, Latin, Greek (final sigma), Turkish dotted I, CJK, emoji, combining marks, lone surrogates.
_TEXT = st.text(alphabet=st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.sampled_from(list("aZ_9 -.,\n\tΣσςİıßǅ東京。、😀\u0301\u200d\ud800\udfff")),
), max_size=60)


def _mix(x: int) -> int:
    return int(mix64(np.array([x], dtype=np.uint64))[0])


def reference_word_hashes(text: str, seed: int) -> list[int]:
    """Each word of ``normalise(text)``: ``mix64(sum b_j q^j ^ key ^ len << 48)`` in Python integers."""
    q, key = int(odd_multiplier(seed, "token-poly")), int(seed_key(seed, "token"))
    out = []
    for word in normalise(text).split():
        poly = sum(b * pow(q, j, 1 << 64) for j, b in enumerate(word)) & _MASK
        out.append(_mix(poly ^ key ^ (len(word) << 48)))
    return out


def reference_densify(sig: np.ndarray, filled: np.ndarray, num_perm: int, key: np.uint64) -> None:
    """Optimal densification one probe at a time (the loop ``ProbeTable`` replaced)."""
    empty = np.flatnonzero(~filled)
    source = sig.copy()
    row_base = empty - empty % num_perm
    probe = mix64((empty % num_perm).astype(np.uint64) << _S32 ^ key)
    attempt = 0
    while len(empty):
        attempt += 1
        probe = mix64(probe + np.uint64(attempt))
        cand = row_base + (((probe >> _S32) * np.uint64(num_perm)) >> _S32).astype(np.int64)
        hit = filled[cand]
        sig[empty[hit]] = source[cand[hit]]
        miss = ~hit
        empty, row_base, probe = empty[miss], row_base[miss], probe[miss]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_fast_normalisation_keeps_the_words_of_the_re_rule(text):
    assert normalise_fast(text).split() == normalise(text).split()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TEXT, min_size=1, max_size=6), st.integers(0, 3))
def test_batch_word_hashes_equal_the_plain_polynomial(texts, seed):
    tokens = Tokenizer(seed)(texts)
    for i, text in enumerate(texts):
        assert tokens.hashes[tokens.doc == i].tolist() == reference_word_hashes(text, seed)
    assert tokens.counts.tolist() == [len(normalise(t).split()) for t in texts]


def test_word_table_is_re_word_class_on_every_plane():
    import re

    table = word_codepoints(0x110000)
    rng = np.random.default_rng(0)
    for cp in [*range(0x300), *rng.integers(0x300, 0x110000, 5000).tolist()]:
        assert bool(table[cp]) == bool(re.fullmatch(r"\w", chr(cp))), hex(cp)
    assert (word_codepoints(0x10000) == table[:0x10000]).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.integers(1, 12), st.sampled_from([0.0, 0.004, 0.05, 0.5, 0.99]), st.integers(0, 2**32))
def test_probe_table_densification_equals_the_probe_loop(num_perm, n_docs, density, seed):
    rng = np.random.default_rng(seed)
    filled = rng.random(n_docs * num_perm) < density
    filled.reshape(n_docs, num_perm)[np.arange(n_docs), rng.integers(0, num_perm, n_docs)] = True  # >= 1 each
    sig = rng.integers(0, 2**32 - 1, n_docs * num_perm, dtype=np.uint32)
    sig[~filled] = np.iinfo(np.uint32).max
    key = seed_key(seed % 5, "densify")
    fast, slow = sig.copy(), sig.copy()
    _densify(fast, filled, num_perm, key)
    reference_densify(slow, filled, num_perm, key)
    assert (fast == slow).all()
    assert (fast != np.iinfo(np.uint32).max).all()  # every empty slot took a filled one's value


def test_one_shingle_documents_fill_every_slot_from_that_shingle():
    sig = oph_signatures(np.array([12345 << 32 | 99], dtype=np.uint64), np.array([0]), 1, 256)
    assert set(sig.ravel().tolist()) == {99}


@pytest.mark.parametrize("seed, digest", [(0, "ec1042bc1c611854"), (3, "1f6b1881d206ab34")])
def test_signatures_sets_and_exact_keys_are_those_of_the_previous_release(seed, digest):
    """The digest was computed by the code before the fast path (commit d5b0541): the same shingles, the
    same signatures, so work directories and clusters made before stay valid."""
    texts = ["The quick brown fox — jumps over the lazy dog!", "Ünïcode wörds, 東京。大阪、京都 and ΣΑΣ σίσυφος",
             "x", "", "a b c d e f g h i j k l m n o p", "İstanbul 😀 emoji\ud800lone 123_456"]
    sig, exact, values, counts = Signer(num_perm=64, seed=seed).sign_with_sets(texts)
    raw = sig.tobytes() + exact.tobytes() + values.tobytes() + counts.tobytes()
    assert hashlib.blake2b(raw, digest_size=8).hexdigest() == digest
