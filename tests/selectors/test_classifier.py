"""The classifier selector: features on hand-computed cases, sampling, the PU re-fit, state, CLI runs."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from sievekit.errors import ConfigError, MissingDependencyError
from sievekit.io import ReadOptions, iter_batches, resolve_inputs
from sievekit.selectors import get_selector, logreg
from sievekit.selectors.classifier import (
    AUTO_MARGIN,
    ClassifierConfig,
    ClassifierSelector,
    Features,
    budget_share,
    featurize,
    hard_negative_weights,
    pu_keep_mask,
    reservoir_sample,
)
from sievekit.selectors.ngrams import NgramFeaturizer
from sievekit.selectors.pu import cluster_folds, cv_separation, separation

DEMO = Path(__file__).parents[2] / "sievekit" / "demo"
SMALL = {"buckets": 1 << 16, "negatives_ratio": 3.0}  # keeps fits on the demo well under a second


def demo_pool() -> tuple[list[str], np.ndarray]:
    texts, python = [], []
    for shard in resolve_inputs([str(DEMO / "pool")]):
        for batch in iter_batches(shard, ReadOptions(), all_columns=True):
            texts += batch.texts
            python += [r["domain"] == "python" for r in batch.records()]
    return texts, np.array(python)


def demo_target() -> list[str]:
    return [json.loads(line)["text"] for line in (DEMO / "target.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def pool() -> tuple[list[str], np.ndarray]:
    return demo_pool()


@pytest.fixture(scope="module")
def fitted(pool) -> ClassifierSelector:
    pytest.importorskip("sklearn")
    return ClassifierSelector(ClassifierConfig(**SMALL, seed=1)).fit(demo_target(), iter(pool[0]))


def bucket(featurizer: NgramFeaturizer, ngram_doc: str) -> int:
    """The bucket of a document's highest-order n-gram (a one-token doc: its token; two tokens: the bigram)."""
    return int(featurizer.featurize([ngram_doc]).buckets[-1])


# -- features -----------------------------------------------------------------------------------------
def test_registered_under_classifier():
    assert get_selector("classifier") is ClassifierSelector
    assert ClassifierSelector.algorithm == "classifier_logreg_v1"
    assert ClassifierSelector.needs_target and ClassifierSelector.needs_raw


def test_hand_computed_features():
    f = NgramFeaturizer(buckets=1 << 20, order=2, lowercase=False)
    feats = Features.from_texts(f, ["x x+=1", ""])
    # tokens x, x, +=, 1: unigrams x:2, +=:1, 1:1; bigrams "x x", "x +=", "+= 1": 1 each
    expected = {bucket(f, "x"): 1 + math.log(2), bucket(f, "+="): 1.0, bucket(f, "1"): 1.0,
                bucket(f, "x x"): 1.0, bucket(f, "x +="): 1.0, bucket(f, "+= 1"): 1.0}
    assert len(expected) == 6  # no collisions among these buckets
    norm = math.sqrt((1 + math.log(2)) ** 2 + 5)
    assert feats.indptr.tolist() == [0, 6, 6]  # the empty document is an all-zero row
    assert feats.indices.tolist() == sorted(expected)
    assert feats.values.tolist() == pytest.approx([expected[i] / norm for i in sorted(expected)], rel=1e-12)


def test_case_is_kept_unless_lowercase():
    kept = NgramFeaturizer(buckets=1 << 20, lowercase=False)
    lowered = NgramFeaturizer(buckets=1 << 20, lowercase=True)
    assert bucket(kept, "Return") != bucket(kept, "return")
    assert bucket(lowered, "Return") == bucket(lowered, "return")
    assert ClassifierSelector().featurizer.lowercase is False
    assert ClassifierSelector().featurizer.buckets == 1 << 20 and ClassifierSelector().featurizer.order == 2


