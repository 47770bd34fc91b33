"""ZIP-FIT (`zipfit`): the golden vector, the formula on hand-checked cases, determinism, state, CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from sievekit.selectors import get_selector
from sievekit.selectors.compress_align import (
    PairBeyondWindowWarning,
    ZipFitConfig,
    ZipFitSelector,
    gzip_len,
)

DATA = Path(__file__).parent.parent / "data"


def pool_records() -> list[dict]:
    return [json.loads(line) for line in (DATA / "pool.jsonl").read_text().splitlines() if line.strip()]

GOLDEN_TARGETS = [
    "def mul(a, b):\n    return a * b\n",
    'def sub(a, b):\n    """Subtract b from a."""\n    return a - b\n',
    "import os\nprint(os.getcwd())\n",
]
GOLDEN_SOURCE = "def add(a, b):\n    return a + b\n"


def golden() -> ZipFitSelector:
    return ZipFitSelector(ZipFitConfig(level=1, min_bytes=0)).fit(GOLDEN_TARGETS)


def naive_alignment(x: str, targets: list[str], level: int = 1) -> float:
    """The paper's formula, written the obvious way over gzip.compress."""

    def c(s: bytes) -> int:
        return len(gzip.compress(s, compresslevel=level))

    xb = x.encode()
    ncd = [(c(xb + t.encode()) - min(c(xb), c(t.encode()))) / max(c(xb), c(t.encode())) for t in targets]
    return 1.0 - sum(ncd) / len(ncd)


def test_golden_vector_compressed_lengths():
    sel = golden()
    assert sel.c_target.tolist() == [50, 75, 49]
    c_x, c_xt = sel.pair_lengths(GOLDEN_SOURCE.encode())
    assert c_x == 50
    assert c_xt.tolist() == [61, 86, 79]


def test_golden_vector_scores():
    scores = golden().score_batch([GOLDEN_SOURCE, ""])
    assert abs(scores[0] - 0.5666666666666667) < 1e-12
    assert abs(scores[1] - 0.358276643990) < 1e-12


def test_golden_score_by_hand():
    # NCD_j = (C(x+t_j) - min(50, C(t_j))) / max(50, C(t_j)) with C(t) = 50, 75, 49 and C(x+t) = 61, 86, 79.
    by_hand = 1 - ((61 - 50) / 50 + (86 - 50) / 75 + (79 - 49) / 50) / 3
    assert golden().score(GOLDEN_SOURCE) == pytest.approx(by_hand, abs=1e-12)


@pytest.mark.parametrize("text", ["", "a", "héllo wörld ✓ " * 9, "x" * 40_000, "\x00\xff" * 500])
def test_gzip_len_is_the_whole_gzip_member(text):
    data = text.encode()
    for level in (1, 6, 9):
        assert gzip_len(data, level) == len(gzip.compress(data, compresslevel=level))


@pytest.mark.parametrize("level", [1, 9])
def test_matches_naive_formula_on_real_text(level):
    texts = [r["text"] for r in pool_records()]
    targets, docs = texts[:6], texts[6:]
    sel = ZipFitSelector(ZipFitConfig(level=level, min_bytes=0)).fit(targets)
    got = sel.score_batch(docs)
    want = np.array([naive_alignment(x, targets, level) for x in docs])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_identical_document_is_most_aligned():
    docs = [GOLDEN_TARGETS[1], "The quick brown fox jumps over the lazy dog again and again.\n"]
    scores = ZipFitSelector(ZipFitConfig(min_bytes=0)).fit([GOLDEN_TARGETS[1]]).score_batch(docs)
    assert scores[0] > scores[1]


def test_level_zero_is_refused_with_reason():
    with pytest.raises(ValueError, match="stored mode"):
        ZipFitConfig(level=0)
    with pytest.raises(ValueError, match=r"1\.\.9, got 10"):
        ZipFitConfig(level=10)


@pytest.mark.parametrize("field,value", [("target_sample", -1), ("min_bytes", -5), ("max_pair_bytes", 1),
                                         ("on_long_pair", "drop")])
def test_bad_options_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        ZipFitConfig(**{field: value})


def test_min_bytes_makes_short_documents_never_selected():
    sel = ZipFitSelector(ZipFitConfig(min_bytes=20)).fit(GOLDEN_TARGETS)
    scores = sel.score_batch(["", "short", GOLDEN_SOURCE])
    assert np.isneginf(scores[:2]).all()
    assert np.isfinite(scores[2])


def test_target_sample_is_seeded_subset():
    targets = [f"def f{i}(x):\n    return x + {i}\n" for i in range(20)]
    a = ZipFitSelector(ZipFitConfig(target_sample=5, seed=1)).fit(targets)
    b = ZipFitSelector(ZipFitConfig(target_sample=5, seed=1)).fit(targets)
    c = ZipFitSelector(ZipFitConfig(target_sample=5, seed=2)).fit(targets)
    assert a.target_rows == b.target_rows and len(a.target_rows) == 5
    assert a.target_rows != c.target_rows
    assert a.targets == [targets[i].encode() for i in a.target_rows]
    everything = ZipFitSelector(ZipFitConfig(target_sample=50)).fit(targets)
    assert everything.target_rows == list(range(20))


