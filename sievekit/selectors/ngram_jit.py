"""The compiled path of the fast-hash featurizer: whether it is in use, and batches of texts in and out of it.

The kernels (``_jit_ngrams.py``) need numba, the ``sievekit[fast]`` extra. Without it, or with the environment
variable ``SIEVEKIT_JIT=0``, every caller takes its numpy path, and both give identical tokens, buckets, counts
and scores (tests/selectors/test_ngram_jit.py checks it over arbitrary Unicode text). Only the ``fast`` hash
has a compiled path; DSIR's sha256 parity mode always runs the numpy code.

numba compiles the kernels once per machine into its cache (``__pycache__``, or a per-user cache directory
when that one is read-only) and each process loads them from there on first use.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import numpy.typing as npt

from sievekit.selectors.wordpunct import byte_classes, codepoint_classes

ENV = "SIEVEKIT_JIT"  # "0": use the numpy path even where numba is installed
_NO_WIDE = np.zeros(0, dtype=np.uint8)
_ASTRAL = [False]  # whether this process has met a code point above U+FFFF (then it keeps the full table)


def kernels() -> ModuleType | None:
    """The compiled kernels, or ``None`` when numba is missing or ``SIEVEKIT_JIT=0``."""
    if os.environ.get(ENV, "1") == "0":
        return None
    return _import_kernels()


def _import_kernels() -> ModuleType | None:
    return compiled_module("_jit_ngrams")


@functools.cache
def compiled_module(name: str) -> ModuleType | None:
    """``sievekit.selectors.<name>``, a module of numba kernels, imported once; ``None`` where it does not import
    (numba missing, or built for another numpy). Callers check ``SIEVEKIT_JIT`` first."""
    try:
        return importlib.import_module(f"sievekit.selectors.{name}")
    except ImportError:
        return None


@dataclasses.dataclass(frozen=True)
class TokenHashes:
    """A batch's tokens as their fast hashes (``ngrams._HASH`` of each token's UTF-8 bytes).

    Attributes:
        hashes: uint64, every token of every text, in order.
        n_tokens: int64, the number of tokens of each text.
    """

    hashes: npt.NDArray[np.uint64]
    n_tokens: npt.NDArray[np.int64]

    def n_ngrams(self, k: int) -> int:
        """The number of k-grams (within one text) of the batch."""
        return int(np.maximum(self.n_tokens - (k - 1), 0).sum())


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A batch laid out for the kernels as ``wordpunct.token_spans`` lays it out: in UTF-8 (lowercased by
    ``str.lower`` where not ASCII, if asked; ASCII bytes are lowercased in the kernels), with one space before,
    between and after the texts.

    Attributes:
        data: the bytes.
        starts: int64, text ``d`` is ``data[starts[d]:starts[d + 1] - 1]``.
        wide: the class of each byte of a non-ASCII character (other entries unset; empty for an ASCII batch).
        lowercase: whether the kernels lowercase ASCII bytes.
    """

    data: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    wide: npt.NDArray[np.uint8]
    lowercase: bool


def encode(jit: ModuleType, texts: Sequence[str], lowercase: bool) -> Encoded:
    """``texts`` as the kernels read them. Each text is encoded on its own: an ASCII one is a copy, while one
    non-ASCII character would send a joined string down the slow path of ``str.encode``."""
    # A text lowercased out of non-ASCII (the Kelvin sign's "k") stays flagged: wide_classes skips its ASCII bytes.
    ascii = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
    segments = [t if a else t.lower() for t, a in zip(texts, ascii.tolist())] if lowercase else texts
    encoded = [t.encode("utf-8", "surrogatepass") for t in segments]
    data = np.frombuffer(b" ".join([b"", *encoded, b""]), dtype=np.uint8)
    starts = np.ones(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) + 1, out=starts[1:])
    starts[1:] += 1
    wide = _NO_WIDE
    non_ascii = np.flatnonzero(~ascii)
    if len(non_ascii):  # only their bytes are looked at again
        wide, missing = jit.wide_classes(data, starts[non_ascii], starts[non_ascii + 1],
                                         codepoint_classes(_ASTRAL[0]))
        if missing >= 0:  # a code point above U+FFFF: the full table is built (once per process) only now
            _ASTRAL[0] = True
            wide, missing = jit.wide_classes(data, starts[non_ascii], starts[non_ascii + 1],
                                             codepoint_classes(True))
    return Encoded(data, starts, wide, lowercase)


def token_hashes(jit: ModuleType, texts: Sequence[str], lowercase: bool) -> TokenHashes:
    """Tokenise and hash ``texts`` with the kernels: the same tokens as ``wordpunct.token_spans``."""
    batch = encode(jit, texts, lowercase)
    return TokenHashes(*jit.scan_tokens(batch.data, byte_classes(), batch.wide, batch.starts, lowercase))