def test_dot_and_concat_agree_with_scipy():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    f = NgramFeaturizer(buckets=97, order=2, lowercase=False)
    texts = ["a b c a", "", "def f(x): return x", "b b b"]
    whole = featurize(f, texts)
    parts = Features.concat([Features.from_texts(f, texts[:1]), Features.from_texts(f, texts[1:])], 97)
    assert np.array_equal(whole.indptr, parts.indptr) and np.array_equal(whole.values, parts.values)
    some = whole.take([3, 1, 0])
    assert some.indptr.tolist() == [0, 2, 2, 8]  # "b b b": b and "b b"; the empty row stays empty
    assert np.array_equal(some.values, featurize(f, [texts[3], texts[1], texts[0]]).values)
    w = np.random.default_rng(0).normal(size=97)
    x = whole.to_scipy()
    assert isinstance(x, scipy_sparse.csr_matrix) and x.shape == (4, 97)
    assert np.allclose(whole.dot(w), x @ w, rtol=1e-12)
    assert np.allclose(scipy_sparse.linalg.norm(x, axis=1), [1, 0, 1, 1])


# -- sampling and the PU filter ---------------------------------------------------------------------
def test_reservoir_sample_is_seeded_ordered_and_complete_when_small():
    items = [f"d{i}" for i in range(10_000)]
    a, seen = reservoir_sample(iter(items), 50, np.random.default_rng(3))
    b, _ = reservoir_sample(iter(items), 50, np.random.default_rng(3))
    c, _ = reservoir_sample(iter(items), 50, np.random.default_rng(4))
    assert seen == 10_000 and a == b and a != c and len(set(a)) == 50
    assert [int(x[1:]) for x in a] == sorted(int(x[1:]) for x in a)  # stream order
    assert reservoir_sample(iter(items[:7]), 50, np.random.default_rng(0)) == (items[:7], 7)


def test_reservoir_sample_is_uniform():
    # Every position should be kept with probability n/N = 0.1; over 400 draws each count is Binomial(400, .1).
    rng = np.random.default_rng(0)
    counts = np.zeros(9000, dtype=np.int64)
    for _ in range(400):
        sample, _ = reservoir_sample(iter(range(9000)), 900, rng)
        counts[sample] += 1
    per_chunk = [counts[i:i + 3000].mean() for i in range(0, 9000, 3000)]  # the chunks of the stream
    assert per_chunk == pytest.approx([40, 40, 40], abs=1.0)
    assert counts.std() == pytest.approx(math.sqrt(400 * 0.1 * 0.9), rel=0.1)


def test_pu_keep_mask_drops_the_top_share():
    scores = np.array([0.5, 3.0, -1.0, 3.0, 2.0, 0.0, -2.0, 1.0, 9.0, -5.0])
    assert np.flatnonzero(~pu_keep_mask(scores, 0.3)).tolist() == [1, 3, 8]
    assert np.flatnonzero(~pu_keep_mask(scores, 0.2)).tolist() == [1, 8]  # a tie goes to the earlier row
    assert pu_keep_mask(scores, 0.0).all() and pu_keep_mask(scores, 0.04).all()


def test_pu_refit_drops_the_target_like_negatives(pool):
    pytest.importorskip("sklearn")
    texts, python = pool
    target = demo_target()
    rng = np.random.default_rng(0)
    # 300 negatives: 285 non-Python pool documents and 15 hidden positives (Python), in random places.
    others = rng.choice(np.flatnonzero(~python), 285, replace=False)
    hidden = rng.choice(np.flatnonzero(python), 15, replace=False)
    rows = rng.permutation(np.concatenate([others, hidden]))
    sel = ClassifierSelector(ClassifierConfig(buckets=1 << 16, pu_top_fraction=0.05))
    sel.fit_features(sel.featurize(target), sel.featurize([texts[i] for i in rows]))
    assert sel.fit_stats == {"positives": len(target), "negatives": 300, "pu_dropped": 15}
    assert python[rows[sel.pu_dropped]].all()
    off = ClassifierSelector(ClassifierConfig(buckets=1 << 16, pu_top_fraction=0))
    off.fit_features(off.featurize(target), off.featurize([texts[i] for i in rows]))
    assert off.fit_stats["pu_dropped"] == 0 and not np.array_equal(off.weights, sel.weights)


