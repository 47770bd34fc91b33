"""Hashed n-gram features over whole batches: the feature space of DSIR and of the n-gram classifier.

Text is split by the WordPunct rule ``\\w+|[^\\w\\s]+`` (optionally lowercased first), and every n-gram of
order 1..``order`` (tokens joined by one space) is hashed into one of ``buckets`` buckets. Two hashings:

- ``"sha256"``: ``int(sha256(utf8(ngram)).hexdigest(), 16) % buckets``, exactly as the reference DSIR
  package (``data-selection`` 1.0.3) does; computed once per distinct n-gram of a batch that a bounded
  memo does not already hold.
- ``"fast"`` (default): a 64-bit hash of each token's UTF-8 bytes, computed with numpy over the whole
  batch at once, and n-gram hashes chained from token hashes with vectorised integer arithmetic.
  Stable across processes, platforms and Python versions (never the built-in ``hash()``).

Both hashings see the reference's tokens (``sievekit.selectors.wordpunct``).

A batch's features come back as a :class:`HashedBatch`: one ``(doc_ids, bucket_ids)`` entry per n-gram
occurrence, i.e. a COO matrix whose values are all 1 (``scipy.sparse.coo_matrix((ones, (doc_ids,
bucket_ids)))``). ``to_csr()`` sums the duplicates into the usual ``(indptr, indices, counts)`` triple,
which ``scipy.sparse.csr_matrix((counts, indices, indptr), shape=(n_docs, buckets))`` accepts as is.

Every step is a numpy pass over the batch's bytes, tokens or n-grams (no Python step per token): token
hashes come from prefix sums over cache-sized blocks of the buffer, and ``to_csr`` sorts 32-bit
(document, bucket) keys. With the ``fast`` extra (numba), the fast hash runs through compiled kernels instead
(``ngram_jit``): the same tokens, buckets and counts, checked against this numpy path in the tests; ``counts()``
then counts each text's buckets without sorting the batch. ``bench/featurize_speed.py`` measures the baseline
version, this numpy path and the kernels on the same text.

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
from collections.abc import Sequence
from types import ModuleType
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from sievekit.selectors.ngram_jit import TokenHashes, kernels, token_hashes
from sievekit.selectors.ngram_sha256 import SortedMemo, sha256_bucket, sha256_buckets  # noqa: F401 (sha256_bucket: re-exported)
from sievekit.selectors.wordpunct import TokenSpans, split_words, token_spans

HashName = Literal["fast", "sha256"]
MAX_BUCKETS = 1 << 20
MAX_ORDER = 5
# Texts are featurised this many characters at a time: the per-byte work arrays stay a few tens of MB.
CHUNK_CHARS = 1 << 21
# Tokens are hashed this many bytes of a chunk at a time, so that the prefix sums (8 bytes per byte) stay in cache.
HASH_BLOCK_BYTES = 1 << 16

_U64 = np.uint64
_Unsigned = TypeVar("_Unsigned", np.uint32, np.uint64)
_ORDER_SEEDS = [_U64((0x9E3779B97F4A7C15 * (k + 1)) % (1 << 64)) for k in range(MAX_ORDER + 1)]
_SEEDS = np.array(_ORDER_SEEDS, dtype=np.uint64)


@dataclasses.dataclass(frozen=True)
class HashedBatch:
    """The hashed n-grams of a batch of documents, one entry per n-gram occurrence.

    Entries come grouped by order (all unigrams of the batch, then all bigrams, ...), each group in
    document order: ``doc_ids[i]`` is the document of occurrence ``i``, ``bucket_ids[i]`` its bucket.
    Sums and dot products work on that layout directly; ``indptr``/``buckets`` (grouped by document)
    and ``to_csr()`` are computed on first use.

    Attributes:
        doc_ids: int64 document index of every occurrence.
        bucket_ids: int64 bucket of every occurrence.
        n_docs: number of documents in the batch.
        num_buckets: the size of the feature space.
    """

    doc_ids: npt.NDArray[np.int64]
    bucket_ids: npt.NDArray[np.int64]
    n_docs: int
    num_buckets: int

    @functools.cached_property
    def _by_doc(self) -> npt.NDArray[np.int64]:
        return np.argsort(self.doc_ids, kind="stable")

    @property
    def indptr(self) -> npt.NDArray[np.int64]:
        """int64, length ``n_docs + 1``: document ``i`` owns ``buckets[indptr[i]:indptr[i+1]]``."""
        out = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(self.lengths(), out=out[1:])
        return out

    @property
    def buckets(self) -> npt.NDArray[np.int64]:
        """Every occurrence's bucket grouped by document (within one, unigrams first, then bigrams, ...)."""
        return self.bucket_ids[self._by_doc]

    def lengths(self) -> npt.NDArray[np.int64]:
        """Number of n-gram occurrences per document (the sum of its count vector)."""
        return np.bincount(self.doc_ids, minlength=self.n_docs).astype(np.int64)

    def totals(self) -> npt.NDArray[np.int64]:
        """The batch's summed count vector (length ``num_buckets``)."""
        return np.bincount(self.bucket_ids, minlength=self.num_buckets).astype(np.int64)

    def dot(self, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``weights · counts(doc)`` for every document, without building the count vectors."""
        return np.bincount(self.doc_ids, weights=weights[self.bucket_ids], minlength=self.n_docs).astype(np.float64)

    def to_csr(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(indptr, indices, counts)`` with one entry per distinct bucket of each document, indices sorted."""
        # One sort of (document, bucket) keys; 32-bit ones (when they fit) sort about twice as fast as 64-bit.
        shape = self.n_docs, self.num_buckets
        if self.n_docs * self.num_buckets <= 1 << 32:
            return _csr_of_keys(self.doc_ids.astype(np.uint32), self.bucket_ids.astype(np.uint32), *shape)
        return _csr_of_keys(self.doc_ids.astype(np.uint64), self.bucket_ids.astype(np.uint64), *shape)

    def dense(self) -> npt.NDArray[np.int64]:
        """The ``(n_docs, num_buckets)`` count matrix (for small batches and tests)."""
        out = np.zeros((self.n_docs, self.num_buckets), dtype=np.int64)
        np.add.at(out, (self.doc_ids, self.bucket_ids), 1)
        return out


def _csr_of_keys(docs: npt.NDArray[_Unsigned], buckets: npt.NDArray[_Unsigned], n_docs: int, size: int) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``HashedBatch.to_csr`` from occurrences in an unsigned type holding ``n_docs * size`` (overwrites ``docs``)."""
    keys, width = docs, docs.dtype.type(size)
    keys *= width
    keys += buckets
    keys.sort()
    head = np.empty(len(keys), dtype=bool)
    head[:1] = True  # nothing when there are no keys
    np.not_equal(keys[1:], keys[:-1], out=head[1:])
    at = np.flatnonzero(head)
    distinct = keys[at]
    indptr = np.full(n_docs + 1, len(distinct), dtype=np.int64)
    indptr[:-1] = np.searchsorted(distinct, np.arange(n_docs, dtype=keys.dtype) * width)
    return indptr, _mod(distinct, size).astype(np.int64), np.diff(at, append=len(keys)).astype(np.int64, copy=False)


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser (every input bit affects every output bit), in place: ``x`` is overwritten."""
    shifted = np.empty_like(x)
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, 0)):
        np.right_shift(x, _U64(shift), out=shifted)
        x ^= shifted
        if mult:
            x *= _U64(mult)
    return x


