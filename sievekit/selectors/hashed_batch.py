"""A featurised batch: every hashed n-gram occurrence of a batch of documents, and what is computed from it.

:class:`HashedBatch` is what ``ngrams.NgramFeaturizer.featurize`` returns (DSIR's features, KL reduction's counts).
Where each occurrence belongs follows from the documents' token counts, so per-document lengths cost O(documents)
and the passes over the occurrences (``dot``, ``totals``) run in the compiled kernels (``ngram_jit``) without a
document id per occurrence; without numba, numpy's ``bincount`` computes the same values (the same bits for
``dot``: the kernel adds each document's terms in bincount's order).

Example:
    >>> batch = HashedBatch(np.array([3, 1, 3, 2]), np.array([2, 1]), 2, 4, np.array([0, 2]))
    >>> batch.doc_ids.tolist(), batch.lengths().tolist(), batch.totals().tolist()
    ([0, 0, 1, 0], [3, 1], [0, 1, 1, 2])
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from sievekit.selectors.ngram_jit import kernels

_Unsigned = TypeVar("_Unsigned", np.uint32, np.uint64)


@dataclasses.dataclass(frozen=True)
class HashedBatch:
    """The hashed n-grams of a batch of documents, one entry per n-gram occurrence.

    The featurizer cuts a batch into chunks of whole documents (``chunks``). Within a chunk, entries come grouped
    by order (the chunk's unigrams, then its bigrams, ...), each group in document order, document ``d`` holding
    ``max(n_tokens[d] - k + 1, 0)`` k-grams. So each entry's document follows from ``n_tokens``: ``lengths()``
    costs O(n_docs), ``dot`` and ``totals`` walk the layout with the compiled kernels (``ngram_jit``; numpy's
    ``bincount`` over ``doc_ids`` without them, with the same bits), and ``doc_ids``, ``indptr``/``buckets``
    (grouped by document) and ``to_csr()`` are computed on first use.

    Attributes:
        bucket_ids: the bucket of every occurrence: int64, or unsigned (``featurize(..., compact=True)``).
        n_tokens: int64 number of tokens of every document.
        order: the highest n-gram order.
        num_buckets: the size of the feature space.
        chunks: int64 ``[0, ..., n_docs]``: chunk ``c`` holds documents ``chunks[c]`` to ``chunks[c + 1] - 1``.

    Raises:
        ValueError: ``bucket_ids`` is not as long as the layout says, or ``chunks`` does not cover the documents.
    """

    bucket_ids: npt.NDArray[np.integer[Any]]
    n_tokens: npt.NDArray[np.int64]
    order: int
    num_buckets: int
    chunks: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        # The kernels read where the layout points, unchecked: a layout that does not fit is refused here.
        cuts, n = self.chunks, self.n_docs
        if len(cuts) < 1 or cuts[0] != 0 or cuts[-1] != n or bool(np.any(np.diff(cuts) < 0)) \
                or int(self.lengths().sum()) != len(self.bucket_ids):
            raise ValueError(f"a batch of {len(self.bucket_ids)} n-grams does not fit its layout ({n} documents, "
                             f"order {self.order}, {len(cuts) - 1} chunks)")

    @property
    def n_docs(self) -> int:
        """Number of documents in the batch."""
        return len(self.n_tokens)

    @functools.cached_property
    def doc_ids(self) -> npt.NDArray[np.int64]:
        """int64 document index of every occurrence (built from the layout)."""
        bounds = self.chunks.tolist()
        parts = [np.repeat(np.arange(lo, hi, dtype=np.int64), np.maximum(self.n_tokens[lo:hi] - (k - 1), 0))
                 for lo, hi in zip(bounds[:-1], bounds[1:]) for k in range(1, self.order + 1)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

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
        return self.bucket_ids[self._by_doc].astype(np.int64, copy=False)

    def lengths(self) -> npt.NDArray[np.int64]:
        """Number of n-gram occurrences per document (the sum of its count vector)."""
        return ngram_lengths(self.n_tokens, self.order)

    def totals(self, out: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.int64]:
        """The batch's summed count vector (length ``num_buckets``), added into ``out`` when given.

        Raises:
            ValueError: ``out`` is not ``num_buckets`` long.
        """
        if out is None:
            out = np.zeros(self.num_buckets, dtype=np.int64)
        elif len(out) != self.num_buckets:
            raise ValueError(f"counts of {self.num_buckets} buckets cannot be added into {len(out)}")
        jit = kernels()
        if jit is not None:
            jit.add_counts(self.bucket_ids, out)
        else:
            out += np.bincount(self.bucket_ids, minlength=len(out))
        return out

    def dot(self, weights: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """``weights · counts(doc)`` for every document, without building the count vectors.

        Raises:
            ValueError: ``weights`` is shorter than the feature space.
        """
        if len(weights) < self.num_buckets:
            raise ValueError(f"{len(weights)} weights for {self.num_buckets} buckets")
        values = np.asarray(weights, dtype=np.float64)  # as bincount takes them
        jit = kernels()
        if jit is None:
            return np.bincount(self.doc_ids, weights=values[self.bucket_ids], minlength=self.n_docs).astype(
                np.float64, copy=False)
        out = np.zeros(self.n_docs, dtype=np.float64)
        jit.ngram_dot(self.bucket_ids, self.n_tokens, self.order, self.chunks, values, out)
        return out

    def head(self, n: int) -> HashedBatch:
        """The batch of the first ``n`` documents (0 <= n <= n_docs)."""
        cuts = self.chunks[self.chunks < n]
        return HashedBatch(self.bucket_ids[self.doc_ids < n], self.n_tokens[:n], self.order, self.num_buckets,
                           np.append(cuts, np.int64(n)) if n else np.zeros(1, dtype=np.int64))

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


def ngram_lengths(n_tokens: npt.NDArray[np.int64], order: int) -> npt.NDArray[np.int64]:
    """The number of n-grams of order 1..``order`` of texts of ``n_tokens`` tokens each."""
    out = n_tokens.astype(np.int64, copy=True)
    for k in range(2, order + 1):
        out += np.maximum(n_tokens - (k - 1), 0)
    return out


def compact_dtype(buckets: int) -> type[np.unsignedinteger[Any]]:
    """The narrowest unsigned type (16 bits at least) of ``featurize(..., compact=True)``'s buckets."""
    return np.uint16 if buckets <= 1 << 16 else np.uint32


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
    counts = np.diff(at, append=len(keys)).astype(np.int64, copy=False)
    return indptr, unsigned_mod(distinct, size).astype(np.int64), counts


def unsigned_mod(x: npt.NDArray[_Unsigned], size: int,
                 out: npt.NDArray[_Unsigned] | None = None) -> npt.NDArray[_Unsigned]:
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