def test_scores_do_not_depend_on_batching():
    texts = [r["text"] for r in pool_records()]
    sel = ZipFitSelector().fit(GOLDEN_TARGETS)
    whole = sel.score_batch(texts)
    pieces = np.concatenate([sel.score_batch(texts[i:i + 3]) for i in range(0, len(texts), 3)])
    assert np.array_equal(whole, pieces)


def test_state_round_trip_through_json():
    texts = [r["text"] for r in pool_records()]
    sel = ZipFitSelector(ZipFitConfig(level=3, target_sample=2, seed=4)).fit(GOLDEN_TARGETS)
    state = json.loads(json.dumps(sel.state_dict()))
    again = get_selector("zipfit").from_state_dict(state)
    assert again.config == sel.config
    assert np.array_equal(again.score_batch(texts), sel.score_batch(texts))


def test_long_pair_warns_once():
    sel = ZipFitSelector(ZipFitConfig(max_pair_bytes=100)).fit(GOLDEN_TARGETS)
    with pytest.warns(PairBeyondWindowWarning, match="max-pair-bytes 100") as record:
        sel.score_batch(["y" * 200, "z" * 300])
    assert len(record) == 1


def test_truncate_cuts_every_pair_to_the_limit():
    long_target = "t" * 90
    sel = ZipFitSelector(ZipFitConfig(max_pair_bytes=100, on_long_pair="truncate", min_bytes=0))
    sel.fit([long_target, "short"])
    assert [len(t) for t in sel.targets] == [50, 5]  # targets cut to max_pair_bytes / 2
    doc = "d" * 400
    plain = ZipFitSelector(ZipFitConfig(min_bytes=0)).fit(["t" * 50, "short"])
    assert sel.score(doc) == plain.score("d" * 50)  # the document cut to 100 - 50 bytes


# -- CLI ------------------------------------------------------------------------------------------------------
def test_cli_select_keeps_the_top_k_of_the_formula(invoke, data_dir, tmp_path):
    out = tmp_path / "out"
    res = invoke("select", data_dir / "pool.jsonl", "--method", "zipfit", "--target", data_dir / "target.jsonl",
                 "--top-k", "3", "-o", out, "--level", "1", "--min-bytes", "100")
    assert res.exit_code == 0, res.stderr
    assert "kept 3 of 20" in res.stderr
    kept = [json.loads(line)["id"] for line in (out / "pool.jsonl").read_text().splitlines()]
    targets = [json.loads(line)["text"] for line in (data_dir / "target.jsonl").read_text().splitlines()]
    records = pool_records()
    naive = [naive_alignment(r["text"], targets) if len(r["text"].encode()) >= 100 else -np.inf for r in records]
    best = sorted(np.argsort(naive, kind="stable")[::-1][:3])
    assert kept == [records[i]["id"] for i in best]
    assert "unicode-1" not in kept  # 44 bytes: below --min-bytes
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["selector"]["algorithm"] == "zipfit_gzip_v1"
    assert manifest["selector"]["config"]["min_bytes"] == 100


def test_cli_score_matches_library(invoke, data_dir):
    res = invoke("score", data_dir / "pool.jsonl", "--method", "zipfit", "--target", data_dir / "target.jsonl",
                 "--min-bytes", "0")
    assert res.exit_code == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    targets = [json.loads(line)["text"] for line in (data_dir / "target.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in pool_records()]
    want = [naive_alignment(x, targets) for x in texts]
    np.testing.assert_allclose([r["zipfit"] for r in lines], want, rtol=0, atol=1e-12)


def test_cli_level_zero_is_a_usage_error(invoke, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "zipfit", "--target", data_dir / "target.jsonl",
                 "--top-k", "2", "--level", "0")
    assert res.exit_code == 2
    assert "stored mode" in res.stderr
    assert res.stdout == ""


def test_cli_without_target_is_a_usage_error(invoke, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "zipfit", "--top-k", "2")
    assert res.exit_code == 2
    assert "needs a target" in res.stderr


def test_empty_target_is_a_config_error():
    from sievekit.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one target"):
        ZipFitSelector().fit([])


def test_cli_parallel_scores_equal_serial(invoke, data_dir, tmp_path):
    shards = tmp_path / "pool"
    shards.mkdir()
    lines = (data_dir / "pool.jsonl").read_text().splitlines(keepends=True)
    (shards / "a.jsonl").write_text("".join(lines[:7]))
    (shards / "b.jsonl.gz").write_bytes(gzip.compress("".join(lines[7:]).encode()))
    args = ["score", shards, "--method", "zipfit", "--target", data_dir / "target.jsonl", "--target-sample", "3"]
    serial, parallel = invoke(*args), invoke(*args, "-j", "2")
    assert serial.exit_code == parallel.exit_code == 0, parallel.stderr
    assert serial.stdout == parallel.stdout and len(serial.stdout.splitlines()) == 20