def _mod(x: npt.NDArray[_Unsigned], size: int, out: npt.NDArray[_Unsigned] | None = None) -> npt.NDArray[_Unsigned]:
    """``x % size`` into ``out`` (default: in place). numpy's remainder divides element by element, its floor
    division by a scalar is vectorised: ``x - (x // size) * size`` is several times faster, a mask more so."""
    out = x if out is None else out
    divisor = x.dtype.type(size)
    if size & (size - 1) == 0:
        np.bitwise_and(x, divisor - x.dtype.type(1), out=out)
    else:
        quotient = x // divisor
        quotient *= divisor
        np.subtract(x, quotient, out=out)
    return out


class _PolyHash:
    """Polynomial hashes of byte ranges from prefix sums: ``sum_j b[s+j] * m**j mod 2**64``, then mixed.

    Any range's hash costs O(1) after one pass over the buffer, so every token of a batch is hashed
    without a Python step. ``m`` is odd, hence invertible modulo 2**64, which shifts a range's sum back
    to position 0. Tables of powers are kept per process, as long as the longest buffer seen
    (``featurize`` hashes ``HASH_BLOCK_BYTES`` at a time, so that is 64 KB unless one token is longer).
    """

    def __init__(self, mult: int) -> None:
        self.mult, self.inv = mult, pow(mult, -1, 1 << 64)
        self.powers = self.inv_powers = np.ones(1, dtype=np.uint64)

    def _grow(self, n: int) -> None:
        if len(self.powers) < n:
            size = max(n, 2 * len(self.powers))
            self.powers, self.inv_powers = np.full(size, self.mult, np.uint64), np.full(size, self.inv, np.uint64)
            self.powers[0] = self.inv_powers[0] = 1
            np.multiply.accumulate(self.powers, out=self.powers)  # wraps modulo 2**64, as intended
            np.multiply.accumulate(self.inv_powers, out=self.inv_powers)

    def prefix(self, buf: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
        """``out[i] = sum(buf[:i] * m**arange(i))``, length ``len(buf) + 1``."""
        n = len(buf)
        self._grow(n)
        # numpy's cumsum is a scalar loop; summing within rows of 4 first (three vectorised column adds)
        # leaves it a quarter of the elements, and a broadcast add completes the sums.
        rows = np.empty(-(-(n + 1) // 4) * 4, dtype=np.uint64)
        rows[0] = 0
        np.multiply(buf, self.powers[:n], out=rows[1: n + 1])
        rows[n + 1:] = 0
        grid = rows.reshape(-1, 4)
        for j in range(1, 4):
            grid[:, j] += grid[:, j - 1]
        grid[1:] += np.cumsum(grid[:-1, 3])[:, None]
        return rows[: n + 1]

    def ranges(self, prefix: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64],
               ends: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
        raw = prefix.take(ends)
        raw -= prefix.take(starts)
        raw *= self.inv_powers.take(starts)
        length = (ends - starts).view(np.uint64)  # never negative
        length *= _U64(0xD6E8FEB86659FD93)
        raw ^= length
        return _mix64(raw)


_HASH = _PolyHash(0x100000001B3)  # the 64-bit FNV prime
_CHECK = _PolyHash(0x9E3779B97F4A7C15 | 1)  # an independent second hash, to catch collisions of the first


def hash_strings_fast(strings: Sequence[str]) -> npt.NDArray[np.uint64]:
    """The fast 64-bit hash of each string's UTF-8 bytes (an n-gram's bucket is this modulo the buckets).

    Example:
        >>> int(hash_strings_fast(["a b"])[0]) == int(hash_strings_fast(["x", "a b"])[1])
        True
    """
    encoded = [t.encode("utf-8", "surrogatepass") for t in strings]
    ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
    starts = ends - np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _HASH.ranges(_HASH.prefix(buf), starts, ends)


@dataclasses.dataclass
class NgramFeaturizer:
    """Turns batches of texts into hashed n-gram occurrences.

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
    _memo: SortedMemo = dataclasses.field(default_factory=SortedMemo, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets must be within [1, {MAX_BUCKETS}], got {self.buckets}")
        if not 1 <= self.order <= MAX_ORDER:
            raise ValueError(f"order must be within [1, {MAX_ORDER}], got {self.order}")
        if self.hash not in ("fast", "sha256"):
            raise ValueError(f"hash must be 'fast' or 'sha256', got {self.hash!r}")

    def tokenize(self, text: str) -> list[str]:
        """The WordPunct tokens of one text (lowercased if the featurizer lowercases)."""
        return split_words([text], self.lowercase)[0]

    def featurize(self, texts: Sequence[str]) -> HashedBatch:
        """Hashed n-grams of every text; n-grams never span two documents."""
        cuts = _chunk_bounds(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), CHUNK_CHARS)
        jit = kernels() if self.hash == "fast" else None
        if jit is not None:
            return self._featurize_compiled(jit, texts)
        # Tokenise every chunk first: with the n-gram counts known, each chunk writes its n-grams straight into
        # the batch's arrays (no per-chunk arrays to concatenate: less copying and a lower peak of memory).
        chunks = [(lo, token_spans(texts[lo:hi], self.lowercase)) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
        sizes = [[int(np.maximum(spans.n_tokens - (k - 1), 0).sum()) for k in range(1, self.order + 1)]
                 for _, spans in chunks]
        total = sum(map(sum, sizes))
        doc_ids, bucket_ids = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
        at = 0
        for (first_doc, spans), chunk_sizes in zip(chunks, sizes, strict=True):
            end = at + sum(chunk_sizes)
            self._write_chunk(spans, first_doc, chunk_sizes, doc_ids[at:end], bucket_ids[at:end])
            at = end
        return HashedBatch(doc_ids, bucket_ids, len(texts), self.buckets)

    def counts(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                    npt.NDArray[np.int64]]:
        """``featurize(texts).to_csr()``: each text's distinct buckets (sorted) and their counts; with the
        compiled kernels, counted text by text without the per-occurrence arrays or their sort."""
        jit = kernels() if self.hash == "fast" else None
        if jit is None:
            return self.featurize(texts).to_csr()
        chunks = self.compiled_tokens(jit, texts)
        size = sum(t.n_ngrams(k) for _, t in chunks for k in range(1, self.order + 1))
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        indices, counts = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
        for first, tokens in chunks:
            jit.csr_counts(tokens.hashes, tokens.n_tokens, self.order, self.buckets, _SEEDS,
                           indptr[first: first + len(tokens.n_tokens) + 1], indices, counts)
        return indptr, indices[: indptr[-1]], counts[: indptr[-1]]

    def compiled_tokens(self, jit: ModuleType, texts: Sequence[str]) -> list[tuple[int, TokenHashes]]:
        """The token hashes of ``texts`` from the kernels, ``CHUNK_CHARS`` at a time, each with its first text."""
        cuts = _chunk_bounds(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), CHUNK_CHARS)
        return [(lo, token_hashes(jit, texts[lo:hi], self.lowercase)) for lo, hi in zip(cuts[:-1], cuts[1:])]

    def _featurize_compiled(self, jit: ModuleType, texts: Sequence[str]) -> HashedBatch:
        """``featurize`` by the kernels: the same entries in the same order as the numpy path."""
        chunks = self.compiled_tokens(jit, texts)
        sizes = [sum(t.n_ngrams(k) for k in range(1, self.order + 1)) for _, t in chunks]
        doc_ids, bucket_ids = np.empty(sum(sizes), dtype=np.int64), np.empty(sum(sizes), dtype=np.int64)
        at = 0
        for (first, tokens), size in zip(chunks, sizes):
            jit.write_ngrams(tokens.hashes, tokens.n_tokens, self.order, self.buckets, _SEEDS, first,
                             doc_ids[at: at + size], bucket_ids[at: at + size])
            at += size
        return HashedBatch(doc_ids, bucket_ids, len(texts), self.buckets)

    def _write_chunk(self, spans: TokenSpans, first_doc: int, sizes: list[int], doc_ids: npt.NDArray[np.int64],
                     bucket_ids: npt.NDArray[np.int64]) -> None:
        """One chunk's n-grams (its unigrams, then its bigrams, ...) into ``doc_ids`` and ``bucket_ids``."""
        tokens = _token_hashes(_HASH, spans)
        checks = _token_hashes(_CHECK, spans) if self.hash == "sha256" else None
        at = 0
        for k, size in enumerate(sizes, start=1):
            first, out = spans.ngram_starts(k), bucket_ids[at: at + size]
            doc_ids[at: at + size] = spans.ngram_docs(k, first_doc)
            keys = _combine(tokens, first, k)
            if checks is None:
                _mod(keys, self.buckets, out=out.view(np.uint64))
            else:
                out[:] = sha256_buckets(self._memo, spans, first, k, keys, _combine(checks, first, k), self.buckets)
            at += size

def _token_hashes(hasher: _PolyHash, spans: TokenSpans) -> npt.NDArray[np.uint64]:
    """``hasher``'s hash of every token of ``spans``, a block of about ``HASH_BLOCK_BYTES`` at a time: a token's
    hash does not depend on where its block starts, and a block's prefix sums stay in a core's cache."""
    starts, ends = spans.starts, spans.ends
    cuts = np.searchsorted(starts, np.arange(0, len(spans.buf), HASH_BLOCK_BYTES)).tolist() + [len(starts)]
    out = np.empty(len(starts), dtype=np.uint64)
    for first, stop in zip(cuts[:-1], cuts[1:], strict=True):
        if first < stop:
            lo, hi = int(starts[first]), int(ends[stop - 1])
            prefix = hasher.prefix(spans.buf[lo:hi])
            out[first:stop] = hasher.ranges(prefix, starts[first:stop] - lo, ends[first:stop] - lo)
    return out


def _chunk_bounds(lengths: npt.NDArray[np.int64], limit: int) -> list[int]:
    """Cut points ``[0, ..., n]`` splitting texts into runs of at most ``limit`` characters (or one text)."""
    bounds, total = [0], 0
    for i, n in enumerate(lengths.tolist()):
        if total and total + n > limit:
            bounds.append(i)
            total = 0
        total += n
    bounds.append(len(lengths))
    return bounds


def _combine(token_hashes: npt.NDArray[np.uint64], first: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.uint64]:
    """64-bit keys of the k-grams starting at ``first``: token hashes chained through splitmix64, over every
    window of k tokens (contiguous slices, no gathers), then those at ``first``; for k = 1, ``token_hashes``."""
    if k == 1:
        return token_hashes if len(first) == len(token_hashes) else token_hashes.take(first)
    n = max(len(token_hashes) - k + 1, 0)
    keys = token_hashes[:n] * _U64(0x100000001B3)
    for j in range(1, k):
        if j > 1:
            keys *= _U64(0x100000001B3)
        keys += token_hashes[j: j + n]
        keys += _ORDER_SEEDS[k]
        _mix64(keys)
    return keys.take(first)
