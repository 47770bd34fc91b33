"""MinHash: hand-checked one-permutation signatures, the Jaccard estimate's error, and datasketch as reference."""

from __future__ import annotations

import numpy as np
import pytest

from sievekit.duplicates.hashing import mix64
from sievekit.duplicates.minhash import Signer, datasketch_signatures, jaccard_estimate, oph_signatures

K = 128


def _h(bin_: int, value: int, k: int = 4) -> int:
    """A shingle hash that lands in ``bin_`` of ``k`` with ``value`` (the injected, fake hash of the tests)."""
    return ((bin_ * (1 << 32) // k) << 32) | value


def test_oph_keeps_the_minimum_per_bin_hand_checked():
    hashes = np.array([_h(0, 5), _h(0, 3), _h(2, 9), _h(1, 7), _h(3, 1), _h(2, 42)], dtype=np.uint64)
    sig = oph_signatures(hashes, np.array([0, 0, 0, 0, 0, 1]), 2, 4)
    assert sig[0].tolist() == [3, 7, 9, 1]
    assert sig[1].tolist() == [42, 42, 42, 42]  # densification copies the only filled bin everywhere


def test_densification_is_the_same_for_every_document():
    # two documents whose only filled bins are equal get equal signatures, wherever the bins are copied
    hashes = np.array([_h(1, 8, K), _h(5, 2, K), _h(1, 8, K), _h(5, 2, K)], dtype=np.uint64)
    sig = oph_signatures(hashes, np.array([0, 0, 1, 1]), 2, K)
    assert (sig[0] == sig[1]).all()
    assert set(sig[0].tolist()) == {8, 2}


def _pair(rng: np.random.Generator, size: int, jaccard: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Two random hash sets of ``size`` elements each with Jaccard as close to ``jaccard`` as sizes allow."""
    shared = round(2 * size * jaccard / (1 + jaccard))
    pool = rng.integers(0, 2**63, size=3 * size, dtype=np.uint64)
    pool = np.unique(pool)[: 2 * size - shared]
    a = pool[:size]
    b = np.concatenate((pool[:shared], pool[size:2 * size - shared]))
    true = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    return a, b, true


@pytest.mark.parametrize("size", [20, 500])
@pytest.mark.parametrize("jaccard", [0.3, 0.7, 0.9])
def test_oph_estimate_within_tolerance(size, jaccard):
    """Each estimate within 5 standard deviations of a K-sample estimate; the mean of 100 within 0.02."""
    rng = np.random.default_rng(size)
    errors = []
    for i in range(100):
        a, b, true = _pair(rng, size, jaccard)
        # mix, as the shingler does, so bins and values are uniform

        hashes = mix64(np.concatenate((a, b)))
        doc = np.repeat([0, 1], [len(a), len(b)])
        sig = oph_signatures(hashes, doc, 2, K, seed=i)
        errors.append(float(jaccard_estimate(sig[0], sig[1])) - true)
    sd = np.sqrt(jaccard * (1 - jaccard) / K)
    assert np.abs(errors).max() < 5 * sd
    assert abs(np.mean(errors)) < 0.02


def test_datasketch_cross_check_on_the_same_shingles():
    """Our OPH estimates and datasketch's K-permutation estimates agree with the truth and each other."""
    pytest.importorskip("datasketch")
    rng = np.random.default_rng(3)
    ours, theirs, truth = [], [], []
    for i in range(60):
        a, b, true = _pair(rng, 300, [0.5, 0.8, 0.95][i % 3])

        hashes = mix64(np.concatenate((a, b)))
        doc = np.repeat([0, 1], [len(a), len(b)])
        o = oph_signatures(hashes, doc, 2, K)
        d = datasketch_signatures(hashes, doc, 2, K, seed=1)
        ours.append(jaccard_estimate(o[0], o[1]))
        theirs.append(jaccard_estimate(d[0], d[1]))
        truth.append(true)
    ours_err = np.abs(np.array(ours) - truth)
    theirs_err = np.abs(np.array(theirs) - truth)
    assert ours_err.mean() < 0.05 and theirs_err.mean() < 0.05
    assert abs(ours_err.mean() - theirs_err.mean()) < 0.02


def test_datasketch_engine_matches_datasketch_minhash():
    datasketch = pytest.importorskip("datasketch")
    texts = ["one two three four five six seven eight", "one two three four five six seven nine"]
    sig, _ = Signer(num_perm=32, seed=4, engine="datasketch").sign(texts)
    hashes, doc, _ = Signer(num_perm=32, seed=4).shingles(texts)
    ref = datasketch.MinHash(num_perm=32, seed=4, hashfunc=int)
    ref.update_batch((hashes[doc == 0] >> np.uint64(32)).tolist())
    assert sig[0].tolist() == ref.hashvalues.tolist()


def test_signer_on_real_text_near_and_far():
    base = " ".join(f"word{i % 97} common{i % 13}" for i in range(400))
    near = base.replace("word5 ", "other5 ", 1)
    far = " ".join(f"thing{i % 89}" for i in range(400))
    sig, exact = Signer().sign([base, near, far, base.upper()])
    assert jaccard_estimate(sig[0], sig[1]) > 0.9
    assert jaccard_estimate(sig[0], sig[2]) < 0.1
    assert (sig[0] == sig[3]).all() and (exact[0] == exact[3]).all()


def test_signing_does_not_depend_on_chunking():
    texts = [f"doc {i} " + "lorem ipsum dolor sit amet " * (i % 7 + 1) for i in range(50)]
    whole, ex1 = Signer().sign(texts)
    chunked, ex2 = Signer(max_bytes=200).sign(texts)
    assert (whole == chunked).all() and (ex1 == ex2).all()


@pytest.mark.parametrize("kwargs, match", [({"num_perm": 0}, "num_perm"), ({"engine": "rust"}, "engine")])
def test_signer_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Signer(**kwargs)
