"""The banding rule keeps its promise; LSH groups by sorting; components and survivors, hand-checked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sievekit.duplicates.banding import band_keys, bucket_groups, catch_probability, choose_bands
from sievekit.duplicates.cluster import components, peel, size_histogram, survivors
from sievekit.errors import ConfigError


@pytest.mark.parametrize("threshold, bands, rows", [(0.8, 16, 8), (0.7, 21, 6), (0.9, 9, 14), (0.5, 42, 3)])
def test_choose_bands_hand_checked(threshold, bands, rows):
    b = choose_bands(threshold, 128)
    assert (b.bands, b.rows) == (bands, rows)


@given(st.floats(0.3, 1.0), st.sampled_from([32, 64, 128, 256]))
def test_rule_catches_pairs_at_the_threshold_with_probability_0_9_using_the_most_rows(t, k):
    b = choose_bands(t, k)
    assert b.bands * b.rows <= k
    assert catch_probability(t, b.bands, b.rows) >= 0.9
    assert all(catch_probability(t, k // r, r) < 0.9 for r in range(b.rows + 1, k + 1))


def test_datasketch_default_for_0_8_misses_most_pairs_at_0_8():
    # the figure: 9 bands x 13 rows catches about 40% of the pairs at exactly 0.8; ours ~95%
    assert catch_probability(0.8, 9, 13) < 0.45 < 0.9 < choose_bands(0.8, 128).catch(0.8)


def test_choose_bands_refuses_an_impossible_promise():
    with pytest.raises(ConfigError):
        choose_bands(0.05, 4)
    with pytest.raises(ConfigError):
        choose_bands(0.0, 128)


def test_band_keys_equal_exactly_when_the_band_slots_are_equal():
    sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [1, 3, 3, 4]], dtype=np.uint32)
    k0 = band_keys(sig, 0, 2)
    k1 = band_keys(sig, 1, 2)
    assert k0[0] == k0[1] != k0[2]
    assert k1[0] == k1[2] != k1[1]
    assert band_keys(sig, 0, 2, seed=1)[0] != k0[0]


def test_bucket_groups_lists_members_of_groups_of_two_or_more_hub_first():
    keys = np.array([7, 3, 7, 5, 3, 7], dtype=np.uint64)
    group, doc = bucket_groups(keys, np.arange(6, dtype=np.int64) + 10)
    pairs = sorted(zip(group.tolist(), doc.tolist(), strict=True))
    members = {}
    for g, d in pairs:
        members.setdefault(g, []).append(d)
    assert sorted(members.values()) == [[10, 12, 15], [11, 14]]


def test_peel_finds_pairs_hidden_behind_an_unrelated_hub():
    group = np.array([0, 0, 0, 0])
    docs = np.array([1, 2, 3, 4])
    similar = {(2, 3), (2, 4), (3, 4)}
    u, v = peel(group, docs, lambda a, b: np.array([(x, y) in similar for x, y in zip(a, b, strict=True)], dtype=bool))
    assert sorted(zip(u.tolist(), v.tolist(), strict=True)) == [(2, 3), (2, 4)]


def test_components_label_by_smallest_member():
    nodes, label = components(np.array([5, 1, 8, 2]), np.array([9, 5, 3, 1]))
    assert dict(zip(nodes.tolist(), label.tolist(), strict=True)) == {1: 1, 2: 1, 5: 1, 9: 1, 3: 3, 8: 3}


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=60))
def test_components_match_a_plain_union_find(edges):
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    nodes, label = components(u, v)
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    assert label.tolist() == [find(x) for x in nodes.tolist()]


def test_survivors_by_priority_then_smallest_document():
    nodes = np.array([1, 2, 3, 7, 8])
    label = np.array([1, 1, 1, 7, 7])
    prio = np.array([0.0, -5.0, -5.0, 0.0, 0.0])
    assert survivors(nodes, label, prio).tolist() == [2, 2, 2, 7, 7]


def test_size_histogram_bins():
    assert size_histogram(np.array([1, 1, 4, 4, 4, 9, 9, 9, 9, 9])) == {"2": 1, "3-4": 1, "5-8": 1}
