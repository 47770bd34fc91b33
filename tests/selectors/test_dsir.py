"""DSIR: the reference's fit, weights and resampling (golden vectors), hand-computed cases, state, CLI runs."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sievekit.errors import ConfigError
from sievekit.rules import sampling
from sievekit.selectors import get_selector
from sievekit.selectors.dsir import DsirConfig, DsirSelector, reference_gumbel_top_k
from sievekit.selectors.kl import kl_divergence, kl_reduction, selection_kl_reduction
from sievekit.selectors.ngrams import sha256_bucket

GOLDEN = json.loads((Path(__file__).parent / "dsir_hashed_ngrams.golden.json").read_text(encoding="utf-8"))
E2E = GOLDEN["end_to_end"]
RESAMPLE = GOLDEN["resample_only"]
DEMO = Path(__file__).parents[2] / "sievekit" / "demo"


@pytest.fixture(scope="module")
def golden_fit() -> DsirSelector:
    params = E2E["params"]
    config = DsirConfig(buckets=params["num_buckets"], ngrams=params["ngrams"], min_length=0,
                        raw_budget=str(params["num_tokens_to_fit"]), hash="sha256")
    return DsirSelector(config).fit(E2E["target_docs"], iter(E2E["raw_docs"]))


def test_registered_under_dsir():
    assert get_selector("dsir") is DsirSelector
    assert DsirSelector.algorithm == "dsir_hashed_v1"


def test_log_diff_is_bitwise_the_references(golden_fit):
    digest = hashlib.sha256(golden_fit.log_diff.astype("<f8").tobytes()).hexdigest()
    assert digest == E2E["log_diff_sha256_float64_le"]
    assert int((golden_fit.target_counts > 0).sum()) == E2E["log_diff_nonzero_target_buckets"]


def test_log_weights_match_the_reference(golden_fit):
    ours = golden_fit.score_batch(E2E["raw_docs"])
    assert np.max(np.abs(ours - np.array(E2E["log_importance_weights"]))) <= 1e-9


def test_length_filter_and_top_k_match_the_reference(golden_fit):
    selector = DsirSelector.from_state_dict({**golden_fit.state_dict(),
                                             "config": {**golden_fit.state_dict()["config"], "min_length": 100}})
    scores = selector.score_batch(E2E["raw_docs"])
    eligible = np.array(E2E["length_metadata"]) >= E2E["params"]["min_example_length"]
    assert np.array_equal(np.isfinite(scores), eligible)
    assert sampling.top_k(scores, 20).tolist() == sorted(E2E["top_k_20_ids"])
    assert reference_gumbel_top_k(scores, 20, seed=0).tolist() == sorted(E2E["gumbel_seed0_20_ids"])


class _FixedNoise:
    """Stands in for a Generator: hands out the reference's noise at the eligible positions."""

    def __init__(self, noise: np.ndarray) -> None:
        self.noise = noise

    def gumbel(self, size: int) -> np.ndarray:
        assert size == len(self.noise)
        return self.noise


def test_our_gumbel_sampler_picks_the_references_indices_given_its_noise():
    weights = np.array(RESAMPLE["log_weights"])
    weights[np.array(RESAMPLE["length_metadata"]) < RESAMPLE["min_example_length"]] = -np.inf
    eligible = np.isfinite(weights)
    noise = np.zeros(len(weights))
    noise[eligible] = np.random.RandomState(RESAMPLE["seed"]).gumbel(size=int(eligible.sum()))
    picked = sampling.gumbel_top_k(weights, RESAMPLE["k"], _FixedNoise(noise))  # type: ignore[arg-type]
    assert picked.tolist() == sorted(RESAMPLE["gumbel_seed0_ids"])
    assert reference_gumbel_top_k(weights, RESAMPLE["k"], RESAMPLE["seed"]).tolist() == picked.tolist()
    assert sampling.top_k(weights, RESAMPLE["k"]).tolist() == sorted(RESAMPLE["top_k_ids"])


def test_seeded_sampling_is_reproducible_and_seed_dependent():
    weights = np.array(RESAMPLE["log_weights"])
    first = sampling.gumbel_top_k(weights, 20, np.random.default_rng(3))
    assert np.array_equal(first, sampling.gumbel_top_k(weights, 20, np.random.default_rng(3)))
    assert not np.array_equal(first, sampling.gumbel_top_k(weights, 20, np.random.default_rng(4)))


