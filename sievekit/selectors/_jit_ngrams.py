"""The hashed n-gram featurizer's compiled kernels (numba), loaded only through ``sievekit.selectors.ngram_jit``.

Each kernel is the numpy path of ``ngrams.py`` / ``hashed_batch.py`` / ``features.py`` written as loops over a
batch's bytes, tokens or n-grams, with the same integer arithmetic (so the same tokens, hashes and buckets) and, for
the scores, the same floating-point operations in the same order (so the same bits). The name starts with ``_``:
the selector registry imports every other module of the package, and this one imports numba, which costs half a
CPU-second.

Speed notes (measured, 2.1 GHz Xeon): the token scan keeps no branch that depends on the text (a branch per token
boundary mispredicts; masks do not), and each text's distinct buckets are put in order by two radix passes, which
numba's quicksort made the slowest step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sievekit.selectors._jit import njit

_MULT = np.uint64(0x100000001B3)  # ngrams._HASH's multiplier and _combine's (the 64-bit FNV prime)
_LENGTH = np.uint64(0xD6E8FEB86659FD93)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_ONE = np.uint64(1)
_RADIX_BITS = 10
_RADIX = 1 << _RADIX_BITS
_SHORT = 32  # a text with at most this many distinct buckets is sorted by insertion


@njit(inline="always")
def _mix64(x: Any) -> Any:
    x ^= x >> _S30
    x *= _MIX1
    x ^= x >> _S27
    x *= _MIX2
    x ^= x >> _S31
    return x


@njit(inline="always")
def _ngram_key(hashes: npt.NDArray[np.uint64], i: int, k: int, seed: np.uint64) -> Any:
    """``ngrams._combine``'s key of the k-gram starting at token ``i``."""
    if k == 1:
        return hashes[i]
    key = hashes[i] * _MULT
    for j in range(1, k):
        if j > 1:
            key *= _MULT
        key += hashes[i + j]
        key += seed
        key = _mix64(key)
    return key


@njit()
def wide_classes(data: npt.NDArray[np.uint8], lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64],
                 cp_class: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], int]:
    """The class of every byte of a non-ASCII character within ``data[lo[r]:hi[r]]`` (its character's: 0 space,
    1 word, 2 other; the other entries are left unset), and -1, or a code point that ``cp_class`` does not
    cover (the caller then passes the full table)."""
    out = np.empty(len(data), dtype=np.uint8)
    for r in range(len(lo)):
        pos = lo[r]
        while pos < hi[r]:
            b = data[pos]
            if b < 0xC0:  # ASCII, or a continuation byte (classed with its lead byte)
                pos += 1
                continue
            width, cp = (4, b & 0x07) if b >= 0xF0 else (3, b & 0x0F) if b >= 0xE0 else (2, b & 0x1F)
            for j in range(1, width):
                cp = (cp << 6) | (data[pos + j] & 0x3F)
            if cp >= len(cp_class):
                return out, cp
            out[pos: pos + width] = cp_class[cp]
            pos += width
    return out, -1


@njit(inline="always")
def _scan_text(data: npt.NDArray[np.uint8], lo: int, hi: int, byte_class: npt.NDArray[np.uint8],
               wide: npt.NDArray[np.uint8], lowercase: bool, raw: npt.NDArray[np.uint64],
               lengths: npt.NDArray[np.int64], at: int) -> int:
    """The fast hash of every token of ``data[lo:hi]`` (``data[hi]`` is a space) into ``raw[at:]``; returns the
    end of what it wrote. ``raw`` needs room for ``hi - lo + 1`` entries past ``at``, ``lengths`` for as many.

    A token is a maximal run of characters of one non-zero class: a byte's class is ``byte_class[b]``, or,
    where that is 3 (a byte of a non-ASCII character), ``wide``'s. Its hash is ``ngrams._HASH`` of its bytes,
    ``sum(b[j] * m**j)``, then its length and the splitmix64 finaliser.
    """
    n, cur, h, power, length = at, np.uint8(0), np.uint64(0), _ONE, np.int64(0)
    for i in range(lo, hi + 1):
        b = data[i]
        if lowercase:
            b += np.uint8(32) * np.uint8(np.uint8(b - np.uint8(65)) < np.uint8(26))
        c = byte_class[b]
        if c == 3:
            c = wide[i]
        boundary = c != cur
        # Written at every byte, kept (n moves on) only where a token ends: no branch on the text.
        raw[n], lengths[n - at] = h, length
        n += boundary & (cur != 0)
        keep = np.uint64(boundary) - _ONE  # all ones inside a run, 0 where one starts
        p = (power & keep) | (_ONE & ~keep)
        h = (h & keep) + np.uint64(b) * p
        power = p * _MULT
        length = (length & np.int64(keep)) + 1
        cur = c
    for t in range(at, n):
        raw[t] = _mix64(raw[t] ^ (np.uint64(lengths[t - at]) * _LENGTH))
    return n


