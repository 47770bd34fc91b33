"""Our L2 logistic regression (dual coordinate descent) against scikit-learn's liblinear, its weights, edge cases,
and the classifier's choice between the two."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix, vstack

from sievekit.io import ReadOptions, iter_batches, resolve_inputs
from sievekit.selectors import logreg
from sievekit.selectors.classifier import ClassifierConfig, ClassifierSelector

pytestmark = pytest.mark.skipif(logreg.kernel() is None, reason="needs numba (the fast extra)")
DEMO = Path(__file__).parents[2] / "sievekit" / "demo"
BUCKETS = 1 << 16


@pytest.fixture(scope="module")
def data() -> tuple[csr_matrix, np.ndarray]:
    """The demo target (72 Python documents) and every fourth demo pool document (mixed domains) as features."""
    target = [json.loads(line)["text"] for line in (DEMO / "target.jsonl").read_text().splitlines()]
    pool = [t for shard in resolve_inputs([str(DEMO / "pool")]) for b in iter_batches(shard, ReadOptions())
            for t in b.texts][::4]
    sel = ClassifierSelector(ClassifierConfig(buckets=BUCKETS))
    x = vstack([sel.featurize(target).to_scipy(), sel.featurize(pool).to_scipy()], format="csr")
    return x, np.arange(x.shape[0]) < len(target)


def fit(x: csr_matrix, positive: np.ndarray, c: float = 10.0, **kwargs) -> tuple[np.ndarray, float]:
    return logreg.fit_l2(x.indptr, x.indices, x.data, x.shape[1], positive, c, **kwargs)


def liblinear(x: csr_matrix, positive: np.ndarray, sample_weight: np.ndarray | None = None
              ) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    from sievekit.selectors.classifier import _penalty_args

    model = LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear", dual=True, max_iter=1000,
                               random_state=0, **_penalty_args(LogisticRegression, "l2"))
    model.fit(x, positive.astype(int), sample_weight=sample_weight)
    return model.coef_[0], float(model.intercept_[0])


def relative(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> float:
    u, v = np.append(*a), np.append(*b)
    return float(np.linalg.norm(u - v) / np.linalg.norm(v))


def ranks(s: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(s)).astype(float)


@pytest.mark.parametrize("weighted", [False, True])
def test_the_same_model_as_liblinear(data, weighted):
    pytest.importorskip("sklearn")
    x, positive = data
    # hard-negative weights as the classifier's re-fit gives them: 3 for some negatives, 1 for the rest
    weights = np.where(~positive & (np.arange(len(positive)) % 7 == 0), 3.0, 1.0) if weighted else None
    ours, theirs = fit(x, positive, sample_weight=weights), liblinear(x, positive, weights)
    assert relative(ours, theirs) < 1e-3
    assert abs(ours[1] - theirs[1]) < 1e-3 * max(1.0, abs(theirs[1]))
    s_ours, s_theirs = x @ ours[0] + ours[1], x @ theirs[0] + theirs[1]
    assert np.array_equal(s_ours > 0, s_theirs > 0)
    assert np.corrcoef(ranks(s_ours), ranks(s_theirs))[0, 1] > 0.9999
    assert (s_ours[positive] > 0).mean() > 0.95 and (s_ours[~positive] < 0).mean() > 0.95


def test_a_tight_tolerance_reaches_liblinears_optimum(data):
    pytest.importorskip("sklearn")
    x, positive = data
    assert relative(fit(x, positive, tol=1e-4), liblinear(x, positive)) < 1e-4


def test_balanced_costs_by_hand():
    positive = np.array([True, False, False, False])
    assert logreg.balanced_costs(positive, 2.0).tolist() == [2.0 * 4 / 2, 2.0 * 4 / 6, 2.0 * 4 / 6, 2.0 * 4 / 6]
    # with sample weights the classes are weighed by their weights' sums (scikit-learn >= 1.6)
    got = logreg.balanced_costs(positive, 1.0, np.array([1.0, 3.0, 1.0, 1.0]))
    assert np.allclose(got, [6 / 2, 3 * 6 / 10, 6 / 10, 6 / 10])


def test_balanced_weights_give_each_class_half_the_cost(data):
    x, positive = data
    # Balanced, each class costs n / 2 in all: every negative twice is the same objective as the rows once with
    # C scaled by the new n over the old one.
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    doubled = vstack([x, x[~positive]], format="csr")
    labels = np.concatenate([positive, np.zeros(n_neg, dtype=bool)])
    scaled = fit(x, positive, c=10.0 * (n_pos + 2 * n_neg) / (n_pos + n_neg), tol=1e-6)
    assert relative(fit(doubled, labels, tol=1e-6), scaled) < 1e-4
    assert relative(fit(x, positive, tol=1e-6), scaled) > 1e-2


def test_a_sample_weight_of_two_is_a_row_twice(data):
    x, positive = data
    weights = np.ones(len(positive))
    weights[[0, 5, 100, 101]] = 2.0
    copies = vstack([x, x[[0, 5, 100, 101]]], format="csr")
    labels = np.concatenate([positive, positive[[0, 5, 100, 101]]])
    weighted = fit(x, positive, sample_weight=weights, tol=1e-6)
    assert relative(weighted, fit(copies, labels, tol=1e-6)) < 1e-4
    assert relative(weighted, fit(x, positive, tol=1e-6)) > 1e-3  # the weights did change the model


def test_a_row_of_weight_zero_is_left_out(data):
    x, positive = data
    weights = np.ones(len(positive))
    weights[[3, 200]] = 0.0
    rows = np.flatnonzero(weights)
    got = fit(x, positive, sample_weight=weights, seed=4)
    assert np.array_equal(np.append(*got), np.append(*fit(x[rows], positive[rows], seed=4)))


def test_deterministic_for_a_seed(data):
    x, positive = data
    first, again, other = fit(x, positive, seed=1), fit(x, positive, seed=1), fit(x, positive, seed=2)
    assert np.array_equal(first[0], again[0]) and first[1] == again[1]
    assert not np.array_equal(first[0], other[0])  # another visiting order stops at another point...
    assert relative(first, other) < 1e-3  # ...near the same optimum


def test_untouched_columns_get_zero_and_empty_rows_only_the_intercept(data):
    x, positive = data
    empty = csr_matrix((2, x.shape[1]))
    rows = vstack([x, empty], format="csr")
    weights, intercept = fit(rows, np.concatenate([positive, [True, False]]))
    untouched = np.bincount(x.indices, minlength=x.shape[1]) == 0
    assert untouched.any() and not weights[untouched].any() and weights[~untouched].any()
    assert np.array_equal(empty @ weights + intercept, [intercept, intercept])


def test_one_class_is_refused(data):
    x, positive = data
    with pytest.raises(ValueError, match="both classes"):
        fit(x[positive], positive[positive])


def test_the_classifier_fits_l2_with_ours_and_falls_back_to_liblinear(data, monkeypatch):
    pytest.importorskip("sklearn")
    x, positive = data
    x_pos, x_neg = x[positive], x[~positive]
    sel = ClassifierSelector(ClassifierConfig(buckets=BUCKETS, seed=3))
    w, b = sel._logreg(x_pos, x_neg)
    ours = fit(x, positive, seed=3)
    assert np.array_equal(w, ours[0].astype(np.float32)) and b == float(np.float32(ours[1]))
    monkeypatch.setenv("SIEVEKIT_JIT", "0")
    assert logreg.kernel() is None
    w0, b0 = sel._logreg(x_pos, x_neg)
    from sklearn.linear_model import LogisticRegression

    from sievekit.selectors.classifier import _penalty_args

    used = np.unique(x.indices)
    compact = csr_matrix((x.data, np.searchsorted(used, x.indices), x.indptr), shape=(x.shape[0], len(used)))
    model = LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear", dual=True, max_iter=1000,
                               random_state=3, **_penalty_args(LogisticRegression, "l2")).fit(compact,
                                                                                             positive.astype(int))
    assert np.array_equal(w0[used], model.coef_[0].astype(np.float32)) and b0 == float(np.float32(model.intercept_[0]))
    assert relative((w0, b0), (w, b)) < 1e-3


def test_touched_columns_is_np_unique():
    indices = np.random.default_rng(0).integers(0, 1000, 5000)
    used, local = logreg.touched_columns(indices, 1000)
    expected_used, expected_local = np.unique(indices, return_inverse=True)
    assert np.array_equal(used, expected_used) and np.array_equal(local, expected_local)
