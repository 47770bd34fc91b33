"""Text normalisation and tokenisation for dedupe, vectorised over a batch.

The rule: lowercase, and every Unicode non-word character (anything ``\\w`` does not match) separates
words. ``normalise`` states it with one ``re.sub`` and is the reference; batches take faster paths with
the same words: ASCII texts a byte translation table, other texts a lookup of every code point in a table
of ``re``'s own ``\\w`` (built once per process from ``re`` itself, so the two agree by construction). Each
word is hashed once, as a polynomial over its bytes computed with one prefix sum over the batch's word
bytes, then mixed with a seeded key: no per-token Python code runs.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.hashing import U64, PowerTable, mix64, odd_multiplier, seed_key

_NON_WORD = re.compile(r"\W+")
_SPACE = 0x20
# ASCII bytes that \w does not match become spaces; bytes >= 0x80 are kept (the non-ASCII path has already
# turned non-word characters into spaces, so what is left there is part of a word).
_WORD_ASCII = {*range(ord("0"), ord("9") + 1), *range(ord("a"), ord("z") + 1), ord("_")}
_TO_SPACE = bytes(b if (b in _WORD_ASCII or b >= 0x80) else _SPACE for b in range(256))
# The same, lowercasing ASCII letters on the way: an ASCII text needs no str.lower() (a copy of the text).
_LOWER_TO_SPACE = bytes(b + 32 if 0x41 <= b <= 0x5A else _TO_SPACE[b] for b in range(256))


def normalise(text: str) -> bytes:
    """The normalised UTF-8 bytes of one text: lowercased, every non-word character turned into a space.

    Example:
        >>> normalise("Hello, World—again!").split()
        [b'hello', b'world', b'again']
    """
    low = text.lower()
    if not low.isascii():
        low = _NON_WORD.sub(" ", low)
    return low.encode("utf-8").translate(_TO_SPACE)


@functools.cache
def word_codepoints(top: int) -> npt.NDArray[np.bool_]:
    """Whether ``re``'s ``\\w`` matches each code point below ``top`` (0x10000: a few ms; 0x110000: ~0.3 s,
    built only when a text holds a code point beyond the Basic Multilingual Plane)."""
    every = "".join(map(chr, range(top)))
    marked = _NON_WORD.sub(lambda m: "\x00" * len(m.group()), every).encode("utf-32-le", "surrogatepass")
    word: npt.NDArray[np.bool_] = np.frombuffer(marked, dtype=np.uint32) != 0
    return word


def normalise_fast(text: str) -> bytes:
    """``normalise``'s words, separated by spaces (one per non-word character: runs are not squeezed)."""
    if text.isascii():
        return text.encode("ascii").translate(_LOWER_TO_SPACE)
    low = text.lower()
    if low.isascii():
        return low.encode("ascii").translate(_TO_SPACE)
    points = np.frombuffer(low.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    word = word_codepoints(0x10000 if int(points.max()) < 0x10000 else 0x110000)
    # lone surrogates are not word characters, so what is left encodes as UTF-8
    return np.where(word[points], points, np.uint32(_SPACE)).tobytes().decode("utf-32-le").encode("utf-8")


def exact_keys(hashes: U64, counts: npt.NDArray[np.int64]) -> U64:
    """128-bit exact-copy keys, ``(n, 2)`` uint64: blake2b of each document's sequence of word hashes.

    Two texts get the same key when their normalised word sequences are equal (up to a 64-bit word-hash
    collision), so copies that differ only in case, spacing or punctuation collapse in the exact pass.
    """
    ends = np.cumsum(counts).tolist()
    starts = [0] + ends[:-1]
    raw = np.ascontiguousarray(hashes).data.cast("B")  # slices of a memoryview are not copies
    spans = zip(starts, ends, strict=True)
    keys = b"".join(hashlib.blake2b(raw[8 * s:8 * e], digest_size=16).digest() for s, e in spans)
    return np.frombuffer(keys, dtype=np.uint64).reshape(-1, 2).copy()


@dataclass
class Tokens:
    """The words of a batch of documents, as seeded 64-bit hashes in document order.

    Attributes:
        hashes: one uint64 per word.
        doc: the document (0-based within the batch) of every word, non-decreasing.
        counts: the number of words of every document.
        exact: the 128-bit exact-copy key of every document, as ``(n, 2)`` uint64.
    """

    hashes: U64
    doc: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]
    exact: U64


class Tokenizer:
    """Hashes the words of batches of texts with a seeded, process-stable hash.

    Args:
        seed: the run's seed; a different seed gives independent word hashes.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._key = seed_key(seed, "token")
        q = odd_multiplier(seed, "token-poly")
        self._powers = PowerTable.of(q)
        self._inverse = PowerTable.of(np.uint64(pow(int(q), -1, 1 << 64)))

    def __call__(self, texts: Sequence[str]) -> Tokens:
        if not texts:
            empty = np.empty(0, dtype=np.int64)
            return Tokens(np.empty(0, dtype=np.uint64), empty, empty, np.empty((0, 2), dtype=np.uint64))
        normed = [normalise_fast(t) for t in texts]
        lengths = np.fromiter(map(len, normed), dtype=np.int64, count=len(normed))
        buf = np.frombuffer(b" ".join(normed), dtype=np.uint8)
        hashes, starts = self._word_hashes(buf)
        # a document's words are those starting before the next document's first byte: one search per
        # document (not one per word)
        doc_ends = np.cumsum(lengths + 1)
        counts = np.diff(np.searchsorted(starts, doc_ends), prepend=0).astype(np.int64)
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
        return Tokens(hashes, doc, counts, exact_keys(hashes, counts))

    def _word_hashes(self, buf: npt.NDArray[np.uint8]) -> tuple[U64, npt.NDArray[np.int64]]:
        word = np.zeros(len(buf) + 2, dtype=np.bool_)
        np.not_equal(buf, _SPACE, out=word[1:-1])
        # one pass over boolean edges finds both ends (start, end, start, end, ...): nonzero on bool is
        # several times faster than on the int8 of np.diff
        bounds = np.flatnonzero(word[1:] != word[:-1])
        starts, ends = bounds[0::2], bounds[1::2]
        n = len(buf)
        # prefix[i] = sum_{j<i} b_j q^j; a word [s, e) is (prefix[e] - prefix[s]) * q^-s = sum b_j q^(j - s):
        # the same value wherever the word sits (q is odd, so q^-1 exists modulo 2**64).
        prefix = np.empty(n + 1, dtype=np.uint64)
        prefix[0] = 0
        np.multiply(self._powers.upto(n)[:n], buf, out=prefix[1:])
        np.cumsum(prefix[1:], out=prefix[1:])
        poly = (prefix[ends] - prefix[starts]) * self._inverse.upto(n)[starts]
        lens = (ends - starts).astype(np.uint64)
        return mix64(poly ^ self._key ^ (lens << np.uint64(48))), starts.astype(np.int64)