@njit()
def scan_tokens(data: npt.NDArray[np.uint8], byte_class: npt.NDArray[np.uint8], wide: npt.NDArray[np.uint8],
                starts: npt.NDArray[np.int64], lowercase: bool
                ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """The fast hash of every token of every text (``_scan_text``), and each text's number of tokens.

    ``data`` starts and ends with a space, and texts are separated by one: text ``d`` is
    ``data[starts[d]:starts[d + 1] - 1]``.
    """
    n_docs = len(starts) - 1
    raw = np.empty(len(data), dtype=np.uint64)
    lengths = np.empty(np.max(np.diff(starts)) + 1 if n_docs else 1, dtype=np.int64)
    n_tokens = np.empty(n_docs, dtype=np.int64)
    n = 0
    for d in range(n_docs):
        end = _scan_text(data, starts[d], starts[d + 1] - 1, byte_class, wide, lowercase, raw, lengths, n)
        n_tokens[d] = end - n
        n = end
    return raw[:n], n_tokens


@njit()
def write_buckets(hashes: npt.NDArray[np.uint64], n_tokens: npt.NDArray[np.int64], order: int, buckets: int,
                  seeds: npt.NDArray[np.uint64], bucket_ids: npt.NDArray[np.integer[Any]]) -> None:
    """Every k-gram's bucket, k = 1..order, in ``HashedBatch``'s layout (by order, then text; its documents follow
    from ``n_tokens``), into ``bucket_ids`` (of any integer type holding ``buckets - 1``)."""
    size, at = np.uint64(buckets), 0
    for k in range(1, order + 1):
        tok = 0
        for d in range(len(n_tokens)):
            for i in range(tok, tok + n_tokens[d] - k + 1):
                bucket_ids[at] = _ngram_key(hashes, i, k, seeds[k]) % size
                at += 1
            tok += n_tokens[d]


@njit(inline="always")
def _sort(keys: npt.NDArray[np.int64], m: int, tmp: npt.NDArray[np.int64], hist: npt.NDArray[np.int64]) -> None:
    """``keys[:m]`` (distinct, each below 2**20) sorted in place: by insertion when short, else by two radix
    passes of 10 bits."""
    if m <= _SHORT:
        for j in range(1, m):
            x, i = keys[j], j - 1
            while i >= 0 and keys[i] > x:
                keys[i + 1] = keys[i]
                i -= 1
            keys[i + 1] = x
        return
    for shift in (0, _RADIX_BITS):
        hist[:] = 0
        for j in range(m):
            hist[(keys[j] >> shift) & (_RADIX - 1)] += 1
        total = 0
        for r in range(_RADIX):
            count = hist[r]
            hist[r] = total
            total += count
        for j in range(m):
            r = (keys[j] >> shift) & (_RADIX - 1)
            tmp[hist[r]] = keys[j]
            hist[r] += 1
        keys[:m] = tmp[:m]


@njit(inline="always")
def _distinct(hashes: npt.NDArray[np.uint64], tok: int, n: int, order: int, size: np.uint64,
              seeds: npt.NDArray[np.uint64], counts: npt.NDArray[np.integer[Any]], touched: npt.NDArray[np.int64],
              tmp: npt.NDArray[np.int64], hist: npt.NDArray[np.int64]) -> int:
    """Count one text's n-grams (tokens ``tok .. tok + n``) into ``counts``; its distinct buckets go, sorted, into
    the front of ``touched``, and their number is returned. The caller zeroes those counts again.

    A narrow ``counts`` wraps past its top (a bucket then shows up twice in ``touched``, and one of its counts
    reads 0): the caller must check for that."""
    m = 0
    for k in range(1, order + 1):
        for i in range(tok, tok + n - k + 1):
            b = np.int64(_ngram_key(hashes, i, k, seeds[k]) % size)
            touched[m] = b
            c = counts[b]
            m += c == 0
            counts[b] = c + 1
    _sort(touched, m, tmp, hist)
    return m


@njit()
def csr_counts(hashes: npt.NDArray[np.uint64], n_tokens: npt.NDArray[np.int64], order: int, buckets: int,
               seeds: npt.NDArray[np.uint64], indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int64],
               values: npt.NDArray[np.int64]) -> None:
    """``HashedBatch.to_csr``: each text's distinct buckets (sorted) and their counts, written from
    ``indptr[0]`` on, with ``indptr[1:]`` set."""
    counts = np.zeros(buckets, dtype=np.int32)
    touched = np.empty(max(1, order * (np.max(n_tokens) if len(n_tokens) else 0)), dtype=np.int64)
    tmp, hist = np.empty_like(touched), np.empty(_RADIX, dtype=np.int64)
    size, tok, at = np.uint64(buckets), 0, indptr[0]
    for d in range(len(n_tokens)):
        m = _distinct(hashes, tok, n_tokens[d], order, size, seeds, counts, touched, tmp, hist)
        for j in range(m):
            b = touched[j]
            indices[at], values[at] = b, counts[b]
            counts[b] = 0
            at += 1
        indptr[d + 1] = at
        tok += n_tokens[d]


