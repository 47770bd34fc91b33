"""Selection policies: exact counts, deterministic ties, non-finite never kept, seeded Gumbel sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sievekit.rules import sampling


def test_top_k_ties_break_by_position():
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert sampling.top_k(scores, 2).tolist() == [1, 2]
    assert sampling.top_k(scores, 4).tolist() == [1, 2, 3, 4]


def test_non_finite_is_never_kept():
    scores = np.array([np.nan, -np.inf, 0.5, np.inf])
    assert sampling.top_k(scores, 4).tolist() == [2]
    assert sampling.threshold(scores, -1e300).tolist() == [2]


def test_fraction_counts_all_documents():
    assert len(sampling.fraction(np.arange(10.0), 0.35)) == 3
    with pytest.raises(ValueError):
        sampling.fraction(np.arange(3.0), 1.5)


def test_threshold_is_inclusive():
    assert sampling.threshold(np.array([0.1, 0.5, 0.9]), 0.5).tolist() == [1, 2]


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=60), st.integers(0, 70), st.integers(0, 2**32))
def test_gumbel_top_k_is_a_seeded_subset(log_w, k, seed):
    w = np.array(log_w)
    a = sampling.gumbel_top_k(w, k, np.random.default_rng(seed))
    b = sampling.gumbel_top_k(w, k, np.random.default_rng(seed))
    assert a.tolist() == b.tolist()
    assert len(a) == min(k, len(w)) and len(set(a.tolist())) == len(a)


def test_gumbel_top_k_samples_proportionally_to_weights():
    # Drawing one of three items with weights 1:2:7 many times matches those shares.
    log_w = np.log(np.array([1.0, 2.0, 7.0]))
    rng = np.random.default_rng(0)
    counts = np.bincount([sampling.gumbel_top_k(log_w, 1, rng)[0] for _ in range(20000)], minlength=3)
    assert np.allclose(counts / counts.sum(), [0.1, 0.2, 0.7], atol=0.015)
