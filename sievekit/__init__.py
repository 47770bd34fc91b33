"""sievekit: select the documents of a raw text pool that match a target, and drop the duplicates.

The library mirrors the CLI: ``pipeline.select``/``pipeline.score``/``reporting.report`` do what the
commands of the same names do; ``io`` streams shards; ``selectors`` holds the scoring methods.
"""

__version__ = "0.1.0"

from sievekit.errors import ConfigError, InputError, SievekitError  # noqa: E402
from sievekit.io import ReadOptions, Shard, iter_batches, resolve_inputs  # noqa: E402
from sievekit.pipeline import Rule, ScoreSource, dedupe, score, select  # noqa: E402
from sievekit.records import Batch, Doc  # noqa: E402
from sievekit.reporting import report  # noqa: E402
from sievekit.scoring import MethodSpec  # noqa: E402
from sievekit.selectors import Selector, available, get_selector, register  # noqa: E402

__all__ = [
    "Batch",
    "ConfigError",
    "Doc",
    "InputError",
    "MethodSpec",
    "ReadOptions",
    "Rule",
    "ScoreSource",
    "Selector",
    "Shard",
    "SievekitError",
    "__version__",
    "available",
    "dedupe",
    "get_selector",
    "iter_batches",
    "register",
    "report",
    "resolve_inputs",
    "score",
    "select",
]
