"""``MinHashDeduper``: the in-memory, streaming form of dedupe, for pools that fit in RAM.

Each batch is signed as in the staged run; a document is dropped when its exact key was seen or when it
shares a band with an earlier *kept* document and passes the check (true Jaccard of the shingle sets >=
threshold with ``verify="exact"``, estimated Jaccard with ``"sig"``, none with ``"none"``). Kept documents
are indexed, dropped ones are not, so the result is greedy, first-come (the staged run instead joins chains
of near duplicates into clusters). Memory grows with the kept documents: a signature (4 bytes a slot) plus
one dict entry per band (~100 bytes each in CPython), about 2 KB a document with the defaults, plus its
shingle set with ``verify="exact"`` (4 bytes a shingle, about one a word); use ``sievekit.dedupe`` (sorting
on disk) beyond that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.banding import band_keys
from sievekit.duplicates.minhash import Signer
from sievekit.duplicates.options import DedupeConfig
from sievekit.io.batch import Batch


class MinHashDeduper:
    """Streaming exact + near-duplicate filter with parameters after datasketch's ``MinHashLSH``.

    Args:
        config: threshold, slots, n-gram size, seed, engine and check.

    Example:
        >>> d = MinHashDeduper(DedupeConfig(threshold=0.5, ngram=2))
        >>> d.keep_mask(["a b c d e", "A b, c d e!", "x y z"])
        [True, False, True]
    """

    def __init__(self, config: DedupeConfig | None = None) -> None:
        self.config = config or DedupeConfig()
        c = self.config
        self.signer = Signer(c.num_perm, c.ngram, c.seed, c.engine)
        self.banding = c.banding
        self._exact: set[bytes] = set()
        self._tables: list[dict[int, int]] = [{} for _ in range(self.banding.bands)]
        self._kept = np.empty((0, c.num_perm), dtype=np.uint32)
        self._sets: list[npt.NDArray[np.uint32]] = []  # kept documents' shingle sets (verify="exact")
        self.seen = 0

    def keep_mask(self, batch: Batch | Sequence[str]) -> list[bool]:
        """One bool per document of the batch: True for the first copy, False for a duplicate of any
        document kept so far (in this batch or an earlier one)."""
        texts = batch.texts if isinstance(batch, Batch) else list(batch)
        sig, exact, values, counts = self.signer.sign_with_sets(texts)
        ends = np.cumsum(counts)
        sets = [values[e - c:e] for e, c in zip(ends.tolist(), counts.tolist(), strict=True)]
        b = self.banding
        keys = np.stack([band_keys(sig, i, b.rows, self.config.seed) for i in range(b.bands)], axis=1)
        mask: list[bool] = []
        new_rows: list[int] = []
        for i, row_keys in enumerate(keys.tolist()):
            ek = exact[i].tobytes()
            dup = ek in self._exact or self._near(sig[i], sets[i], row_keys, sig[new_rows])
            mask.append(not dup)
            if not dup:
                idx = len(self._kept) + len(new_rows)
                new_rows.append(i)
                self._sets.append(sets[i])
                self._exact.add(ek)
                for table, key in zip(self._tables, row_keys, strict=True):
                    table.setdefault(key, idx)
        self._kept = np.concatenate((self._kept, sig[new_rows]))
        self.seen += len(texts)
        return mask

    def _near(self, sig: np.ndarray, shingles: npt.NDArray[np.uint32], row_keys: list[int],
              pending: np.ndarray) -> bool:
        hits = {j for table, key in zip(self._tables, row_keys, strict=True) if (j := table.get(key)) is not None}
        if not hits:
            return False
        if self.config.verify == "none":
            return True
        for j in sorted(hits):
            if self.config.verify == "exact":
                other_set = self._sets[j]
                inter = len(np.intersect1d(shingles, other_set, assume_unique=True))
                if inter >= self.config.threshold * (len(shingles) + len(other_set) - inter):
                    return True
                continue
            other = self._kept[j] if j < len(self._kept) else pending[j - len(self._kept)]
            if float((other == sig).mean()) >= self.config.threshold:
                return True
        return False
