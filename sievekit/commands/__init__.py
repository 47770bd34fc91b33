"""The library behind the CLI, one function per command, each with typed options: ``select``, ``score``,
``dedupe`` and ``report``. What a run writes is its *job* (rule, source, config, read options, seed, inputs);
how it runs is ``RunOptions``."""

from sievekit.commands.dedupe import dedupe
from sievekit.commands.report import report
from sievekit.commands.score import score
from sievekit.commands.select import select
from sievekit.run.writeback import RunResult

__all__ = ["RunResult", "dedupe", "report", "score", "select"]
