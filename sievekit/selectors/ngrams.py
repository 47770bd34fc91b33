"""Hashed n-gram features over whole batches: the feature space of DSIR and of the n-gram classifier.

Text is split by the WordPunct rule ``\\w+|[^\\w\\s]+`` (optionally lowercased first), and every n-gram of
order 1..``order`` (tokens joined by one space) is hashed into one of ``buckets`` buckets. Two hashings:

- ``"sha256"``: ``int(sha256(utf8(ngram)).hexdigest(), 16) % buckets``, exactly as the reference DSIR
  package (``data-selection`` 1.0.3) does. Slow per new n-gram, so every n-gram's bucket is memoised.
- ``"fast"`` (default): a 64-bit hash of each token's UTF-8 bytes, computed with numpy over the whole
  batch at once, and n-gram hashes mixed from token hashes with vectorised integer arithmetic.
  Stable across processes, platforms and Python versions (never the built-in ``hash()``).

The reference tokenises with NLTK, which compiles the pattern with the third-party ``regex`` engine; its
``\\w`` is wider than stdlib ``re``'s (combining marks and the zero-width joiners are word characters, ``²``
is not) and its ``\\s`` excludes U+001C..U+001F. ``word_punct_pattern()`` rebuilds that engine's classes
for stdlib ``re`` from ``unicodedata``, so both hashings see the reference's tokens.

A batch's features come back as a :class:`HashedBatch`: one entry per n-gram occurrence, grouped by
document, i.e. a CSR matrix whose values are all 1. ``to_csr()`` sums the duplicates into the usual
``(indptr, indices, counts)`` triple, which ``scipy.sparse.csr_matrix((counts, indices, indptr),
shape=(n_docs, buckets))`` accepts as is.

Example:
    >>> f = NgramFeaturizer(buckets=10000, order=2, hash="sha256")
    >>> f.tokenize("Hello, world!")
    ['hello', ',', 'world', '!']
    >>> batch = f.featurize(["Alice went", "x"])
    >>> batch.indptr.tolist(), batch.lengths().tolist()
    ([0, 3, 4], [3, 1])
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

HashName = Literal["fast", "sha256"]
MAX_BUCKETS = 1 << 20
MAX_ORDER = 5
# The sha256 memo starts afresh (between batches) beyond this many n-grams (about 150 MB), so memory
# stays bounded whatever the size of the pool.
MAX_MEMO_NGRAMS = 1 << 20

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_TOKEN_MULT = _U64(0x100000001B3)  # the 64-bit FNV prime: odd, so multiplication is invertible mod 2**64
_ORDER_SEEDS = [_U64((0x9E3779B97F4A7C15 * (k + 1)) & _MASK64) for k in range(MAX_ORDER + 1)]

# Categories the ``regex`` engine counts as word characters (Alphabetic, Mark, Decimal_Number,
# Connector_Punctuation, Join_Control), plus the letter-like symbols that are Alphabetic though ``So``.
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Mn", "Mc", "Me", "Nd", "Pc"})
_EXTRA_WORD = [(0x200C, 0x200D), (0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189)]
_NOT_SPACE = frozenset(range(0x1C, 0x20))  # str.isspace() says yes, Unicode White_Space says no
_LAST_ASSIGNED = 0xE01EF  # planes 15-16 hold only private use and unassigned code points


def _ranges(codepoints: Sequence[int]) -> str:
    """A regex character-class body for sorted code points, as ``a-b`` runs."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in [*codepoints[1:], -2]:
        if cp != prev + 1:
            parts.append(re.escape(chr(start)) if start == prev else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
            start = cp
        prev = cp
    return "".join(parts)


@functools.lru_cache(maxsize=None)
def word_punct_pattern(astral: bool = True) -> re.Pattern[str]:
    """``\\w+|[^\\w\\s]+`` with the ``regex`` engine's Unicode classes, compiled for stdlib ``re``.

    Built once per process from ``unicodedata`` (a tenth of a second). With ``astral=False`` the classes
    hold only the Basic Multilingual Plane, which ``re`` tests with one table lookup, while code points
    above U+FFFF are tried range by range; the tokenizer picks that pattern for texts without such code
    points, which is about twice as fast as stdlib ``\\w`` and many times faster than the full classes.
    """
    top = _LAST_ASSIGNED if astral else 0xFFFF
    extra = {cp for lo, hi in _EXTRA_WORD for cp in range(lo, min(hi, top) + 1)}
    word = sorted(cp for cp in range(top + 1) if cp in extra or unicodedata.category(chr(cp)) in _WORD_CATEGORIES)
    space = [cp for cp in range(0x3001) if chr(cp).isspace() and cp not in _NOT_SPACE]
    w, s = _ranges(word), _ranges(space)
    return re.compile(f"[{w}]+|[^{w}{s}]+")


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def split_words(texts: Sequence[str], lowercase: bool = True) -> list[list[str]]:
    """The WordPunct tokens of every text, as the reference's tokenizer finds them."""
    bmp = word_punct_pattern(False).findall
    has_astral = _ASTRAL.search
    out = []
    for text in texts:
        if lowercase:
            text = text.lower()
        # isascii() is a flag lookup; only non-ASCII texts pay for the scan.
        out.append(bmp(text) if text.isascii() or not has_astral(text) else word_punct_pattern(True).findall(text))
    return out


@dataclasses.dataclass(frozen=True)
class HashedBatch:
    """The hashed n-grams of a batch of documents, one entry per occurrence, documents in order.

    Attributes:
        indptr: int64, length ``n_docs + 1``; document ``i`` owns ``buckets[indptr[i]:indptr[i+1]]``.
        buckets: int64 bucket id of every n-gram occurrence (unigrams first, then bigrams, ...).
        num_buckets: the size of the feature space.
    """

    indptr: npt.NDArray[np.int64]
    buckets: npt.NDArray[np.int64]
    num_buckets: int

    @property
    def n_docs(self) -> int:
        return len(self.indptr) - 1

    def doc_index(self) -> npt.NDArray[np.int64]:
        """The document of every occurrence."""
        return np.repeat(np.arange(self.n_docs, dtype=np.int64), np.diff(self.indptr))

    def lengths(self) -> npt.NDArray[np.int64]:
        """Number of n-gram occurrences per document (the sum of its count vector)."""
        return np.diff(self.indptr)

    def totals(self) -> npt.NDArray[np.int64]:
        """The batch's summed count vector (length ``num_buckets``)."""
        return np.bincount(self.buckets, minlength=self.num_buckets).astype(np.int64)

    def dot(self, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``weights · counts(doc)`` for every document, without building the count vectors."""
        return np.bincount(self.doc_index(), weights=weights[self.buckets], minlength=self.n_docs)

    def to_csr(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(indptr, indices, counts)`` with one entry per distinct bucket of each document, indices sorted."""
        keys, counts = np.unique(self.doc_index() * self.num_buckets + self.buckets, return_counts=True)
        docs = keys // self.num_buckets
        indptr = np.searchsorted(docs, np.arange(self.n_docs + 1)).astype(np.int64)
        return indptr, (keys % self.num_buckets).astype(np.int64), counts.astype(np.int64)

    def dense(self) -> npt.NDArray[np.int64]:
        """The ``(n_docs, num_buckets)`` count matrix (for small batches and tests)."""
        out = np.zeros((self.n_docs, self.num_buckets), dtype=np.int64)
        np.add.at(out, (self.doc_index(), self.buckets), 1)
        return out


class _Sha256Buckets(dict[str, int]):
    """N-gram string -> reference bucket, computed on first sight."""

    def __init__(self, num_buckets: int) -> None:
        super().__init__()
        self.num_buckets = num_buckets

    def __missing__(self, key: str) -> int:
        value = self[key] = sha256_bucket(key, self.num_buckets)
        return value


def sha256_bucket(ngram: str, num_buckets: int) -> int:
    """The reference bucket of one n-gram string."""
    return int(hashlib.sha256(ngram.encode("utf-8")).hexdigest(), 16) % num_buckets


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser: every input bit affects every output bit."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _poly_hash(data: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
               lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """64-bit hashes of back-to-back byte segments (each non-empty): a polynomial, then splitmix64."""
    values = data.astype(np.uint64) + _U64(1)
    position = np.arange(len(values), dtype=np.int64) - np.repeat(starts, lengths)
    powers = np.empty(int(lengths.max()), dtype=np.uint64)
    powers[0] = 1
    if len(powers) > 1:
        powers[1:] = _TOKEN_MULT
        np.multiply.accumulate(powers, out=powers)  # wraps modulo 2**64, as intended
    summed = np.add.reduceat(values * powers[position], starts)
    return _mix64(summed ^ (lengths.astype(np.uint64) * _U64(0xD6E8FEB86659FD93)))


def hash_tokens_fast(tokens: Sequence[str]) -> npt.NDArray[np.uint64]:
    """64-bit hashes of tokens' UTF-8 bytes (each token non-empty), vectorised.

    Example:
        >>> int(hash_tokens_fast(["alice"])[0]) == int(hash_tokens_fast(["bob", "alice"])[1])
        True
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return _poly_hash(np.frombuffer(b"".join(encoded), dtype=np.uint8), starts, lengths)


def _hash_token_stream(docs: list[list[str]]) -> npt.NDArray[np.uint64]:
    """``hash_tokens_fast`` of every token of every document, in order, without a Python step per token.

    Tokens never contain a space, so joining them with single spaces and encoding once gives a buffer
    in which the 0x20 bytes are exactly the token boundaries (UTF-8 never uses 0x20 inside a character).
    """
    buf = np.frombuffer(" ".join([" ".join(d) for d in docs if d]).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if len(buf) == 0:
        return np.empty(0, dtype=np.uint64)
    is_space = buf == 32
    spaces = np.flatnonzero(is_space)
    n = len(spaces) + 1
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = spaces + 1
    lengths = np.empty(n, dtype=np.int64)
    lengths[:-1] = spaces - starts[:-1]
    lengths[-1] = len(buf) - starts[-1]
    # Drop the separators; token j then starts at its old start minus the j spaces before it.
    return _poly_hash(buf[~is_space], starts - np.arange(n, dtype=np.int64), lengths)


@dataclasses.dataclass
class NgramFeaturizer:
    """Turns batches of texts into hashed n-gram occurrences (with ``hash="sha256"``, memoising buckets).

    Args:
        buckets: number of hash buckets, 1..2**20 (the reference uses 10,000).
        order: highest n-gram order, 1..5; 2 means unigrams and bigrams.
        hash: ``"sha256"`` for the reference's buckets, ``"fast"`` for the vectorised hash.
        lowercase: lowercase the text before tokenising (the reference does).

    Raises:
        ValueError: a parameter outside its range.
    """

    buckets: int = 10000
    order: int = 2
    hash: HashName = "fast"
    lowercase: bool = True
    _sha: _Sha256Buckets = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets must be within [1, {MAX_BUCKETS}], got {self.buckets}")
        if not 1 <= self.order <= MAX_ORDER:
            raise ValueError(f"order must be within [1, {MAX_ORDER}], got {self.order}")
        if self.hash not in ("fast", "sha256"):
            raise ValueError(f"hash must be 'fast' or 'sha256', got {self.hash!r}")
        self._sha = _Sha256Buckets(self.buckets)

    def tokenize(self, text: str) -> list[str]:
        """The WordPunct tokens of one text (lowercased if the featurizer lowercases)."""
        return split_words([text], self.lowercase)[0]

    def featurize(self, texts: Sequence[str]) -> HashedBatch:
        """Hashed n-grams of every text; n-grams never span two documents."""
        docs = split_words(texts, self.lowercase)
        n_tokens = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        if self.hash == "sha256":
            per_order = self._sha256_buckets(docs)
        else:
            per_order = self._fast_buckets(docs, n_tokens)
        return _assemble(per_order, n_tokens, self.order, self.buckets)

    # -- hashing ---------------------------------------------------------------------------------
    def _sha256_buckets(self, docs: list[list[str]]) -> list[npt.NDArray[np.int64]]:
        """Per order k, the buckets of all k-grams in document order (strings joined as the reference does)."""
        if len(self._sha) > MAX_MEMO_NGRAMS:
            self._sha.clear()
        lookup = self._sha.__getitem__
        out = []
        for k in range(1, self.order + 1):
            if k == 1:
                grams = [tok for doc in docs for tok in doc]
            else:
                grams = [g for doc in docs for g in map(" ".join, zip(*(doc[i:] for i in range(k))))]
            out.append(np.fromiter(map(lookup, grams), dtype=np.int64, count=len(grams)))
        return out

    def _fast_buckets(self, docs: list[list[str]], n_tokens: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]]:
        h = _hash_token_stream(docs)
        doc_of = np.repeat(np.arange(len(docs), dtype=np.int64), n_tokens)
        out = []
        mixed = h
        size = _U64(self.buckets)
        for k in range(1, self.order + 1):
            if k > 1:
                # k-gram starting at i = mix(hash of the (k-1)-gram at i, token i+k-1), order-dependent
                mixed = _mix64(mixed[:-1] * _TOKEN_MULT + h[k - 1:] + _ORDER_SEEDS[k])
                valid = doc_of[: len(mixed)] == doc_of[k - 1:]
                out.append((_mix64(mixed[valid] ^ _ORDER_SEEDS[0]) % size).astype(np.int64))
            else:
                out.append((_mix64(h ^ _ORDER_SEEDS[0]) % size).astype(np.int64))
        return out


def _assemble(per_order: list[npt.NDArray[np.int64]], n_tokens: npt.NDArray[np.int64], order: int,
              num_buckets: int) -> HashedBatch:
    """Interleave per-order bucket arrays (each in document order) into one CSR by document."""
    counts = np.stack([np.maximum(n_tokens - (k - 1), 0) for k in range(1, order + 1)])  # (order, n_docs)
    per_doc = counts.sum(axis=0)
    indptr = np.zeros(len(n_tokens) + 1, dtype=np.int64)
    np.cumsum(per_doc, out=indptr[1:])
    if order == 1:
        return HashedBatch(indptr, per_order[0], num_buckets)
    # Destination of each order's entries: the document's start plus the counts of lower orders.
    values = np.concatenate(per_order)
    dest = np.empty(len(values), dtype=np.int64)
    offset = 0
    lower = np.zeros(len(n_tokens), dtype=np.int64)
    for k in range(order):
        c = counts[k]
        starts_in_order = np.zeros(len(c), dtype=np.int64)
        np.cumsum(c[:-1], out=starts_in_order[1:])
        rank = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(starts_in_order, c)
        dest[offset:offset + len(rank)] = np.repeat(indptr[:-1] + lower, c) + rank
        offset += len(rank)
        lower += c
    buckets = np.empty(len(values), dtype=np.int64)
    buckets[dest] = values
    return HashedBatch(indptr, buckets, num_buckets)