@njit()
def tf_scores(data: npt.NDArray[np.uint8], byte_class: npt.NDArray[np.uint8], wide: npt.NDArray[np.uint8],
              starts: npt.NDArray[np.int64], lowercase: bool, order: int, buckets: int,
              seeds: npt.NDArray[np.uint64], weights: npt.NDArray[np.float32], log_tf: npt.NDArray[np.float64],
              out: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """``weights · x`` for each text's row ``x`` of ``1 + log(tf)`` values, L2-normalised, into ``out``.

    Text by text (laid out as for ``scan_tokens``): its tokens are hashed into scratch arrays, its n-grams counted
    and put in bucket order, and its score summed, all in a core's caches. The operations and their order are
    ``features.py``'s: ``v = log_tf[c]`` per distinct bucket in increasing order, ``norm = sqrt(sum(v * v))``,
    then ``sum((v / norm) * w)``, each sum from 0.0 left to right. Returns the texts with a count past
    ``log_tf``'s end (their ``out`` is not set; the caller scores them).
    """
    n_docs = len(starts) - 1
    longest = np.max(np.diff(starts)) + 1 if n_docs else 1
    hashes, lengths = np.empty(longest, dtype=np.uint64), np.empty(longest, dtype=np.int64)
    # 16-bit counts: the 2 MB array of 2**20 buckets stays in a core's L2 cache (measured 1.25-1.7x faster than
    # 32-bit ones); a count that wraps is past the log table anyway, and its text goes back to the caller.
    counts = np.zeros(buckets, dtype=np.uint16)
    touched = np.empty(order * longest, dtype=np.int64)
    tmp, hist = np.empty_like(touched), np.empty(_RADIX, dtype=np.int64)
    values = np.empty(len(touched), dtype=np.float64)
    size, top = np.uint64(buckets), min(len(log_tf), 1 << 16)
    overflow = np.zeros(n_docs, dtype=np.bool_)
    for d in range(n_docs):
        n = _scan_text(data, starts[d], starts[d + 1] - 1, byte_class, wide, lowercase, hashes, lengths, 0)
        m = _distinct(hashes, 0, n, order, size, seeds, counts, touched, tmp, hist)
        squares = 0.0
        for j in range(m):
            b = touched[j]
            c = int(counts[b])
            counts[b] = 0
            if c == 0 or c >= top:  # wrapped, or past the table
                overflow[d] = True
                c = 1
            values[j] = log_tf[c]
            squares += values[j] * values[j]
        norm, total = np.sqrt(squares), 0.0
        for j in range(m):
            total += (values[j] / norm) * np.float64(weights[touched[j]])
        out[d] = total
    return np.flatnonzero(overflow)


@njit()
def ngram_dot(bucket_ids: npt.NDArray[np.integer[Any]], n_tokens: npt.NDArray[np.int64], order: int,
              chunks: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], out: npt.NDArray[np.float64]) -> None:
    """``HashedBatch.dot``: ``out[d] += weights[b]`` (``out`` zeroed by the caller) for every n-gram ``b`` of text
    ``d``, walking the batch's layout (by chunk, then order, then text). These are the additions
    ``np.bincount(doc_ids, weights[bucket_ids])`` makes, in its order, so they give the same bits."""
    at = 0
    for c in range(len(chunks) - 1):
        for k in range(1, order + 1):
            for d in range(chunks[c], chunks[c + 1]):
                end = at + max(n_tokens[d] - k + 1, 0)
                acc = out[d]
                for j in range(at, end):
                    acc += weights[bucket_ids[j]]
                out[d] = acc
                at = end


@njit()
def add_counts(bucket_ids: npt.NDArray[np.integer[Any]], total: npt.NDArray[np.int64]) -> None:
    """``total += np.bincount(bucket_ids, minlength=len(total))`` in one pass, without an int64 copy of the ids."""
    for j in range(len(bucket_ids)):
        total[bucket_ids[j]] += 1
