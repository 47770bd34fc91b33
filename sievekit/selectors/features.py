"""The classifier's feature rows: ``1 + log(tf)`` over hashed n-gram buckets, each row L2-normalised.

:class:`Features` holds them in CSR form for fitting (scipy's ``csr_matrix`` takes the arrays as they are);
:func:`tf_scores` scores texts against a weight vector without building them: with the compiled kernels
(``ngram_jit``) each text's distinct buckets are counted and scored in one loop, and the numpy path builds the
rows and takes their dot product. Both give the same bits: the same values (``log_tf``'s table), summed in the
same order (by bucket, from 0.0, left to right).

Example:
    >>> from sievekit.selectors.ngrams import NgramFeaturizer
    >>> f = NgramFeaturizer(buckets=64, order=1, lowercase=False)
    >>> rows = Features.from_texts(f, ["a a b", ""])
    >>> rows.indptr.tolist(), round(float((rows.values ** 2).sum()), 6)
    ([0, 2, 2], 1.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sievekit.selectors.ngram_jit import encode, kernels
from sievekit.selectors.ngrams import _SEEDS, NgramFeaturizer
from sievekit.selectors.wordpunct import byte_classes

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

FEATURIZE_BATCH = 1024
# ``1 + log(c)`` of every count below this, computed once by numpy's log: both paths read their values here.
LOG_TABLE_SIZE = 1 << 16
_LOG_TF = np.ones(LOG_TABLE_SIZE)
_LOG_TF[1:] += np.log(np.arange(1, LOG_TABLE_SIZE, dtype=np.float64))


def log_tf(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """``1 + log(counts)`` (counts >= 1), from the table where it reaches."""
    if len(counts) == 0 or counts.max() < LOG_TABLE_SIZE:
        return _LOG_TF[counts]
    return np.where(counts < LOG_TABLE_SIZE, _LOG_TF[np.minimum(counts, LOG_TABLE_SIZE - 1)], 1.0 + np.log(counts))


@dataclasses.dataclass(frozen=True)
class Features:
    """Rows of ``1 + log(tf)`` over hashed n-gram buckets, each row L2-normalised, in CSR form.

    Attributes:
        indptr: int64, length ``n_docs + 1``.
        indices: int64 bucket ids, sorted within each row.
        values: float64 feature values (an empty document is an all-zero row).
        num_buckets: the width of the rows.
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    num_buckets: int

    @property
    def n_docs(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_texts(cls, featurizer: NgramFeaturizer, texts: Sequence[str]) -> Features:
        """Featurise ``texts`` (one batch; see :func:`featurize` for any number)."""
        indptr, indices, counts = featurizer.counts(texts)
        values = log_tf(counts)
        doc = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        norms = np.sqrt(np.bincount(doc, weights=values * values, minlength=len(indptr) - 1))
        return cls(indptr, indices, values / norms[doc], featurizer.buckets)

    @classmethod
    def concat(cls, parts: Sequence[Features], num_buckets: int) -> Features:
        """The rows of every part, in order."""
        if not parts:
            return cls(np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.float64), num_buckets)
        offsets = np.cumsum([0] + [len(p.indices) for p in parts[:-1]])
        indptr = np.concatenate([[0]] + [p.indptr[1:] + off for p, off in zip(parts, offsets)]).astype(np.int64)
        return cls(indptr, np.concatenate([p.indices for p in parts]), np.concatenate([p.values for p in parts]),
                   num_buckets)

    def take(self, rows: npt.ArrayLike) -> Features:
        """The given rows, in the given order (e.g. a sample of a featurised pool)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        entries = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return Features(indptr, self.indices[entries], self.values[entries], self.num_buckets)

    def dot(self, weights: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """``weights · row`` for every row (float32 weights are widened to float64 exactly)."""
        doc = np.repeat(np.arange(self.n_docs), np.diff(self.indptr))
        # bincount sums each row's products left to right from 0.0, as the kernel does; it returns float64
        # already, and asarray only tells the type checker so.
        products = self.values * weights[self.indices].astype(np.float64, copy=False)
        return np.asarray(np.bincount(doc, weights=products, minlength=self.n_docs), dtype=np.float64)

    def to_scipy(self) -> csr_matrix:
        """The rows as a ``scipy.sparse.csr_matrix`` (scipy must be installed)."""
        from scipy.sparse import csr_matrix

        return csr_matrix((self.values, self.indices, self.indptr), shape=(self.n_docs, self.num_buckets))


def featurize(featurizer: NgramFeaturizer, texts: Iterable[str]) -> Features:
    """:class:`Features` of any number of texts, featurised ``FEATURIZE_BATCH`` at a time."""
    it = iter(texts)
    parts = []
    while batch := list(islice(it, FEATURIZE_BATCH)):
        parts.append(Features.from_texts(featurizer, batch))
    return Features.concat(parts, featurizer.buckets)




def tf_scores(featurizer: NgramFeaturizer, texts: Sequence[str], weights: npt.NDArray[np.floating]
              ) -> npt.NDArray[np.float64]:
    """``Features.from_texts(featurizer, texts).dot(weights)``, bit for bit, without building the rows where the
    compiled kernels are in use.

    Args:
        featurizer: the n-gram featurizer.
        texts: one batch of texts.
        weights: one weight per bucket, float64 or float32 (the classifier's weights are float32 values).
    """
    jit = kernels() if featurizer.hash == "fast" else None
    if jit is None:
        return Features.from_texts(featurizer, texts).dot(weights)
    batch = encode(jit, texts, featurizer.lowercase)
    out = np.empty(len(texts), dtype=np.float64)
    overflow = jit.tf_scores(batch.data, byte_classes(), batch.wide, batch.starts, batch.lowercase, featurizer.order,
                             featurizer.buckets, _SEEDS, weights, _LOG_TF, out)
    if len(overflow):  # a bucket counted LOG_TABLE_SIZE times or more in one text: scored the numpy way
        out[overflow] = Features.from_texts(featurizer, [texts[i] for i in overflow.tolist()]).dot(weights)
    return out
