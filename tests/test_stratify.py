"""Length-stratified top-k: equal-frequency length bands, the same share of each, best scores within a band."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sievekit.rules.stratify import length_bins, stratified_top_k


def test_bands_are_equal_frequency_with_ties_by_position():
    assert length_bins([5, 5, 5, 5], 2).tolist() == [0, 0, 1, 1]
    assert length_bins([9, 1, 8, 2, 7], 2).tolist() == [1, 0, 1, 0, 0]
    assert np.bincount(length_bins(np.arange(103) % 7, 10)).tolist() == [11, 10, 10, 11, 10, 10, 11, 10, 10, 10]


def test_a_length_biased_score_still_gets_every_band():
    lengths = np.arange(1, 101)
    scores = -lengths.astype(float)  # the shortest documents score best, as under raw ZIP-FIT
    plain = np.argsort(-scores, kind="stable")[:10]
    assert lengths[plain].max() == 10
    kept = stratified_top_k(scores, lengths, 10, bins=5)
    assert kept.tolist() == [0, 1, 20, 21, 40, 41, 60, 61, 80, 81]  # the two best of each band of 20


def test_fraction_counts_every_document():
    # k = 5 over two bands of 5: shares 2.5 and 2.5, the odd one to the lower band.
    kept = stratified_top_k(np.arange(10.0), np.arange(10), 0.5, bins=2)
    assert kept.tolist() == [2, 3, 4, 8, 9]


def test_quotas_follow_largest_remainders():
    # 3 bands of sizes 4, 3, 3 sharing k = 5: exact shares 2.0, 1.5, 1.5 -> 2, 2, 1 (ties go to the lower band).
    lengths = np.arange(10)
    kept = stratified_top_k(np.ones(10), lengths, 5, bins=3)
    assert np.bincount(length_bins(lengths, 3)[kept], minlength=3).tolist() == [2, 2, 1]


def test_non_finite_scores_are_never_kept_and_the_shortfall_moves():
    scores = np.array([-np.inf, -np.inf, -np.inf, 5.0, 1.0, 4.0, np.nan, 3.0])
    kept = stratified_top_k(scores, np.arange(8), 4, bins=2)  # band 0 (rows 0-3) has one finite score
    assert kept.tolist() == [3, 4, 5, 7]
    assert stratified_top_k(scores, np.arange(8), 100, bins=2).tolist() == [3, 4, 5, 7]


@pytest.mark.parametrize("k,match", [(-1, "k must be >= 0"), (1.5, r"within \[0, 1\]"), (True, "int count")])
def test_bad_counts(k, match):
    with pytest.raises(ValueError, match=match):
        stratified_top_k(np.zeros(3), np.arange(3), k)


def test_bad_shapes_and_bins():
    with pytest.raises(ValueError, match="differ in shape"):
        stratified_top_k(np.zeros(3), np.arange(4), 1)
    with pytest.raises(ValueError, match="bins must be >= 1"):
        length_bins([1, 2], 0)


def test_empty_inputs():
    assert stratified_top_k(np.zeros(0), np.zeros(0), 3).tolist() == []
    assert stratified_top_k(np.zeros(4), np.arange(4), 0).tolist() == []


@settings(max_examples=80, deadline=None)
@given(data=st.lists(st.tuples(st.floats(-5, 5) | st.just(float("-inf")), st.integers(0, 50)), max_size=60),
       k=st.integers(0, 70), bins=st.integers(1, 8))
def test_properties(data, k, bins):
    scores = np.array([s for s, _ in data], dtype=float)
    lengths = np.array([n for _, n in data], dtype=np.int64)
    kept = stratified_top_k(scores, lengths, k, bins)
    finite = np.isfinite(scores)
    assert len(kept) == min(k, int(finite.sum()))
    assert np.all(np.diff(kept) > 0) and np.all(finite[kept])
    assert np.array_equal(kept, stratified_top_k(scores.copy(), lengths.copy(), k, bins))
    if finite.all() and len(data):
        band = length_bins(lengths, min(bins, len(data)))
        sizes = np.bincount(band)
        got = np.bincount(band[kept], minlength=len(sizes))
        assert np.all(np.abs(got - sizes * k / len(data)) < 1 + 1e-9) or k > len(data)
        for b in range(len(sizes)):  # within a band, nothing left out beats anything kept
            members = np.flatnonzero(band == b)
            inside = np.isin(members, kept)
            if inside.any() and (~inside).any():
                assert scores[members[inside]].min() >= scores[members[~inside]].max()

