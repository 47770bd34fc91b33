"""The zstd selectors' batched compression path gives the plain per-document ``compress()`` lengths bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.selectors.compress_zstd import (
    CRatioSelector,
    ZstdMLConfig,
    ZstdMLSelector,
    ZstdRatioConfig,
    ZstdRatioSelector,
    compressor,
    lengths,
)

WORDS = ["def", "return", "self", "import", "the", "of", "river", "boat", "x = 1\n", "    ", "é", "日本", "\n"]


def plain(level: int, parts: list[bytes] | None) -> zstandard.ZstdCompressor:
    """A compressor built by hand, as the method defines it: raw-content dictionary, bare frames."""
    d = zstandard.ZstdCompressionDict(b"".join(parts), dict_type=zstandard.DICT_TYPE_RAWCONTENT) if parts else None
    return zstandard.ZstdCompressor(level=level, dict_data=d, write_checksum=False, write_content_size=False,
                                    write_dict_id=False)


def one_by_one(comp: zstandard.ZstdCompressor, docs: list[bytes]) -> np.ndarray:
    return np.array([len(comp.compress(d)) for d in docs], dtype=np.float64)


# Documents: any characters (surrogates and NUL included) mixed with words, so that matches exist; empty ones too.
texts = st.lists(st.lists(st.sampled_from(WORDS) | st.characters(), max_size=300).map("".join), min_size=1,
                 max_size=30)
# Targets and pools: at least 25 words, so that every pool document passes any min_bytes drawn below.
wordy = st.lists(st.lists(st.sampled_from(WORDS), min_size=25, max_size=120).map(" ".join), min_size=2, max_size=20)


@settings(max_examples=60, deadline=None)
@given(docs=texts, dict_texts=wordy, level=st.integers(1, 9))
def test_batched_lengths_are_the_per_document_lengths(docs, dict_texts, level):
    data = [t.encode("utf-8", "surrogatepass") for t in docs]
    for parts in ([t.encode() for t in dict_texts], None):
        comp = compressor(level, zstandard.ZstdCompressionDict(
            b"".join(parts), dict_type=zstandard.DICT_TYPE_RAWCONTENT) if parts else None)
        assert np.array_equal(lengths(comp, data), one_by_one(plain(level, parts), data))


@settings(max_examples=40, deadline=None)
@given(target=wordy, pool=wordy, docs=texts, draws=st.integers(1, 3), level=st.integers(1, 6),
       min_bytes=st.integers(0, 40))
def test_zstd_ml_scores_are_the_per_document_formula(target, pool, docs, draws, level, min_bytes):
    cfg = ZstdMLConfig(level=level, background_draws=draws, min_bytes=min_bytes)
    sel = ZstdMLSelector(cfg).fit(target, iter(pool))
    got = sel.score_batch(docs)
    tgt = plain(level, [t.encode() for t in target])
    backgrounds = [plain(level, [pool[r].encode() for r in b["rows"]]) for b in sel.backgrounds]
    for doc, score in zip(docs, got):
        x = doc.encode("utf-8", "surrogatepass")
        if len(x) < max(min_bytes, 1):
            assert score == -np.inf
            continue
        c_bg = np.mean([len(c.compress(x)) for c in backgrounds], dtype=np.float64)
        assert score == (c_bg - len(tgt.compress(x))) / len(x)  # exact: the same lengths, the same arithmetic


@settings(max_examples=30, deadline=None)
@given(target=wordy, docs=texts, level=st.integers(1, 6))
def test_zstd_ratio_and_cratio_scores_are_the_per_document_formulas(target, docs, level):
    ratio = ZstdRatioSelector(ZstdRatioConfig(level=level, min_bytes=1)).fit(target)
    cratio = CRatioSelector(ZstdRatioConfig(level=level, min_bytes=1))
    tgt, own = plain(level, [t.encode() for t in target]), plain(level, None)
    data = [t.encode("utf-8", "surrogatepass") for t in docs]
    ok = np.array([len(x) > 0 for x in data])
    want_ratio = np.array([1.0 - len(tgt.compress(x)) / len(own.compress(x)) if x else -np.inf for x in data])
    want_cratio = np.array([len(own.compress(x)) / len(x) if x else -np.inf for x in data])
    assert np.array_equal(ratio.score_batch(docs), want_ratio)
    assert np.array_equal(cratio.score_batch(docs), want_cratio)
    assert ok.sum() == np.isfinite(cratio.score_batch(docs)).sum()


def test_long_documents_past_the_attach_cutoff_and_one_block():
    # zstd copies a dictionary's tables instead of attaching them above a few KiB, and cuts blocks at 128 KiB:
    # the batched path goes through the same library calls on both sides of either limit.
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "def", "return", "the", "river", "\n", "    ", "x = 1"])
    docs = [" ".join(rng.choice(words, n)).encode() for n in (3, 1_500, 3_000, 40_000, 90_000)]
    parts = [" ".join(rng.choice(words, 20_000)).encode()]
    for level in (1, 3, 7):
        comp = compressor(level, zstandard.ZstdCompressionDict(parts[0], dict_type=zstandard.DICT_TYPE_RAWCONTENT))
        assert np.array_equal(lengths(comp, docs), one_by_one(plain(level, parts), docs))
    assert max(map(len, docs)) > 128 * 1024


@pytest.mark.parametrize("docs", [[], [b""], [b"", b""], [b"a", b""], [b"", b"some text some text"]])
def test_empty_batches_and_empty_documents(docs):
    comp = compressor(3, None)
    assert np.array_equal(lengths(comp, docs), one_by_one(comp, docs))


class _NoBatch:
    """A compressor like python-zstandard's CFFI backend: ``multi_compress_to_buffer`` is not implemented."""

    def __init__(self) -> None:
        self.inner = compressor(3, None)
        self.calls = 0

    def compress(self, data: bytes) -> bytes:
        self.calls += 1
        return self.inner.compress(data)

    def multi_compress_to_buffer(self, data: list[bytes], threads: int = -1) -> None:
        raise NotImplementedError


def test_a_backend_without_batches_compresses_one_document_at_a_time():
    comp = _NoBatch()
    docs = [b"first document " * 9, b"second", b"third and last " * 30]
    got = lengths(comp, docs)  # type: ignore[arg-type]
    assert comp.calls == 3
    assert np.array_equal(got, one_by_one(comp.inner, docs))


def test_all_short_and_mixed_batches_keep_their_rows():
    sel = ZstdMLSelector(ZstdMLConfig(min_bytes=10, background_draws=1)).fit(
        ["def f(x):\n    return x\n" * 4], iter(["The cat sat on the mat. " * 4] * 3))
    assert np.isneginf(sel.score_batch(["a", "bb", ""])).all()
    assert sel.score_batch([]).shape == (0,)
    mixed = sel.score_batch(["tiny", "def g(y):\n    return y\n", "", "The dog sat on the rug today."])
    assert np.isneginf(mixed[[0, 2]]).all() and np.isfinite(mixed[[1, 3]]).all()
    assert mixed[1] == sel.score_batch(["def g(y):\n    return y\n"])[0]
