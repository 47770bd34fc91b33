"""MinHash signatures of whole batches: one-permutation hashing with optimal densification (default),
or datasketch's ``MinHash`` (K independent permutations) as an optional engine and a reference.

One-permutation hashing (Li, Owen and Zhang 2012) splits the 64-bit shingle hash in two: the high bits
pick one of K bins, the low 32 bits are the value, and each bin keeps its minimum, so signing costs
O(shingles) instead of O(shingles x K). Bins that no shingle reached are filled by optimal densification
(Shrivastava 2017): empty bin j probes bins ``g(j, 1), g(j, 2), …`` (the same seeded sequence for every
document) and copies the first non-empty one, which keeps ``P(sig_a[j] == sig_b[j]) = J(a, b)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.hashing import U64, mix64, seed_key
from sievekit.duplicates.normalize import Tokenizer, Tokens
from sievekit.duplicates.shingles import Shingler

Sig = npt.NDArray[np.uint32]
ENGINES = ("numpy", "datasketch")
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def oph_signatures(hashes: U64, doc: npt.NDArray[np.int64], n_docs: int, num_perm: int, seed: int = 0) -> Sig:
    """One-permutation MinHash signatures, ``(n_docs, num_perm)`` uint32, from shingle hashes.

    Every document must have at least one shingle (the shingler guarantees it).

    Example:
        >>> h = np.array([1, 2, 3], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        >>> oph_signatures(h, np.array([0, 0, 1]), 2, 8).shape
        (2, 8)
    """
    bins = (((hashes >> _S32) * np.uint64(num_perm)) >> _S32).astype(np.int64)
    values = (hashes & _LOW32).astype(np.uint32)
    flat = doc * num_perm + bins
    sig = np.full(n_docs * num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    np.minimum.at(sig, flat, values)
    filled = np.zeros(n_docs * num_perm, dtype=bool)
    filled[flat] = True
    _densify(sig, filled, num_perm, seed_key(seed, "densify"))
    return sig.reshape(n_docs, num_perm)


def _densify(sig: Sig, filled: npt.NDArray[np.bool_], num_perm: int, key: np.uint64) -> None:
    empty = np.flatnonzero(~filled)
    if len(empty) == 0:
        return
    source = sig.copy()
    probes = ProbeTable.of(num_perm, key)
    row_base = empty - empty % num_perm
    bins = empty % num_perm
    # Each round tests the next `width` probes of every bin still empty at once (one gather, one argmax),
    # so the number of numpy calls grows with log(attempts), not with the attempts of the sparsest document.
    done, width = 0, 4
    while len(empty):
        cand = row_base[:, None] + probes.upto(done + width)[bins, done:done + width]
        hits = filled[cand]
        first = hits.argmax(axis=1)
        found = hits[np.arange(len(first)), first]
        sig[empty[found]] = source[cand[found, first[found]]]
        miss = ~found
        empty, row_base, bins = empty[miss], row_base[miss], bins[miss]
        done, width = done + width, width * 4


class ProbeTable:
    """Optimal densification's probe sequence of every bin, ``(num_perm, attempts)`` int64, grown on demand.

    Probe ``a`` (0-based) of bin ``j`` is ``g(j, a + 1)``: ``p_0 = mix64(j << 32 ^ key)``, ``p_a = mix64(p_{a-1}
    + a)``, and the bin is ``(p_a >> 32) * num_perm >> 32``. It depends only on ``(j, a)``, never on the
    document, so one table serves every batch (one per ``num_perm`` and seed per process).
    """

    _tables: dict[tuple[int, int], ProbeTable] = {}

    def __init__(self, num_perm: int, key: np.uint64) -> None:
        self.num_perm = num_perm
        self._state = mix64(np.arange(num_perm, dtype=np.uint64) << _S32 ^ key)
        self._cols: list[npt.NDArray[np.int64]] = []
        self._table = np.empty((num_perm, 0), dtype=np.int64)

    @classmethod
    def of(cls, num_perm: int, key: np.uint64) -> ProbeTable:
        return cls._tables.setdefault((num_perm, int(key)), cls(num_perm, key))

    def upto(self, attempts: int) -> npt.NDArray[np.int64]:
        """The table with at least ``attempts`` columns."""
        if self._table.shape[1] < attempts:
            while len(self._cols) < attempts:
                self._state = mix64(self._state + np.uint64(len(self._cols) + 1))
                self._cols.append((((self._state >> _S32) * np.uint64(self.num_perm)) >> _S32).astype(np.int64))
            self._table = np.stack(self._cols, axis=1)
        return self._table


def datasketch_signatures(hashes: U64, doc: npt.NDArray[np.int64], n_docs: int, num_perm: int,
                          seed: int = 0) -> Sig:
    """The same shingles through ``datasketch.MinHash`` (K affine permutations, one document at a time)."""
    from datasketch import MinHash

    order = np.argsort(doc, kind="stable")
    values = (hashes[order] >> _S32).tolist()  # datasketch's affine32 scheme takes 32-bit inputs
    bounds = np.searchsorted(doc[order], np.arange(n_docs + 1))
    out = np.empty((n_docs, num_perm), dtype=np.uint32)
    for i in range(n_docs):
        mh = MinHash(num_perm=num_perm, seed=seed, hashfunc=int)
        mh.update_batch(values[bounds[i]:bounds[i + 1]])
        out[i] = mh.hashvalues
    return out


def shingle_sets(hashes: U64, doc: npt.NDArray[np.int64], n_docs: int) -> tuple[Sig, npt.NDArray[np.int64]]:
    """Each document's sorted unique 32-bit shingle hashes (the high half of the 64-bit hash), concatenated in
    document order, and how many each document has: one sort of ``doc << 32 | hash`` keys."""
    keys = np.sort((doc.astype(np.uint64) << _S32) | (hashes >> _S32))
    if len(keys):
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    counts = np.bincount((keys >> _S32).astype(np.int64), minlength=n_docs).astype(np.int64)
    return (keys & _LOW32).astype(np.uint32), counts


def jaccard_estimate(a: Sig, b: Sig) -> npt.NDArray[np.float64]:
    """Row-wise share of equal slots between two ``(n, K)`` signature arrays: the estimated Jaccard."""
    return np.asarray((a == b).mean(axis=-1), dtype=np.float64)


class Signer:
    """Texts in, MinHash signatures and exact-copy keys out; vectorised over a batch.

    Args:
        num_perm: signature slots K (uint32 each).
        ngram: words per shingle.
        seed: seeds the word, shingle, bin and densification hashes (or datasketch's permutations).
        engine: ``numpy`` (one-permutation hashing, the default) or ``datasketch``.
        max_bytes: texts are signed in chunks of about this many bytes, which bounds the temporary arrays.

    Example:
        >>> s = Signer(num_perm=64)
        >>> sig, exact = s.sign(["a b c d e f", "a b c d e g"])
        >>> sig.shape, exact.shape
        ((2, 64), (2, 2))
    """

    def __init__(self, num_perm: int = 128, ngram: int = 5, seed: int = 0, engine: str = "numpy",
                 max_bytes: int = 1 << 17) -> None:
        if not 1 <= num_perm <= 1 << 16:
            raise ValueError(f"num_perm must be in 1..65536, got {num_perm}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.num_perm, self.ngram, self.seed, self.engine, self.max_bytes = num_perm, ngram, seed, engine, max_bytes
        self.tokenizer = Tokenizer(seed)
        self.shingler = Shingler(ngram, seed)

    def shingles(self, texts: Sequence[str]) -> tuple[U64, npt.NDArray[np.int64], Tokens]:
        tokens = self.tokenizer(texts)
        hashes, doc = self.shingler(tokens)
        return hashes, doc, tokens

    def sign(self, texts: Sequence[str]) -> tuple[Sig, U64]:
        """Signatures ``(n, K)`` uint32 and exact keys ``(n, 2)`` uint64 of the texts."""
        sig, exact, _, _ = self._sign(texts, False)
        return sig, exact

    def sign_with_sets(self, texts: Sequence[str]) -> tuple[Sig, U64, Sig, npt.NDArray[np.int64]]:
        """As ``sign``, plus every document's shingle set for exact verification: ``(values, counts)``, the
        sorted unique 32-bit shingle hashes of each document one after the other, and how many each has.

        32 bits are enough for a Jaccard: two documents of 10,000 shingles each share a false shingle with
        probability ~0.02, which moves their Jaccard by ~1e-6.

        Example:
            >>> _, _, values, counts = Signer(num_perm=8, ngram=2).sign_with_sets(["a b c", "a b a b"])
            >>> counts.tolist()  # "a b", "b c" / "a b", "b a" ("a b" twice counts once)
            [2, 2]
        """
        return self._sign(texts, True)

    def _sign(self, texts: Sequence[str], sets: bool) -> tuple[Sig, U64, Sig, npt.NDArray[np.int64]]:
        sigs, exacts, values, counts = [], [], [], []
        for chunk in self._chunks(texts):
            hashes, doc, tokens = self.shingles(chunk)
            make = oph_signatures if self.engine == "numpy" else datasketch_signatures
            sigs.append(make(hashes, doc, len(chunk), self.num_perm, self.seed))
            exacts.append(tokens.exact)
            if sets:
                v, c = shingle_sets(hashes, doc, len(chunk))
                values.append(v)
                counts.append(c)
        if not sigs:
            return (np.empty((0, self.num_perm), dtype=np.uint32), np.empty((0, 2), dtype=np.uint64),
                    np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int64))
        empty_v, empty_c = [np.empty(0, dtype=np.uint32)], [np.empty(0, dtype=np.int64)]
        return np.concatenate(sigs), np.concatenate(exacts), np.concatenate(values or empty_v), \
            np.concatenate(counts or empty_c)

    def _chunks(self, texts: Sequence[str]) -> list[Sequence[str]]:
        chunks, start, size = [], 0, 0
        for i, text in enumerate(texts):
            size += len(text)
            if size >= self.max_bytes:
                chunks.append(texts[start:i + 1])
                start, size = i + 1, 0
        if start < len(texts):
            chunks.append(texts[start:])
        return chunks
