"""ZIP-FIT (Obbad et al., 2024): compression alignment of a document with a target set, the faithful method.

``alignment(x) = 1 - (1/M) * sum_j NCD(x, t_j)`` with
``NCD(x, t) = (C(x+t) - min(C(x), C(t))) / max(C(x), C(t))``, where ``C`` is the length in bytes of the
whole gzip member (10-byte header, DEFLATE body, 8-byte trailer) and ``x+t`` is the plain concatenation
of the UTF-8 bytes, x first.

Speed without changing a single score: ``gzip.compress`` is a 10-byte header, a raw DEFLATE stream and an
8-byte trailer, so ``C(s) = len(raw_deflate(s)) + 18``. DEFLATE output does not depend on how the input is
fed in, so the compressor is fed ``x`` once and its state is copied for each target: each pair then costs
the compression of ``t`` (plus a state copy), never re-compressing ``x`` M times. ``C(t)`` is computed once
at fit time. Memory is O(M) for the targets plus one document: the N x M pairs are never held.
"""

from __future__ import annotations

import base64
import dataclasses
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sievekit.allocator import tune_allocator
from sievekit.errors import ConfigError
from sievekit.selectors.base import Selector, decode_array, encode_array
from sievekit.selectors.registry import register

GZIP_OVERHEAD = 18  # gzip member header (10 bytes, no file name) + trailer (CRC32 and size, 8 bytes)
DEFLATE_WINDOW = 32 * 1024
DEFAULT_MIN_BYTES = 64


class PairBeyondWindowWarning(UserWarning):
    """A document + target pair is longer than DEFLATE's 32 KiB window: t cannot see all of x."""


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def check_min_bytes(value: int) -> None:
    if value < 0:
        raise ValueError(f"min_bytes must be >= 0, got {value}")


def pack_texts(items: Sequence[bytes]) -> dict[str, Any]:
    """A list of byte strings as JSON-safe base64 of their concatenation plus their lengths."""
    lengths = np.fromiter((len(b) for b in items), dtype=np.int64, count=len(items))
    return {"b64": base64.b64encode(b"".join(items)).decode("ascii"), "lengths": encode_array(lengths)}


def unpack_texts(obj: Mapping[str, Any]) -> list[bytes]:
    data = base64.b64decode(obj["b64"])
    ends = np.cumsum(decode_array(obj["lengths"])).tolist()
    return [data[a:b] for a, b in zip([0, *ends[:-1]], ends)]


def gzip_len(data: bytes, level: int) -> int:
    """Length of ``gzip.compress(data, level)`` without building the member."""
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return len(comp.compress(data)) + len(comp.flush()) + GZIP_OVERHEAD


