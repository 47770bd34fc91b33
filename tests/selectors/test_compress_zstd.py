"""zstd selectors (`zstd-ml`, `zstd-ratio`, `cratio`) and the background sample they draw from the pool."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.errors import ConfigError
from sievekit.selectors import get_selector
from sievekit.selectors.compress_background import sample_backgrounds
from sievekit.selectors.compress_zstd import (
    CRatioSelector,
    ZstdMLConfig,
    ZstdMLSelector,
    ZstdRatioConfig,
    ZstdRatioSelector,
)

DATA = Path(__file__).parent.parent / "data"
PY = ["def area(w, h):\n    return w * h\n\n", "class Point:\n    def __init__(self, x, y):\n        self.x = x\n",
      "import sys\n\ndef main(argv):\n    for arg in argv:\n        print(arg)\n    return 0\n"]
PROSE = ["The committee met on Tuesday to discuss the budget for the coming year and agreed on most items. ",
         "Rain is expected across the north this weekend, with sunny spells returning by Monday afternoon. ",
         "She walked along the river, counting the boats moored by the old stone bridge near the market. "]


def texts(name: str) -> list[str]:
    return [json.loads(line)["text"] for line in (DATA / name).read_text().splitlines() if line.strip()]


def plain_len(data: bytes, level: int, dict_data: zstandard.ZstdCompressionDict | None = None) -> int:
    comp = zstandard.ZstdCompressor(level=level, dict_data=dict_data, write_checksum=False, write_content_size=False,
                                    write_dict_id=False)
    return len(comp.compress(data))


def raw_dict(parts: list[bytes]) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(b"".join(parts), dict_type=zstandard.DICT_TYPE_RAWCONTENT)


# -- zstd-ml -----------------------------------------------------------------------------------------------
def fitted_ml(**kw) -> ZstdMLSelector:
    cfg = ZstdMLConfig(**{"min_bytes": 1, **kw})
    return ZstdMLSelector(cfg).fit(texts("target.jsonl"), iter(texts("pool.jsonl")))


def test_zstd_ml_is_the_formula():
    sel = fitted_ml(background_draws=2, level=5)
    target = [t.encode() for t in texts("target.jsonl")]
    pool = [t.encode() for t in texts("pool.jsonl")]
    backgrounds = [[pool[r] for r in b["rows"]] for b in sel.backgrounds]
    for doc in pool:
        c_bg = np.mean([plain_len(doc, 5, raw_dict(bg)) for bg in backgrounds])
        want = (c_bg - plain_len(doc, 5, raw_dict(target))) / len(doc)
        assert sel.score(doc.decode()) == pytest.approx(want, abs=1e-12)


def test_zstd_ml_frames_carry_no_checksum_size_or_dict_id():
    sel = fitted_ml(background_draws=1)
    for comp in (sel._target, *sel._background):
        params = zstandard.get_frame_parameters(comp.compress(b"some text " * 20))
        assert params.dict_id == 0 and not params.has_checksum
        assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN


def test_zstd_ml_ranks_target_like_text_first():
    sel = ZstdMLSelector(ZstdMLConfig(min_bytes=1, background_draws=1)).fit(PY, iter(PROSE * 3 + PY))
    scores = sel.score_batch(["def width(box):\n    return box.w\n", "The river was calm and the boats were still."])
    assert scores[0] > scores[1]


def test_zstd_ml_background_is_seeded_and_recorded_in_the_state():
    a, b, c = fitted_ml(seed=1), fitted_ml(seed=1), fitted_ml(seed=2)
    assert a.backgrounds == b.backgrounds
    assert [x["rows"] for x in a.backgrounds] != [x["rows"] for x in c.backgrounds]
    budget = sum(len(t.encode()) for t in texts("target.jsonl"))
    for bg in a.fitted_state()["backgrounds"]:
        assert bg["seed"] == 1 and bg["bytes"] >= budget and bg["rows"]
    assert a.fitted_state()["backgrounds"][0]["rows"] != a.fitted_state()["backgrounds"][1]["rows"]


def test_zstd_ml_background_bytes_sets_the_sample_size():
    sel = fitted_ml(background_bytes=900, background_draws=1)
    size = sel.backgrounds[0]["bytes"]
    assert 900 <= size < 900 + 401  # the sample stops at the first document that reaches the budget


def test_zstd_ml_state_round_trip_through_json():
    sel = fitted_ml(dict_mode="raw", level=4)
    again = get_selector("zstd-ml").from_state_dict(json.loads(json.dumps(sel.state_dict())))
    pool = texts("pool.jsonl")
    assert np.array_equal(again.score_batch(pool), sel.score_batch(pool))


def test_zstd_ml_trained_mode_explains_too_little_data():
    with pytest.raises(ConfigError, match="could not train"):
        fitted_ml(dict_mode="trained")


def test_zstd_ml_needs_pool_and_target():
    with pytest.raises(ConfigError, match="non-empty target"):
        ZstdMLSelector().fit([], iter(PROSE))
    with pytest.raises(ConfigError, match="no document of at least"):
        ZstdMLSelector(ZstdMLConfig(min_bytes=10_000)).fit(PY, iter(PROSE))


@pytest.mark.parametrize("kw,match", [({"level": 0}, "1..22"), ({"level": 23}, "1..22"),
                                      ({"background_bytes": -1}, "background_bytes"),
                                      ({"background_draws": 0}, "background_draws"),
                                      ({"dict_mode": "big"}, "dict_mode"), ({"min_bytes": -1}, "min_bytes")])
def test_zstd_ml_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        ZstdMLConfig(**kw)


def test_short_documents_score_minus_inf():
    sel = fitted_ml(min_bytes=50)
    scores = sel.score_batch(["", "tiny", "x" * 60])
    assert np.isneginf(scores[:2]).all() and np.isfinite(scores[2])


# -- zstd-ratio and cratio -----------------------------------------------------------------------------------
def test_zstd_ratio_is_the_formula():
    sel = ZstdRatioSelector(ZstdRatioConfig(level=3, min_bytes=1)).fit(PY)
    d = raw_dict([t.encode() for t in PY])
    for doc in PY + PROSE:
        want = 1 - plain_len(doc.encode(), 3, d) / plain_len(doc.encode(), 3)
        assert sel.score(doc) == pytest.approx(want, abs=1e-12)
    again = get_selector("zstd-ratio").from_state_dict(json.loads(json.dumps(sel.state_dict())))
    assert np.array_equal(again.score_batch(PROSE), sel.score_batch(PROSE))


def test_cratio_is_code_length_per_byte_and_needs_no_target():
    sel = CRatioSelector(ZstdRatioConfig(min_bytes=1))
    assert not sel.needs_target
    repetitive, varied = "spam " * 200, " ".join(PROSE) * 1
    scores = sel.score_batch([repetitive, varied])
    assert scores[0] == pytest.approx(plain_len(repetitive.encode(), 3) / len(repetitive), abs=1e-12)
    assert scores[0] < scores[1]


# -- background sample ---------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 50), max_size=40), budget=st.integers(1, 300), seed=st.integers(0, 5),
       draws=st.integers(1, 3))
def test_background_is_the_smallest_prefix_that_fills_the_budget(sizes, budget, seed, draws):
    pool = ["a" * n for n in sizes]
    out = sample_backgrounds(iter(pool), budget, seed, draws)
    assert len(out) == draws
    eligible = sum(n for n in sizes if n > 0)
    for bg in out:
        assert len(set(bg.rows)) == len(bg.rows)
        assert all(sizes[r] > 0 for r in bg.rows)
        assert bg.texts == [pool[r].encode() for r in bg.rows]
        if eligible < budget:
            assert bg.nbytes == eligible
        else:  # at least the budget, and dropping the last-drawn document would fall short
            assert bg.nbytes >= budget and bg.nbytes - len(bg.texts[-1]) < budget
    assert sample_backgrounds(iter(pool), budget, seed, draws) == out


def test_background_draws_cover_the_pool_evenly():
    pool = [f"{i:04d}" for i in range(200)]
    hits = np.zeros(200)
    for seed in range(200):
        for row in sample_backgrounds(iter(pool), 40, seed)[0].rows:
            hits[row] += 1
    # 10 documents per draw: each is drawn 10 times in 200 draws on average; first and second half alike.
    assert hits.sum() == 2000
    assert abs(hits[:100].sum() - hits[100:].sum()) < 200


# -- CLI -------------------------------------------------------------------------------------------------------
def test_cli_select_zstd_ml_writes_background_into_manifest(invoke, data_dir, tmp_path):
    out = tmp_path / "out"
    res = invoke("select", data_dir / "pool.jsonl", "--method", "zstd-ml", "--target", data_dir / "target.jsonl",
                 "--top-k", "1", "-o", out, "--seed", "7", "--min-bytes", "100")
    assert res.exit_code == 0, res.stderr
    kept = [json.loads(line)["id"] for line in (out / "pool.jsonl").read_text().splitlines()]
    sel = ZstdMLSelector(ZstdMLConfig(seed=7, min_bytes=100)).fit(texts("target.jsonl"), iter(texts("pool.jsonl")))
    best = int(np.argmax(sel.score_batch(texts("pool.jsonl"))))
    assert kept == [json.loads((data_dir / "pool.jsonl").read_text().splitlines()[best])["id"]]
    state = json.loads((out / "manifest.json").read_text())["selector"]
    assert state["config"]["seed"] == 7
    assert [b["seed"] for b in state["state"]["backgrounds"]] == [7, 7]
    assert all(b["rows"] for b in state["state"]["backgrounds"])


@pytest.mark.parametrize("method", ["zstd-ml", "zstd-ratio", "cratio"])
def test_cli_score_one_line_per_document(invoke, data_dir, method):
    res = invoke("score", data_dir / "pool.jsonl", "--method", method, "--target", data_dir / "target.jsonl",
                 "--level", "3", "--min-bytes", "100")
    assert res.exit_code == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 20
    assert lines[-1][method] is None  # 73 bytes: under --min-bytes
    assert all(isinstance(r[method], float) for r in lines[:-1])


def test_cli_bad_level_is_a_usage_error(invoke, data_dir):
    res = invoke("score", data_dir / "pool.jsonl", "--method", "zstd-ml", "--target", data_dir / "target.jsonl",
                 "--level", "40")
    assert res.exit_code == 2
    assert "1..22" in res.stderr and res.stdout == ""


def test_cli_parallel_scores_equal_serial(invoke, data_dir, tmp_path):
    shards = tmp_path / "pool"
    shards.mkdir()
    lines = (data_dir / "pool.jsonl").read_text().splitlines(keepends=True)
    (shards / "a.jsonl").write_text("".join(lines[:10]))
    (shards / "b.jsonl").write_text("".join(lines[10:]))
    args = ["score", shards, "--method", "zstd-ml", "--target", data_dir / "target.jsonl"]
    serial, parallel = invoke(*args), invoke(*args, "-j", "2")
    assert serial.exit_code == parallel.exit_code == 0, parallel.stderr
    assert serial.stdout == parallel.stdout


@pytest.mark.parametrize("method", ["zstd-ml", "zipfit", "zstd-ratio", "cratio"])
def test_shipped_config_file_runs_every_method(invoke, data_dir, method):
    config = Path(__file__).parents[2] / "configs" / "compress_align.toml"
    args = ["select", data_dir / "pool.jsonl", "--config", config, "--method", method,
            "--target", data_dir / "target.jsonl", "--top-k", "3"]
    dry = invoke(*args, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["method_options"][method]["min_bytes"] == 64
    res = invoke(*args)
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == 3


def test_trained_dictionaries_travel_as_bytes():
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "def", "return", "self", "import", "class", "the", "of", "and"]
    pool = [" ".join(rng.choice(words, 60)) + "\n" for _ in range(400)]
    target = [f"def f{i}(self):\n    return self.alpha + {i}\n" * 3 for i in range(200)]
    cfg = ZstdMLConfig(dict_mode="trained", min_bytes=1, background_bytes=20_000)
    sel = ZstdMLSelector(cfg).fit(target, iter(pool))
    state = json.loads(json.dumps(sel.state_dict()))
    trained = zstandard.ZstdCompressionDict(base64.b64decode(state["state"]["dicts"][0]))
    assert trained.dict_id() != 0  # a formatted (trained) dictionary, not raw content
    again = get_selector("zstd-ml").from_state_dict(state)
    docs = pool[:20] + target[:20]
    assert np.array_equal(again.score_batch(docs), sel.score_batch(docs))
    assert sel.score_batch(target[:20]).mean() > sel.score_batch(pool[:20]).mean()