def test_hand_computed_weights():
    # Unigrams only: target {a, b}; pool {a, b, c, d}. p_target = 1/2 on a and b, p_raw = 1/4 on each.
    buckets = 1000
    assert len({sha256_bucket(t, buckets) for t in "abcd"}) == 4
    sel = DsirSelector(DsirConfig(buckets=buckets, ngrams=1, min_length=0, hash="sha256"))
    sel.fit(["a b"], iter(["a b", "c d"]))
    up = math.log(0.5 + 1e-8) - math.log(0.25 + 1e-8)
    down = math.log(1e-8) - math.log(0.25 + 1e-8)
    assert sel.score_batch(["a", "c", "a a c", "zzz", ""]) == pytest.approx([up, down, 2 * up + down, 0.0, 0.0],
                                                                          abs=1e-12)


@pytest.mark.parametrize("hash_name", ["fast", "sha256"])
def test_length_filter(hash_name):
    # n = 2: t tokens give 2t - 1 n-grams, and the length (2t - 1 + 1) // 2 = t.
    sel = DsirSelector(DsirConfig(min_length=3, hash=hash_name)).fit(["a b c"], iter(["a b c d"]))
    scores = sel.score_batch(["a b", "a b c", "a b c d", ""])
    assert np.isinf(scores[[0, 3]]).all() and (scores[[0, 3]] < 0).all()
    assert np.isfinite(scores[[1, 2]]).all()
    assert sel.lengths(np.array([0, 1, 3, 5, 6])).tolist() == [0, 1, 2, 3, 3]


def test_raw_budget_stops_after_the_document_that_passes_it():
    consumed = []

    def pool():
        for i in range(5000):
            consumed.append(i)
            yield "w x y"  # 3 unigrams + 2 bigrams = 5 n-grams a document

    sel = DsirSelector(DsirConfig(raw_budget="12", min_length=0)).fit(["w"], pool())
    assert int(sel.raw_counts.sum()) == 15  # 5, 10, 15: the third document passes 12 and is the last counted
    assert sel.fit_docs == {"target": 1, "raw": 3}
    assert len(consumed) < 5000
    whole = DsirSelector(DsirConfig(raw_budget="all", min_length=0)).fit(["w"], iter(["w x y"] * 2500))
    assert int(whole.raw_counts.sum()) == 12500
    assert DsirConfig().raw_budget_features() == 100_000 * 10_000


def test_state_round_trips_through_json():
    sel = DsirSelector(DsirConfig(buckets=2048, min_length=2)).fit(E2E["target_docs"], iter(E2E["raw_docs"]))
    state = json.loads(json.dumps(sel.state_dict()))
    assert state["name"] == "dsir" and state["algorithm"] == "dsir_hashed_v1"
    loaded = DsirSelector.from_state_dict(state)
    assert np.array_equal(loaded.log_diff, sel.log_diff)
    texts = E2E["raw_docs"][:40] + ["", "tiny"]
    assert np.array_equal(loaded.score_batch(texts), sel.score_batch(texts))


