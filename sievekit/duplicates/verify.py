"""Candidate checks: estimated Jaccard from signatures (``sig``), true Jaccard of shingle sets (``exact``), none."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sievekit.duplicates.cluster import I64, Verifier
from sievekit.duplicates.minhash import Signer, jaccard_estimate
from sievekit.duplicates.sources import SigStore, Source, texts_at


def true_jaccard(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> float:
    """Jaccard of two sorted, unique hash arrays."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


class ShingleSets:
    """Shingle-hash sets of the documents candidates name, read from the inputs again when first needed."""

    def __init__(self, sources: Sequence[Source], signer: Signer) -> None:
        self.sources = list(sources)
        self.signer = signer
        self.offsets = np.array([s.offset for s in sources], dtype=np.int64)
        self.sets: dict[int, npt.NDArray[np.uint64]] = {}

    def load(self, idx: I64) -> None:
        missing = np.array([i for i in np.unique(idx).tolist() if i not in self.sets], dtype=np.int64)
        if not len(missing):
            return
        src = np.searchsorted(self.offsets, missing, side="right") - 1
        for s in np.unique(src).tolist():
            source = self.sources[s]
            rows, texts = [], []
            for row, text in texts_at(source, missing[src == s] - source.offset):
                rows.append(row)
                texts.append(text)
            hashes, doc, _ = self.signer.shingles(texts)
            order = np.argsort(doc, kind="stable")
            by_doc = hashes[order]
            bounds = np.searchsorted(doc[order], np.arange(len(texts) + 1))
            for i, row in enumerate(rows):
                self.sets[source.offset + row] = np.unique(by_doc[bounds[i]:bounds[i + 1]])

    def jaccard(self, u: I64, v: I64) -> npt.NDArray[np.float64]:
        self.load(np.concatenate((u, v)))
        pairs = zip(u.tolist(), v.tolist(), strict=True)
        return np.array([true_jaccard(self.sets[a], self.sets[b]) for a, b in pairs], dtype=np.float64)


def make_verifier(mode: str, threshold: float, store: SigStore, sets: ShingleSets | None) -> Verifier:
    """The check every candidate pair must pass to become an edge."""
    if mode == "none":
        return lambda u, v: np.ones(len(u), dtype=bool)
    if mode == "exact":
        assert sets is not None
        return lambda u, v: sets.jaccard(u, v) >= threshold
    return lambda u, v: estimate_pairs(store, u, v) >= threshold


def estimate_pairs(store: SigStore, u: I64, v: I64, chunk: int = 1 << 12) -> npt.NDArray[np.float64]:
    """Estimated Jaccard of each pair, gathering signatures a chunk at a time (1 KB a pair at once otherwise)."""
    parts = [jaccard_estimate(store.gather(u[i:i + chunk]), store.gather(v[i:i + chunk]))
             for i in range(0, len(u), chunk)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