@dataclasses.dataclass(frozen=True)
class ZipFitConfig:
    level: int = dataclasses.field(default=1, metadata={"help": "gzip level 1-9 (0, stored mode, would rank by "
                                                                "length alone, so it is refused)"})
    target_sample: int = dataclasses.field(default=0, metadata={"help": "use a seeded random subset of this many "
                                                                        "targets (0: all of them)"})
    min_bytes: int = dataclasses.field(default=DEFAULT_MIN_BYTES, metadata={
        "help": "documents shorter than this many UTF-8 bytes score -inf (never selected): under the formula an "
                "empty or tiny document outranks real text"})
    max_pair_bytes: int = dataclasses.field(default=DEFLATE_WINDOW, metadata={
        "help": "pairs longer than this are beyond DEFLATE's 32 KiB window (x is partly invisible to t)"})
    on_long_pair: Literal["warn", "truncate"] = dataclasses.field(default="warn", metadata={
        "help": "warn: warn once and score as is; truncate: cut targets to max_pair_bytes/2 and documents so "
                "that every pair fits"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the --target-sample draw"})

    def __post_init__(self) -> None:
        if self.level == 0:
            raise ValueError("level 0 is gzip's stored mode (no compression): every score would be a function of "
                             "length alone; choose a level from 1 to 9 (default 1)")
        if not 1 <= self.level <= 9:
            raise ValueError(f"level must be within 1..9, got {self.level}")
        if self.target_sample < 0:
            raise ValueError(f"target_sample must be >= 0 (0 means all targets), got {self.target_sample}")
        check_min_bytes(self.min_bytes)
        if self.max_pair_bytes < 2:
            raise ValueError(f"max_pair_bytes must be >= 2, got {self.max_pair_bytes}")
        if self.on_long_pair not in ("warn", "truncate"):
            raise ValueError(f"on_long_pair must be warn or truncate, got {self.on_long_pair!r}")


@register
class ZipFitSelector(Selector):
    """ZIP-FIT: one minus the mean gzip NCD between the document and every target (higher = more aligned).

    Example:
        >>> sel = ZipFitSelector(ZipFitConfig(min_bytes=0)).fit(["def mul(a, b):\\n    return a * b\\n"])
        >>> round(sel.score("def add(a, b):\\n    return a + b\\n"), 4)
        0.78
    """

    name = "zipfit"
    algorithm = "zipfit_gzip_v1"
    Config = ZipFitConfig

    def __init__(self, config: ZipFitConfig | None = None) -> None:
        super().__init__(config)
        self.targets: list[bytes] = []
        self.target_rows: list[int] = []
        self.c_target = np.empty(0, dtype=np.float64)
        self._max_doc = -1  # truncate mode: longest document prefix kept (-1: no truncation)
        self._longest = 0
        self._warned = False

    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> ZipFitSelector:
        texts = [utf8(t) for t in target]
        if not texts:
            raise ConfigError("zipfit needs at least one target text", hint="pass a non-empty --target")
        rows = list(range(len(texts)))
        m = self.config.target_sample
        if 0 < m < len(texts):
            rng = np.random.default_rng(self.config.seed)
            rows = sorted(rng.choice(len(texts), size=m, replace=False).tolist())
        self._set_targets([texts[i] for i in rows], rows)
        return self

    def _set_targets(self, targets: list[bytes], rows: list[int]) -> None:
        cfg = self.config
        if cfg.on_long_pair == "truncate":
            targets = [t[: cfg.max_pair_bytes // 2] for t in targets]
            self._max_doc = cfg.max_pair_bytes - max(len(t) for t in targets)
        self.targets, self.target_rows = targets, rows
        self._longest = max(len(t) for t in targets)
        self.c_target = np.array([gzip_len(t, cfg.level) for t in targets], dtype=np.float64)

    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        tune_allocator()
        out = np.full(len(texts), -np.inf, dtype=np.float64)
        for i, text in enumerate(texts):
            data = utf8(text)
            if len(data) >= self.config.min_bytes:
                out[i] = self.score_bytes(data)
        return out

    def score_bytes(self, x: bytes) -> float:
        """The ZIP-FIT alignment of one document given as bytes (no length rule applied)."""
        if self._max_doc >= 0:
            x = x[: self._max_doc]
        elif not self._warned and len(x) + self._longest > self.config.max_pair_bytes:
            self._warned = True
            warnings.warn(f"zipfit: a {len(x):,}-byte document paired with a target exceeds --max-pair-bytes "
                          f"{self.config.max_pair_bytes:,} (DEFLATE sees only 32 KiB back); scores of long pairs "
                          "understate alignment. Pass --on-long-pair truncate to cut them (warned once).",
                          PairBeyondWindowWarning, stacklevel=3)
        c_x, c_xt = self.pair_lengths(x)
        c_t = self.c_target
        ncd = (c_xt - np.minimum(c_x, c_t)) / np.maximum(c_x, c_t)
        return float(1.0 - ncd.mean())

    def pair_lengths(self, x: bytes) -> tuple[float, npt.NDArray[np.float64]]:
        """``C(x)`` and ``C(x + t_j)`` for every target, compressing ``x`` only once."""
        comp = zlib.compressobj(self.config.level, zlib.DEFLATED, -15)
        head = len(comp.compress(x)) + GZIP_OVERHEAD
        c_x = head + len(comp.copy().flush())
        c_xt = np.empty(len(self.targets), dtype=np.float64)
        for j, t in enumerate(self.targets):
            pair = comp.copy()
            c_xt[j] = head + len(pair.compress(t)) + len(pair.flush())
        return float(c_x), c_xt

    def fitted_state(self) -> dict[str, Any]:
        return {"targets": pack_texts(self.targets), "target_rows": self.target_rows,
                "c_target": encode_array(self.c_target), "max_doc": self._max_doc}

    def load_fitted_state(self, state: Mapping[str, Any]) -> None:
        self.targets = unpack_texts(state["targets"])
        self._longest = max((len(t) for t in self.targets), default=0)
        self.target_rows = list(state["target_rows"])
        self.c_target = decode_array(state["c_target"])
        self._max_doc = int(state["max_doc"])
