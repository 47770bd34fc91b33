"""Selection rules over a whole pool's scores: the policies (``sampling``), strata (``stratify``) and the
``Rule`` a run is given. Pure functions over numpy arrays; no I/O."""

from sievekit.rules.rule import RULES, Rule

__all__ = ["RULES", "Rule"]