# -- the re-fit follows the run's budget ---------------------------------------------------------------
def test_budget_share_order_of_precedence():
    assert budget_share(ClassifierConfig(), 1000) == (None, "estimate")
    assert budget_share(ClassifierConfig(budget_docs=50), 1000) == (0.075, "budget_docs")  # --top-k 50: 1.5 x 5%
    assert budget_share(ClassifierConfig(budget_docs=5000), 1000) == (1.0, "budget_docs")
    assert budget_share(ClassifierConfig(budget_docs=50), None) == (None, "estimate")  # pool size unknown
    assert budget_share(ClassifierConfig(budget_fraction=0.2), 1000) == (0.30000000000000004, "budget_fraction")
    assert budget_share(ClassifierConfig(budget_docs=50, pu_top_fraction=0.3), 1000) == (0.3, "pu_top_fraction")
    assert budget_share(ClassifierConfig(budget_docs=0), 1000) == (0.0, "budget_docs")
    two = {"pu_budget_multiple": 2.0}
    assert budget_share(ClassifierConfig(budget_docs=50, **two), 1000) == (0.1, "budget_docs")
    assert budget_share(ClassifierConfig(budget_fraction=0.2, **two), 1000) == (0.4, "budget_fraction")
    assert budget_share(ClassifierConfig(budget_fraction=0.7, **two), 1000) == (1.0, "budget_fraction")
    assert budget_share(ClassifierConfig(pu_top_fraction=0.3, **two), 1000) == (0.3, "pu_top_fraction")


def tiny_case(hidden: int) -> tuple[list[str], list[str]]:
    """20 async-Python targets; 100 negatives: prose, and ``hidden`` async-Python ones at rows 7, 17, 27, ..."""
    target = [f"async def fetch{i}(url):\n    data = await get(url, retries={i})\n    return await parse(data)"
              for i in range(20)]
    negatives = [f"the {w} sat on the mat number {i} and looked at the rain" for i, w in
                 zip(range(100), ["cat", "dog", "cow", "owl", "fox"] * 20)]
    for row in range(7, 7 + 10 * hidden, 10):
        negatives[row] = (f"async def fetch{row}(url):\n    data = await get(url, retries={row})\n"
                          "    return await parse(data)")
    return target, negatives


def fit_tiny(hidden: int, **config) -> ClassifierSelector:
    pytest.importorskip("sklearn")
    config.setdefault("pu_budget_multiple", 1.0)
    target, negatives = tiny_case(hidden)
    sel = ClassifierSelector(ClassifierConfig(buckets=1 << 16, **config))
    return sel.fit_features(sel.featurize(target), sel.featurize(negatives), pool_docs=1000)


@pytest.mark.parametrize(("config", "dropped"), [
    ({"budget_docs": 100}, 10),       # select --top-k 100 of 1000 docs: share .1 -> the 10 hidden rows
    ({"budget_docs": 30}, 3),         # --top-k 30: share .03 -> 3 of 100 negatives
    ({"budget_fraction": 0.05}, 5),   # --fraction .05
    ({"budget_docs": 0}, 0),
    ({"budget_docs": 40, "pu_budget_multiple": 1.5}, 6),  # the default multiple: 1.5 x 4% of 100 negatives
    ({"budget_docs": 100, "pu_top_fraction": 0.0}, 0),  # an explicit share wins
])
def test_refit_drops_the_budget_share_of_the_best_scoring_negatives(config, dropped):
    sel = fit_tiny(10, **config)
    assert sel.fit_stats["pu_dropped"] == dropped
    assert set(sel.pu_dropped.tolist()) <= set(range(7, 107, 10))  # only hidden async rows go
    assert sel.pu_share_source == ("pu_top_fraction" if "pu_top_fraction" in config else next(iter(config)))
    assert ClassifierConfig().pu_budget_multiple == 1.5


