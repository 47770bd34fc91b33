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

A batch's features come back as a :class:`HashedBatch` (``hashed_batch``): one ``(doc_ids, bucket_ids)`` entry
per n-gram occurrence (the document ids follow from each text's token count), i.e. a COO matrix whose values are
all 1 (``scipy.sparse.coo_matrix((ones, (doc_ids, bucket_ids)))``). ``to_csr()`` sums the duplicates into the
usual ``(indptr, indices, counts)`` triple, which ``scipy.sparse.csr_matrix((counts, indices, indptr),
shape=(n_docs, buckets))`` accepts as is.

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
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sievekit.selectors.hashed_batch import HashedBatch, compact_dtype, unsigned_mod
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
_ORDER_SEEDS = [_U64((0x9E3779B97F4A7C15 * (k + 1)) % (1 << 64)) for k in range(MAX_ORDER + 1)]
_SEEDS = np.array(_ORDER_SEEDS, dtype=np.uint64)


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser (every input bit affects every output bit), in place: ``x`` is overwritten."""
    shifted = np.empty_like(x)
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, 0)):
        np.right_shift(x, _U64(shift), out=shifted)
        x ^= shifted
        if mult:
            x *= _U64(mult)
    return x


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

    def featurize(self, texts: Sequence[str], *, compact: bool = False) -> HashedBatch:
        """Hashed n-grams of every text; n-grams never span two documents. With ``compact``, the buckets come in
        ``compact_dtype(buckets)`` (a quarter of the int64's memory for DSIR's 10,000), with the same values."""
        dtype = compact_dtype(self.buckets) if compact else np.int64
        jit = kernels() if self.hash == "fast" else None
        if jit is not None:
            return self._featurize_compiled(jit, texts, dtype)
        cuts = _chunk_bounds(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), CHUNK_CHARS)
        # Tokenise every chunk first: with the n-gram counts known, each chunk writes its n-grams straight into
        # the batch's array (no per-chunk arrays to concatenate: less copying and a lower peak of memory).
        chunks = [(lo, token_spans(texts[lo:hi], self.lowercase)) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
        sizes = [[int(np.maximum(spans.n_tokens - (k - 1), 0).sum()) for k in range(1, self.order + 1)]
                 for _, spans in chunks]
        bucket_ids = np.empty(sum(map(sum, sizes)), dtype=np.int64)
        at = 0
        for (_, spans), chunk_sizes in zip(chunks, sizes, strict=True):
            end = at + sum(chunk_sizes)
            self._write_chunk(spans, chunk_sizes, bucket_ids[at:end])
            at = end
        return HashedBatch(bucket_ids.astype(dtype, copy=False), np.concatenate([s.n_tokens for _, s in chunks]),
                           self.order, self.buckets, np.array(cuts, dtype=np.int64))

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

    def _featurize_compiled(self, jit: ModuleType, texts: Sequence[str], dtype: type[np.integer[Any]]) -> HashedBatch:
        """``featurize`` by the kernels: the same entries in the same order as the numpy path."""
        chunks = self.compiled_tokens(jit, texts)
        sizes = [sum(t.n_ngrams(k) for k in range(1, self.order + 1)) for _, t in chunks]
        bucket_ids = np.empty(sum(sizes), dtype=dtype)
        at = 0
        for (_, tokens), size in zip(chunks, sizes):
            jit.write_buckets(tokens.hashes, tokens.n_tokens, self.order, self.buckets, _SEEDS,
                              bucket_ids[at: at + size])
            at += size
        cuts = np.array([first for first, _ in chunks] + [len(texts)], dtype=np.int64)
        return HashedBatch(bucket_ids, np.concatenate([t.n_tokens for _, t in chunks]), self.order, self.buckets,
                           cuts)

    def _write_chunk(self, spans: TokenSpans, sizes: list[int], bucket_ids: npt.NDArray[np.int64]) -> None:
        """One chunk's buckets (its unigrams, then its bigrams, ...) into ``bucket_ids``."""
        tokens = _token_hashes(_HASH, spans)
        checks = _token_hashes(_CHECK, spans) if self.hash == "sha256" else None
        at = 0
        for k, size in enumerate(sizes, start=1):
            first, out = spans.ngram_starts(k), bucket_ids[at: at + size]
            keys = _combine(tokens, first, k)
            if checks is None:
                unsigned_mod(keys, self.buckets, out=out.view(np.uint64))
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
