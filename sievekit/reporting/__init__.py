"""``report``: what a set of shards holds and what a run did to it (``build``), its tables and pages
(``render``), and the statistics both use (``stats``)."""

from sievekit.reporting.build import report

__all__ = ["report"]
