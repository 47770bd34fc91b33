"""``ScoreSource``: where ``select`` gets one score per document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sievekit.errors import ConfigError, option
from sievekit.scoring.methods import MethodSpec


@dataclass(frozen=True)
class ScoreSource:
    """Methods fitted now (or loaded from ``state``), the sidecars of an earlier ``score`` run (``sidecars``, a
    directory; ``methods`` may name the column), or a numeric field of the records (``field``)."""

    methods: Sequence[MethodSpec] = ()
    target: Sequence[str] | None = None
    state: str | None = None
    sidecars: str | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        given = [n for n, v in (("methods", self.methods and not self.sidecars), ("sidecars", self.sidecars),
                                ("field", self.field)) if v]
        if len(given) != 1:
            choices = ", ".join(option(n) for n in ("methods", "sidecars", "field"))
            raise ConfigError(f"give one source of scores: {choices} "
                              f"(got {', '.join(option(n) for n in given) or 'none'})")
        if len(self.methods) > 1:
            raise ConfigError("select ranks by one method", hint=f"score with several, then select with "
                              f"{option('sidecars')}")
        if self.target is not None and isinstance(self.target, str):
            object.__setattr__(self, "target", [self.target])
