"""sievekit: select the documents of a raw text pool that match a target, and drop the duplicates.

The library mirrors the CLI: ``select``, ``score``, ``dedupe`` and ``report`` do what the commands of the
same names do, with typed options (``Rule``, ``ScoreSource``, ``DedupeConfig``, ``ReadOptions``,
``RunOptions``); ``io`` streams shards; ``selectors`` holds the scoring methods.
"""

from sievekit.commands import RunResult, dedupe, report, score, select
from sievekit.duplicates.options import DedupeConfig
from sievekit.errors import ConfigError, InputError, SievekitError
from sievekit.io import ReadOptions, Shard, iter_batches, resolve_inputs
from sievekit.io.batch import Batch, Doc
from sievekit.rules import Rule
from sievekit.run import RunOptions
from sievekit.scoring import MethodSpec, ScoreSource
from sievekit.selectors import Selector, available, get_selector, register
from sievekit.version import __version__

__all__ = [
    "Batch",
    "ConfigError",
    "DedupeConfig",
    "Doc",
    "InputError",
    "MethodSpec",
    "ReadOptions",
    "Rule",
    "RunOptions",
    "RunResult",
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
