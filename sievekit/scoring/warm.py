"""What a run's worker processes need before their first task, loaded once in the executor's fork server.

Importing this module imports the tasks' code (the scoring pass, the kept-record writer, every selector) and
runs the featurizer once over a short text with non-ASCII letters, which loads its compiled kernels (numba's
cache) and its Unicode tables. Workers forked from a server that imported it start with all of that in
memory: about a CPU-second each, paid once per run instead of once per worker. Nothing here may fail: a
warm-up that cannot run leaves the workers to load what they need themselves.
"""

from __future__ import annotations

import contextlib

MODULE = __name__  # what ``Executor(preload=...)`` names


def warm_up() -> None:
    """Import the task code and run the featurizer once (errors ignored)."""
    with contextlib.suppress(Exception):
        import sievekit.run.writeback  # noqa: F401
        import sievekit.scoring.passes  # noqa: F401
        from sievekit.selectors.ngrams import NgramFeaturizer

        NgramFeaturizer().featurize(["Warm up: naïve café, ÆØÅ, 東京 and def f(x): return x"])


warm_up()
