"""Scores for every document: methods fitted by name (``methods``), whole shards scored (``passes``),
scores read back from sidecars or fields (``sidecars``), and where ``select`` gets them (``source``)."""

from sievekit.scoring.methods import MethodSpec
from sievekit.scoring.source import ScoreSource

__all__ = ["MethodSpec", "ScoreSource"]
