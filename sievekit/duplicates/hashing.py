"""Seeded, process-stable 64-bit hashing on numpy arrays (never Python's ``hash()``, which is salted per process).

Everything here is plain wrapping uint64 arithmetic, so the same text and seed give the same hashes on
every machine, in every process, with any number of workers.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(x: U64) -> U64:
    """The splitmix64 finaliser: a bijection on uint64 whose every output bit depends on every input bit.

    Example:
        >>> int(mix64(np.array([0], dtype=np.uint64))[0])
        0
    """
    x = x ^ (x >> _S30)
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def seed_key(seed: int, purpose: str) -> np.uint64:
    """A 64-bit constant derived from the run's seed and a purpose label (blake2b: stable across processes)."""
    digest = hashlib.blake2b(f"{purpose}:{seed}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def odd_multiplier(seed: int, purpose: str) -> np.uint64:
    """An odd 64-bit multiplier (odd, so it is invertible modulo 2**64 and loses no bits)."""
    return seed_key(seed, purpose) | np.uint64(1)


class PowerTable:
    """Powers ``q**0 … q**n`` modulo 2**64, grown on demand and reused across batches.

    Use ``PowerTable.of(q)``: one table per multiplier per process, so signers of many shards share it.
    """

    _tables: dict[int, PowerTable] = {}

    def __init__(self, q: np.uint64) -> None:
        self.q = q
        self._powers = np.ones(1, dtype=np.uint64)

    @classmethod
    def of(cls, q: np.uint64) -> PowerTable:
        return cls._tables.setdefault(int(q), cls(q))

    def upto(self, n: int) -> U64:
        if len(self._powers) <= n:
            size = max(n + 1, 2 * len(self._powers))
            steps = np.full(size, self.q, dtype=np.uint64)
            steps[0] = 1
            self._powers = np.cumprod(steps, dtype=np.uint64)
        return self._powers[: n + 1]