def test_damaged_state_is_refused():
    sel = DsirSelector(DsirConfig(buckets=64)).fit(["a b"], iter(["a c"]))
    state = sel.state_dict()
    state["config"] = {**state["config"], "buckets": 128}
    with pytest.raises(ConfigError, match="shapes"):
        DsirSelector.from_state_dict(state)
    with pytest.raises(ConfigError, match="fitted"):
        DsirSelector().score_batch(["x"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"buckets": 0}, r"buckets must be within \[1, 1048576\], got 0"),
    ({"ngrams": 9}, r"ngrams must be within \[1, 5\], got 9"),
    ({"min_length": -1}, "min_length must be >= 0, got -1"),
    ({"raw_budget": "lots"}, "raw_budget must be auto, all or a positive integer, got 'lots'"),
    ({"hash": "md5"}, "hash must be fast or sha256"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DsirConfig(**kwargs)


def test_empty_sides_are_explained():
    with pytest.raises(ConfigError, match="target holds no tokens"):
        DsirSelector().fit(["", " "], iter(["a b"]))
    with pytest.raises(ConfigError, match="pool holds no tokens"):
        DsirSelector().fit(["a"], iter([]))


def test_kl_formulas():
    assert kl_divergence([2, 2], [5, 5]) == pytest.approx(0.0, abs=1e-12)
    assert kl_divergence([1, 0], [1, 1]) == pytest.approx(math.log((1 + 1e-8) / (0.5 + 1e-8)))
    assert kl_reduction([1, 0], [1, 1], [1, 0]) == pytest.approx(math.log((1 + 1e-8) / (0.5 + 1e-8)))
    with pytest.raises(ValueError, match="positive sum"):
        kl_divergence([0, 0], [1, 1])
    with pytest.raises(ValueError, match="differ in length"):
        kl_divergence([1, 1], [1, 1, 1])


def test_selecting_by_weight_reduces_kl(golden_fit):
    scores = golden_fit.score_batch(E2E["raw_docs"])
    best = [E2E["raw_docs"][i] for i in sampling.top_k(scores, 75)]
    worst = [E2E["raw_docs"][i] for i in np.argsort(scores)[:75]]
    assert golden_fit.kl_reduction(best) > 0 > golden_fit.kl_reduction(worst)


def _demo_texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_fast_and_sha256_select_alike_on_the_demo():
    from sievekit.io import ReadOptions, iter_batches, resolve_inputs

    records = [r for shard in resolve_inputs([str(DEMO / "pool")])
               for batch in iter_batches(shard, ReadOptions(), all_columns=True) for r in batch.records()]
    pool = [r["text"] for r in records]
    is_python = np.array([r["domain"] == "python" for r in records])
    target = _demo_texts(DEMO / "target.jsonl")
    fitted = {h: DsirSelector(DsirConfig(hash=h, min_length=20)).fit(target, iter(pool)) for h in ("fast", "sha256")}
    picks = {h: sampling.top_k(sel.score_batch(pool), 200) for h, sel in fitted.items()}
    # Both hashings rank the target's domain first; KL reduction is measured in the reference's feature space.
    precision = {h: float(is_python[p].mean()) for h, p in picks.items()}
    kl = {h: fitted["sha256"].kl_reduction(pool[i] for i in p) for h, p in picks.items()}
    assert precision["sha256"] > 0.9 and abs(precision["fast"] - precision["sha256"]) <= 0.02
    assert kl["sha256"] > 0 and abs(kl["fast"] - kl["sha256"]) <= 0.05 * kl["sha256"]


# -- through the CLI ------------------------------------------------------------------------------
def _dsir_toml(tmp_path: Path, **options: object) -> Path:
    lines = ["[dsir]"] + [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    path = tmp_path / "dsir.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _selected(out: Path) -> list[str]:
    return [p.name + ":" + hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("part-*"))]


def test_cli_sample_is_the_same_for_any_number_of_jobs(invoke, tmp_path):
    config = _dsir_toml(tmp_path, min_length=20)
    runs = {}
    for name, jobs in (("a", 1), ("b", 2), ("c", 1)):
        out = tmp_path / name
        result = invoke("select", DEMO / "pool", "--method", "dsir", "--target", DEMO / "target.jsonl",
                        "--sample", "60", "--seed", 7, "-j", jobs, "-q", "--config", config, "-o", out)
        assert result.exit_code == 0, result.output
        runs[name] = _selected(out)
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["rows_out"] == 60
        assert manifest["selector"]["algorithm"] == "dsir_hashed_v1"
    assert runs["a"] == runs["b"] == runs["c"]


def test_cli_score_writes_a_reusable_state(invoke, tmp_path):
    out = tmp_path / "scores"
    result = invoke("score", DEMO / "target.jsonl", "--method", "dsir", "--target", DEMO / "target.jsonl", "-q",
                    "-o", out, "--hash", "sha256", "--min-length", "5")
    assert result.exit_code == 0, result.output
    state = json.loads((out / "state" / "dsir.json").read_text())
    assert state["config"]["hash"] == "sha256"
    sidecar = [json.loads(line)["dsir"] for line in (out / "target.scores.jsonl").read_text().splitlines()]
    rescored = DsirSelector.from_state_dict(state).score_batch(_demo_texts(DEMO / "target.jsonl"))
    assert [s if s is not None else -math.inf for s in sidecar] == pytest.approx(rescored.tolist(), abs=1e-9)


def test_cli_rejects_a_bad_option_value(invoke, tmp_path):
    result = invoke("score", DEMO / "target.jsonl", "--method", "dsir", "--target", DEMO / "target.jsonl",
                    "--config", _dsir_toml(tmp_path, buckets=0))
    assert result.exit_code == 2
    assert "buckets must be within [1, 1048576], got 0" in result.output


def test_selection_kl_reduction_matches_the_selectors():
    raw, target = E2E["raw_docs"], E2E["target_docs"]
    sel = DsirSelector(DsirConfig(hash="sha256", min_length=0)).fit(target, iter(raw))
    scores = sel.score_batch(raw)
    chosen = [raw[i] for i in sampling.top_k(scores, 75)]
    worst = [raw[i] for i in np.argsort(scores)[:75]]
    assert selection_kl_reduction(target, raw, chosen) == pytest.approx(sel.kl_reduction(chosen), abs=1e-12)
    assert selection_kl_reduction(target, raw, chosen) > 0 > selection_kl_reduction(target, raw, worst)


def test_shipped_config_file_runs(invoke, tmp_path):
    config = Path(__file__).parents[2] / "configs" / "dsir.toml"
    result = invoke("select", DEMO / "pool", "--method", "dsir", "--target", DEMO / "target.jsonl", "--top-k", "5",
                    "--config", config, "-q", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["selector"]["config"] == {"buckets": 10000, "ngrams": 2, "min_length": 100, "raw_budget": "auto",
                                              "hash": "fast"}
    assert manifest["rows_out"] == 5
