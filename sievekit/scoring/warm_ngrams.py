"""``warm`` plus the hashed n-gram featurizer run once over a short text with non-ASCII letters and scored as the
classifier and DSIR score, which loads its compiled kernels (numba's cache: most of a CPU-second per process) and its
Unicode tables, for runs whose method featurises (DSIR, the classifier). See ``warm``."""

from __future__ import annotations

import contextlib

import sievekit.scoring.warm  # noqa: F401

with contextlib.suppress(Exception):
    import numpy as np

    from sievekit.selectors.features import tf_scores
    from sievekit.selectors.ngrams import NgramFeaturizer

    _TEXTS = ["Warm up: naïve café, ÆØÅ, 東京 and def f(x): return x"]
    _FEATURIZER = NgramFeaturizer()
    _FEATURIZER.featurize(_TEXTS)
    _BATCH = _FEATURIZER.featurize(_TEXTS, compact=True)  # as DSIR featurises, counts and scores
    _BATCH.dot(np.zeros(_FEATURIZER.buckets))
    _BATCH.totals()
    tf_scores(_FEATURIZER, _TEXTS, np.zeros(_FEATURIZER.buckets, dtype=np.float32))  # as the classifier scores
