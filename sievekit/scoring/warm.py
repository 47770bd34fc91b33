"""What a run's worker processes need before their first task, loaded once in the executor's fork server.

Importing this module imports the tasks' code (the scoring pass, the kept-record writer, every selector);
``warm_ngrams`` also runs the hashed n-gram featurizer once. Workers forked from a server that imported them
start with all of that in memory, paid once per run instead of once per worker. Nothing here may fail: a
warm-up that cannot run leaves the workers to load what they need themselves.
"""

from __future__ import annotations

import contextlib

with contextlib.suppress(Exception):
    import sievekit.run.writeback  # noqa: F401
    import sievekit.scoring.passes  # noqa: F401
    import sievekit.selectors  # noqa: F401