def test_without_a_budget_the_estimate_drops_the_hidden_targets():
    sel = fit_tiny(10)  # `score`: no budget; 10% of the negatives are target-like
    assert sel.pu_share_source == "estimate"
    assert 0.05 <= sel.pu_share <= 0.1
    assert set(sel.pu_dropped.tolist()) <= set(range(7, 107, 10)) and len(sel.pu_dropped) >= 5


def test_without_a_budget_a_rare_target_keeps_every_negative():
    sel = fit_tiny(0)  # nothing in the pool is like the target: dropping would only remove hard negatives
    assert sel.pu_share_source == "estimate" and sel.pu_share == 0.0 and sel.fit_stats["pu_dropped"] == 0


def test_a_budget_past_half_the_pool_keeps_half_the_negatives():
    sel = fit_tiny(10, budget_fraction=0.9)
    assert sel.pu_share == 0.5 and sel.fit_stats["pu_dropped"] == 50


def test_hard_negative_weights_mark_the_band_below_the_drop():
    scores = np.arange(200.0)[::-1]  # row 0 scores best
    w = hard_negative_weights(scores, 0.01, 4.0)
    assert np.flatnonzero(w == 4.0).tolist() == list(range(6))  # 3 x 1% of 200 rows
    assert np.flatnonzero(hard_negative_weights(scores, 0.0, 2.0) == 2.0).tolist() == [0, 1]  # at least 1%
    assert hard_negative_weights(scores, 0.01, 1.0) is None


def test_separation_on_hand_made_scores():
    m = separation(np.array([3.0, 2.0, 0.5]), np.array([1.0, 0.0, -1.0, 2.5]), 0.25)
    # negatives above each positive: 0, 1, 2 of 4 -> false-positive rates 0, .25, .5
    assert m["auc"] == pytest.approx(1 - 0.75 / 3)
    assert m["tpr_at_share"] == pytest.approx(1 / 3)
    assert m["pauc"] == pytest.approx((0.25 / 0.25) / 3)


@pytest.mark.parametrize("penalty", ["l1", "auto", "mix"])
def test_sparse_and_chosen_models_separate_the_tiny_case(penalty):
    sel = fit_tiny(0, penalty=penalty, budget_docs=10)
    target, negatives = tiny_case(0)
    assert (sel.score_batch(["async def go(u):\n    x = await get(u)\n    return await parse(x)"])
            > sel.score_batch(negatives).max())
    assert sel.model["penalty"] in ("l1", "l2", "mix")
    if penalty == "auto":
        assert set(sel.fit_info) == {"l2", "mix"}
        gain = sel.fit_info["mix"]["score"] - sel.fit_info["l2"]["score"]
        assert sel.model["penalty"] == ("mix" if gain > AUTO_MARGIN else "l2")  # l2 unless mix is clearly better


