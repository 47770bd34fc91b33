"""Fast compression selectors on zstd: a Moore-Lewis-style likelihood ratio, a conditional ratio, a density.

``zstd-ml`` is a cross-entropy difference computed with compressors (Moore and Lewis, 2010, with code
lengths in place of language-model log-likelihoods): ``(C_background(x) - C_target(x)) / len(x)``, where
``C_target`` compresses with a dictionary of the target texts and ``C_background`` with a dictionary of a
seeded random sample of the pool of about the same size. Both compressors write identical frames (no
checksum, no content size, no dictionary id), so the frame overhead cancels. Two compressions per document
(one more per extra background draw), O(N), streaming; the dictionaries travel to workers as bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import zstandard

from sievekit.errors import ConfigError
from sievekit.selectors.base import Selector
from sievekit.selectors.compress_align import DEFAULT_MIN_BYTES, check_min_bytes, utf8
from sievekit.selectors.compress_background import sample_backgrounds
from sievekit.selectors.registry import register

TRAINED_DICT_MAX = 112_640  # zstd's own default dictionary size (110 KiB)


def _check_level(level: int) -> None:
    if not 1 <= level <= 22:
        raise ValueError(f"level must be within 1..22 (zstd levels), got {level}")


def make_dict(texts: Sequence[bytes], mode: str, level: int) -> zstandard.ZstdCompressionDict:
    """A zstd dictionary: the texts' raw content (the last text is the closest match), or one trained on them."""
    if mode == "raw":
        d = zstandard.ZstdCompressionDict(b"".join(texts), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    else:
        size = min(TRAINED_DICT_MAX, sum(map(len, texts)))
        try:
            d = zstandard.train_dictionary(size, list(texts), level=level)
        except zstandard.ZstdError as exc:
            raise ConfigError(f"zstd could not train a dictionary on {len(texts)} texts ({exc})",
                              hint="use --dict-mode raw, or give more (and larger) texts") from None
    d.precompute_compress(level=level)
    return d


def dict_to_json(d: zstandard.ZstdCompressionDict) -> str:
    return base64.b64encode(d.as_bytes()).decode("ascii")


def dict_from_json(data: str, mode: str, level: int) -> zstandard.ZstdCompressionDict:
    kind = zstandard.DICT_TYPE_RAWCONTENT if mode == "raw" else zstandard.DICT_TYPE_FULLDICT
    d = zstandard.ZstdCompressionDict(base64.b64decode(data), dict_type=kind)
    d.precompute_compress(level=level)
    return d


def compressor(level: int, dictionary: zstandard.ZstdCompressionDict | None) -> zstandard.ZstdCompressor:
    # Identical frame flags on every side, so differences in length come from the content alone.
    return zstandard.ZstdCompressor(level=level, dict_data=dictionary, write_checksum=False,
                                    write_content_size=False, write_dict_id=False)


def lengths(comp: zstandard.ZstdCompressor, docs: Sequence[bytes]) -> npt.NDArray[np.float64]:
    """``len(comp.compress(d))`` for every document: the same frames, a batch at a time in one C call.

    ``multi_compress_to_buffer`` (one thread) loops over the batch in C on the compressor's own parameters and
    dictionary, into one shared output buffer: no Python call and no output allocation per document. It refuses
    a batch of no bytes at all, and python-zstandard's CFFI backend lacks it; those go one document at a time.
    """
    if sum(map(len, docs)) and hasattr(comp, "multi_compress_to_buffer"):
        try:
            frames = comp.multi_compress_to_buffer(list(docs), threads=1)
        except NotImplementedError:  # the CFFI backend declares the method but does not implement it
            pass
        else:
            return np.fromiter((len(frames[i]) for i in range(len(docs))), dtype=np.float64, count=len(docs))
    return np.fromiter((len(comp.compress(d)) for d in docs), dtype=np.float64, count=len(docs))


class _ZstdBase(Selector):
    """Shared: UTF-8 encoding, the ``min_bytes`` rule (shorter documents score ``-inf``), the scores."""

    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        data = [utf8(t) for t in texts]
        n = np.fromiter(map(len, data), dtype=np.float64, count=len(data))
        ok = n >= max(self.config.min_bytes, 1)
        out = np.full(len(texts), -np.inf, dtype=np.float64)
        if data and ok.all():  # the usual batch: no copy of the list
            out[:] = self.score_bytes(data, n)
        elif ok.any():
            out[ok] = self.score_bytes(list(itertools.compress(data, ok)), n[ok])
        return out

    def score_bytes(self, docs: Sequence[bytes], n: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class ZstdMLConfig:
    level: int = dataclasses.field(default=3, metadata={"help": "zstd level 1-22"})
    background_bytes: int = dataclasses.field(default=0, metadata={
        "help": "size of each background sample in bytes (0: the target's size; larger measured worse)"})
    background_draws: int = dataclasses.field(default=2, metadata={
        "help": "independent background samples whose code lengths are averaged (each costs one compression "
                "per document; two steady the ranking)"})
    dict_mode: Literal["raw", "trained"] = dataclasses.field(default="raw", metadata={
        "help": "raw: the texts themselves are the dictionary; trained: zstd's dictionary trainer (110 KiB max)"})
    min_bytes: int = dataclasses.field(default=DEFAULT_MIN_BYTES, metadata={
        "help": "documents shorter than this many UTF-8 bytes score -inf (never selected)"})
    seed: int = dataclasses.field(default=0, metadata={"help": "seed of the background sample"})

    def __post_init__(self) -> None:
        _check_level(self.level)
        if self.background_bytes < 0:
            raise ValueError(f"background_bytes must be >= 0 (0: the target's size), got {self.background_bytes}")
        if not 1 <= self.background_draws <= 8:
            raise ValueError(f"background_draws must be within 1..8, got {self.background_draws}")
        if self.dict_mode not in ("raw", "trained"):
            raise ValueError(f"dict_mode must be raw or trained, got {self.dict_mode!r}")
        check_min_bytes(self.min_bytes)


@register
class ZstdMLSelector(_ZstdBase):
    """Bits saved per byte by the target dictionary over a pool-background dictionary (higher = more target-like).

    ``fit`` draws the background from the pool (``raw``: a stream, or a row-counted pool from which only the
    drawn documents are read); the draw's seed and the pool positions of its documents are part of the fitted
    state, hence of the run's manifest.

    Example:
        >>> sel = ZstdMLSelector(ZstdMLConfig(min_bytes=1, background_draws=1))
        >>> _ = sel.fit(["def f(x):\\n    return x\\n" * 3], raw=["The cat sat on the mat. " * 4] * 3)
        >>> bool(sel.score("def g(y):\\n    return y\\n") > sel.score("The dog sat on the rug."))
        True
    """

    name = "zstd-ml"
    algorithm = "zstd_ml_v1"
    Config = ZstdMLConfig
    needs_raw = True

    def __init__(self, config: ZstdMLConfig | None = None) -> None:
        super().__init__(config)
        self.backgrounds: list[dict[str, Any]] = []  # seed, draw, pool rows and bytes of each background sample
        self._dicts: list[zstandard.ZstdCompressionDict] = []  # the target's, then one per background draw

    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> ZstdMLSelector:
        texts = [utf8(t) for t in target]
        if not any(texts):
            raise ConfigError("zstd-ml needs a non-empty target set", hint="pass --target FILE|DIR|GLOB")
        if raw is None:
            raise ConfigError("zstd-ml draws its background from the pool, and no pool was given")
        cfg = self.config
        budget = cfg.background_bytes or sum(map(len, texts))
        draws = sample_backgrounds(raw, budget, cfg.seed, cfg.background_draws, cfg.min_bytes)
        if not draws[0].texts:
            raise ConfigError(f"the pool has no document of at least {cfg.min_bytes} bytes to draw a background from")
        self.backgrounds = [{"seed": b.seed, "draw": b.draw, "rows": b.rows, "bytes": b.nbytes} for b in draws]
        self._dicts = [make_dict(part, cfg.dict_mode, cfg.level) for part in [texts, *(b.texts for b in draws)]]
        self._build()
        return self

    def _build(self) -> None:
        self._target = compressor(self.config.level, self._dicts[0])
        self._background = [compressor(self.config.level, d) for d in self._dicts[1:]]

    def score_bytes(self, docs: Sequence[bytes], n: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        background = np.mean([lengths(c, docs) for c in self._background], axis=0, dtype=np.float64)
        scores: npt.NDArray[np.float64] = (background - lengths(self._target, docs)) / n
        return scores

    def fitted_state(self) -> dict[str, Any]:
        # The dictionaries themselves travel (raw content or trained), so workers never re-train.
        return {"backgrounds": self.backgrounds, "dicts": [dict_to_json(d) for d in self._dicts]}

    def load_fitted_state(self, state: Mapping[str, Any]) -> None:
        self.backgrounds = [dict(b) for b in state["backgrounds"]]
        self._dicts = [dict_from_json(d, self.config.dict_mode, self.config.level) for d in state["dicts"]]
        self._build()


@dataclasses.dataclass(frozen=True)
class ZstdRatioConfig:
    level: int = dataclasses.field(default=3, metadata={"help": "zstd level 1-22"})
    min_bytes: int = dataclasses.field(default=DEFAULT_MIN_BYTES, metadata={
        "help": "documents shorter than this many UTF-8 bytes score -inf (never selected)"})

    def __post_init__(self) -> None:
        _check_level(self.level)
        check_min_bytes(self.min_bytes)


@register
class ZstdRatioSelector(_ZstdBase):
    """``1 - C_target(x) / C(x)``: the share of a document's code length the target dictionary saves.

    Length-biased: a long document pays its own content whatever the dictionary, so the saving shrinks
    with length and short documents rank high. Use it with ``--stratify length`` or prefer ``zstd-ml``.
    """

    name = "zstd-ratio"
    algorithm = "zstd_ratio_v1"
    Config = ZstdRatioConfig

    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> ZstdRatioSelector:
        texts = [utf8(t) for t in target]
        if not any(texts):
            raise ConfigError("zstd-ratio needs a non-empty target set", hint="pass --target FILE|DIR|GLOB")
        self._build(make_dict(texts, "raw", self.config.level))
        return self

    def _build(self, dictionary: zstandard.ZstdCompressionDict) -> None:
        self._dict = dictionary
        self._target = compressor(self.config.level, dictionary)
        self._plain = compressor(self.config.level, None)

    def score_bytes(self, docs: Sequence[bytes], n: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 1.0 - lengths(self._target, docs) / lengths(self._plain, docs)

    def fitted_state(self) -> dict[str, Any]:
        return {"dict": dict_to_json(self._dict)}

    def load_fitted_state(self, state: Mapping[str, Any]) -> None:
        self._build(dict_from_json(state["dict"], "raw", self.config.level))


@register
class CRatioSelector(_ZstdBase):
    """``C(x) / len(x)``: a document's own zstd code length per byte, target-free (higher = less redundant).

    A redundancy signal: boilerplate, repeated lines and padding compress well and score low; keep the
    dense end with ``--top-k``/``--fraction``, or cut the redundant tail with ``--threshold``.
    """

    name = "cratio"
    algorithm = "cratio_zstd_v1"
    Config = ZstdRatioConfig
    needs_target = False

    def score_bytes(self, docs: Sequence[bytes], n: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if not hasattr(self, "_plain"):
            self._plain = compressor(self.config.level, None)
        return lengths(self._plain, docs) / n
