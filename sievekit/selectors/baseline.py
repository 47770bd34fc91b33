"""Target-free baselines every data-selection study compares against: uniform random and length."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sievekit.selectors.base import Selector
from sievekit.selectors.registry import register


@dataclasses.dataclass(frozen=True)
class RandomConfig:
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the per-document random score"})


@register
class RandomSelector(Selector):
    """A uniform score in [0, 1) from a seeded hash of the text: the random-selection baseline.

    The score depends only on the seed and the text, so it is the same whatever the batch size, order
    or number of workers; identical texts get identical scores.
    """

    name = "random"
    algorithm = "random_blake2b_v1"
    Config = RandomConfig
    needs_target = False

    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        key = self.config.seed.to_bytes(8, "little", signed=True)
        digests = b"".join(
            hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8, key=key).digest() for t in texts
        )
        # The top 53 bits of each digest, scaled into [0, 1), as numpy's own doubles are made.
        return (np.frombuffer(digests, dtype="<u8") >> np.uint64(11)).astype(np.float64) * 2.0**-53


@register
class LengthSelector(Selector):
    """The document's length in UTF-8 bytes: the length baseline (and a check on length bias)."""

    name = "length"
    algorithm = "length_utf8_v1"
    needs_target = False

    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        sizes = (len(t.encode("utf-8", "surrogatepass")) for t in texts)
        return np.fromiter(sizes, dtype=np.float64, count=len(texts))