def _two_styles(n_each: int) -> tuple[csr_matrix, np.ndarray]:
    """Target rows of two styles (disjoint buckets), interleaved: style = row % 2."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(2 * n_each):
        base = 0 if i % 2 == 0 else 500
        row = np.zeros(1000)
        row[base + rng.choice(400, 30, replace=False)] = rng.random(30) + 0.5
        row[base + 400 + np.arange(20)] += 1.0  # the style's own words, in every row of it
        rows.append(row / np.linalg.norm(row))
    return csr_matrix(np.vstack(rows)), np.arange(2 * n_each) % 2


def test_cluster_folds_keep_each_style_on_one_side():
    x, style = _two_styles(20)
    folds = cluster_folds(x, seed=0)
    # each fold is one style: a model is judged on the style it did not see
    assert {tuple(np.unique(style[folds == f])) for f in (0, 1)} == {(0,), (1,)}
    assert np.array_equal(cluster_folds(x, seed=0), folds)  # seeded


def test_cluster_folds_alternate_for_tiny_target_sets():
    x, _ = _two_styles(2)
    assert cluster_folds(x[:3], seed=0).tolist() == [0, 1, 0]


def test_cluster_folds_past_the_sample_join_the_nearest_cluster(monkeypatch):
    monkeypatch.setattr("sievekit.selectors.pu.CLUSTER_SAMPLE", 16)
    x, style = _two_styles(30)
    folds = cluster_folds(x, seed=1)
    assert {tuple(np.unique(style[folds == f])) for f in (0, 1)} == {(0,), (1,)}


def test_auto_with_a_single_target_document_keeps_l2():
    target, negatives = tiny_case(0)
    sel = ClassifierSelector(ClassifierConfig(penalty="auto", budget_docs=10, negatives_ratio=20))
    sel.fit(target[:1], iter(negatives))
    assert sel.model["penalty"] == "l2" and sel.fit_info["mix"]["score"] == sel.fit_info["l2"]["score"] == 0.0


def test_cv_separation_scores_each_row_by_the_model_of_the_other_fold():
    x_pos, _ = _two_styles(4)
    x_neg = csr_matrix(np.eye(6, 1000, k=900))
    seen = []

    def fit(p, n, w):  # remembers what each fold trained on; weights every bucket 1
        seen.append((p.shape[0], n.shape[0], None if w is None else w.tolist()))
        return np.ones(1000), 0.0

    m = cv_separation(fit, x_pos, x_neg, np.arange(6.0), np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.1)
    assert seen == [(4, 3, [1.0, 3.0, 5.0]), (4, 3, [0.0, 2.0, 4.0])]
    assert m["auc"] == pytest.approx(1.0)  # every target row scores above every negative row


# -- fitting, scoring, state ---------------------------------------------------------------------------
def test_selects_the_target_domain(fitted, pool):
    texts, python = pool
    scores = fitted.score_batch(texts)
    top = np.argsort(-scores, kind="stable")[: python.sum()]
    assert python[top].mean() > 0.9
    # no budget: the out-of-fold estimate of the Python share (34 of 216 sampled, 0.16; the pool holds 25% Python)
    assert fitted.fit_stats == {"positives": 72, "negatives": 216, "pu_dropped": 34, "pool_docs_read": len(texts)}
    assert fitted.pu_share_source == "estimate"


def test_same_seed_same_model_other_seed_other_sample(fitted, pool):
    again = ClassifierSelector(ClassifierConfig(**SMALL, seed=1)).fit(demo_target(), iter(pool[0]))
    other = ClassifierSelector(ClassifierConfig(**SMALL, seed=2)).fit(demo_target(), iter(pool[0]))
    assert np.array_equal(again.weights, fitted.weights) and again.intercept == fitted.intercept
    assert not np.array_equal(other.weights, fitted.weights)


def test_state_round_trip_gives_identical_scores(fitted, pool):
    state = json.loads(json.dumps(fitted.state_dict()))
    loaded = ClassifierSelector.from_state_dict(state)
    texts = pool[0][:300]
    assert np.array_equal(loaded.score_batch(texts), fitted.score_batch(texts))
    assert loaded.config == fitted.config and loaded.fit_stats == fitted.fit_stats


def test_scoring_a_saved_state_needs_no_sklearn(fitted, monkeypatch):
    state = fitted.state_dict()
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)  # makes the import fail
    assert ClassifierSelector.from_state_dict(state).score_batch(["def f(): pass"]).shape == (1,)


# The default fit (penalty l2) needs scikit-learn only without the compiled solver (SIEVEKIT_JIT=0 or no numba);
# L1, mix and auto always do.
@pytest.mark.parametrize(("penalty", "jit"), [("l2", "0"), ("l1", "1"), ("auto", "1")])
def test_a_fit_that_needs_sklearn_fails_without_it(monkeypatch, penalty, jit):
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)  # makes the import fail
    monkeypatch.setenv("SIEVEKIT_JIT", jit)
    with pytest.raises(MissingDependencyError, match="scikit-learn") as err:
        ClassifierSelector(ClassifierConfig(penalty=penalty)).fit(["x"], iter(["y"]))
    assert err.value.hint == "pip install 'sievekit[classifier]'"


def test_a_missing_sklearn_fails_before_the_pool_is_read(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)

    def pool():
        raise AssertionError("the pool was read")
        yield "never"

    with pytest.raises(MissingDependencyError, match="scikit-learn"):
        ClassifierSelector(ClassifierConfig(penalty="l1")).fit(["x"], pool())


def test_the_default_fit_imports_no_sklearn_with_the_compiled_solver(pool, monkeypatch):
    if logreg.kernel() is None:
        pytest.skip("needs numba (the fast extra)")
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # any import of it fails
    sel = ClassifierSelector(ClassifierConfig(**SMALL, seed=1, bags=2)).fit(demo_target(), iter(pool[0]))
    assert sel.model == {"penalty": "l2", "c": 10.0}
    top = np.argsort(-sel.score_batch(pool[0]))[:100]
    assert pool[1][top].mean() >= 0.95


def test_damaged_state_and_unfitted_use_are_refused(fitted):
    state = fitted.state_dict()
    with pytest.raises(ConfigError, match="do not fit 1024 buckets"):
        ClassifierSelector.from_state_dict({**state, "config": {**state["config"], "buckets": 1024}})
    with pytest.raises(ConfigError, match="must be fitted"):
        ClassifierSelector().score_batch(["x"])


def test_empty_sides_are_explained():
    pytest.importorskip("sklearn")
    with pytest.raises(ConfigError, match="target set holds no documents"):
        ClassifierSelector().fit([], iter(["a"]))
    with pytest.raises(ConfigError, match="pool holds no documents"):
        ClassifierSelector().fit(["a"], iter([]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"c": 0}, "c must be a finite number > 0, got 0"),
    ({"negatives_ratio": -1}, "negatives_ratio must be"),
    ({"pu_top_fraction": 1.0}, r"pu_top_fraction must be within \[0, 1\) or none, got 1.0"),
    ({"budget_docs": -1}, "budget_docs must be >= 0 or none, got -1"),
    ({"budget_fraction": 1.5}, r"budget_fraction must be within \[0, 1\] or none, got 1.5"),
    ({"penalty": "l3"}, "penalty must be one of l2, l1, auto, mix, got 'l3'"),
    ({"hard_negative_weight": 0.5}, "hard_negative_weight must be a finite number >= 1, got 0.5"),
    ({"pu_budget_multiple": 0}, "pu_budget_multiple must be a finite number > 0, got 0"),
    ({"buckets": 0}, "buckets must be within"),
    ({"ngrams": 6}, "ngrams must be within"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClassifierConfig(**kwargs)


# -- CLI -----------------------------------------------------------------------------------------------
def test_cli_select_keeps_python(invoke, tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "picked"
    res = invoke("select", DEMO / "pool", "--method", "classifier", "--target", DEMO / "target.jsonl",
                 "--top-k", "100", "-q", "-o", out, "--buckets", "65536", "--negatives-ratio", "3")
    assert res.exit_code == 0, res.stderr
    kept = [json.loads(line) for p in sorted(out.glob("*.jsonl*")) for line in _lines(p)]
    kept += [r for b in iter_batches(resolve_inputs([str(out / "part-0003.parquet")])[0], ReadOptions(),
                                     all_columns=True) for r in b.records()]
    assert len(kept) == 100 and sum(r["domain"] == "python" for r in kept) >= 95
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows_out"] == 100


def _lines(path: Path) -> list[str]:
    from sievekit.io import iter_decoded_chunks

    return b"".join(iter_decoded_chunks(str(path))).decode().splitlines()


def test_cli_state_reused_on_new_shards_and_parallel_workers(invoke, tmp_path):
    pytest.importorskip("sklearn")
    first = tmp_path / "day1"
    res = invoke("score", DEMO / "pool" / "part-0000.jsonl.zst", "--method", "classifier", "--target",
                 DEMO / "target.jsonl", "-q", "-o", first, "--seed", "5", "--buckets", "65536", "--c", "3")
    assert res.exit_code == 0, res.stderr
    state = json.loads((first / "state" / "classifier.json").read_text())
    assert state["config"]["seed"] == 5 and state["config"]["c"] == 3.0
    texts = [t for b in iter_batches(resolve_inputs([str(DEMO / "pool" / "part-0001.jsonl.zst")])[0],
                                     ReadOptions()) for t in b.texts]
    expected = ClassifierSelector.from_state_dict(state).score_batch(texts)
    for jobs in ("1", "2"):
        out = tmp_path / f"day2-j{jobs}"
        res = invoke("score", DEMO / "pool" / "part-0001.jsonl.zst", DEMO / "pool" / "part-0002.jsonl.zst",
                     "--state", first, "-j", jobs, "-q", "-o", out)
        assert res.exit_code == 0, res.stderr
        got = [json.loads(line)["classifier"] for line in _lines(out / "part-0001.scores.jsonl.zst")]
        assert np.array_equal(np.array(got), expected)


def test_cli_bad_option_value_is_a_usage_error(invoke, tmp_path):
    res = invoke("select", DEMO / "pool", "--method", "classifier", "--target", DEMO / "target.jsonl",
                 "--top-k", "5", "--pu-top-fraction", "1.5", "-o", tmp_path / "o")
    assert res.exit_code == 2 and "pu_top_fraction must be within [0, 1) or none, got 1.5" in res.stderr


def test_cli_runs_from_the_shipped_config(invoke, tmp_path):
    pytest.importorskip("sklearn")
    config = Path(__file__).parents[2] / "configs" / "classifier.toml"
    out = tmp_path / "s"
    res = invoke("select", DEMO / "pool" / "part-0000.jsonl.zst", "--config", config, "--target",
                 DEMO / "target.jsonl", "--top-k", "10", "-q", "-o", out, "--negatives-ratio", "2")
    assert res.exit_code == 0, res.stderr
    state = json.loads((out / "manifest.json").read_text())["selector"]
    shipped = {**dataclasses.asdict(ClassifierConfig()), "negatives_ratio": 2.0, "budget_docs": 10}
    # select fills the budget from --top-k; an explicit pu_top_fraction in the file would override it
    assert {k: v for k, v in state["config"].items() if k != "pu_top_fraction"} == \
        {k: v for k, v in shipped.items() if k != "pu_top_fraction"}
    assert state["state"]["fit_stats"]["negatives"] == 144


@pytest.mark.parametrize(("options", "jit"), [((), "0"), (("--penalty", "l1"), "1")])
def test_cli_without_sklearn_says_what_to_install(invoke, tmp_path, monkeypatch, options, jit):
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    monkeypatch.setenv("SIEVEKIT_JIT", jit)  # with the compiled solver, the default penalty needs no scikit-learn
    res = invoke("select", DEMO / "pool", "--method", "classifier", "--target", DEMO / "target.jsonl",
                 "--top-k", "5", "-q", "-o", tmp_path / "o", *options)
    assert res.exit_code == 1 and res.stdout == ""
    assert "the classifier method needs the 'scikit-learn' package" in res.stderr
    assert "pip install 'sievekit[classifier]'" in res.stderr
