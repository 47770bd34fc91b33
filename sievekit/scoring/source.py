"""``ScoreSource``: where ``select`` gets one score per document."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sievekit.errors import ConfigError, option
from sievekit.io import fs
from sievekit.scoring.methods import MethodSpec, check_target

_PROPORTION = re.compile(r"^(.+):((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")


@dataclass(frozen=True)
class ScoreSource:
    """Methods fitted now (or loaded from ``state``), the sidecars of an earlier ``score`` run (``sidecars``, a
    directory; ``methods`` may name the column), or a numeric field of the records (``field``).

    Several ``target`` entries are one merged target set, unless ``proportions`` gives each its share: then
    each entry is a target of its own (its method fitted on it alone) and the selection is a mixture
    (``rules.mixture``). Shares are positive and normalised to sum to 1.
    """

    methods: Sequence[MethodSpec] = ()
    target: Sequence[str] | None = None
    state: str | None = None
    sidecars: str | None = None
    field: str | None = None
    proportions: Sequence[float] | None = None

    def __post_init__(self) -> None:
        fitted = (self.methods or self.state) and not self.sidecars  # a state names its methods itself
        given = [n for n, v in (("methods", fitted), ("sidecars", self.sidecars), ("field", self.field)) if v]
        if len(given) != 1:
            choices = ", ".join(option(n) for n in ("methods", "sidecars", "field"))
            raise ConfigError(f"give one source of scores: {choices} "
                              f"(got {', '.join(option(n) for n in given) or 'none'})")
        if len(self.methods) > 1:
            raise ConfigError("select ranks by one method", hint=f"score with several, then select with "
                              f"{option('sidecars')}")
        if self.target is not None and isinstance(self.target, str):
            object.__setattr__(self, "target", [self.target])
        check_target(self.target)
        if self.proportions is not None:
            self._check_proportions()

    def _check_proportions(self) -> None:
        shares = list(self.proportions or [])
        if not self.target or len(shares) != len(self.target):
            raise ConfigError(f"the {option('target')} shares (proportions) give {len(shares)} share(s) for "
                              f"{len(self.target or [])} target(s)", hint="give one share per target")
        bad = [p for p in shares if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p)
               or p <= 0]
        if bad:
            raise ConfigError(f"{option('target')} shares (proportions) must be positive numbers, got {bad[0]!r}")
        if self.sidecars or self.field or self.state:
            raise ConfigError(f"a mixture of targets fits its method on each target: it needs {option('methods')} "
                              f"(not {option('state')}, {option('sidecars')} or {option('field')})",
                              hint="drop the shares to score toward one merged target")
        object.__setattr__(self, "proportions", tuple(float(p) for p in shares))

    @property
    def shares(self) -> list[float] | None:
        """Each target's share of a mixture, summing to 1 (None: no mixture)."""
        if self.proportions is None:
            return None
        total = sum(self.proportions)
        return [p / total for p in self.proportions]


def parse_target(spec: str) -> tuple[str, float | None]:
    """A ``--target`` value: a path, or ``PATH:SHARE`` for a target of a mixture.

    Only a trailing ``:NUMBER`` is a share, so a Windows drive (``C:/data/t.jsonl``) and ``hf://datasets/o/n``
    are paths; a local path that itself ends in ``:NUMBER`` is read as a path when it exists and the part
    before the colon does not.

    Example:
        >>> parse_target("code.jsonl:0.7"), parse_target("C:/data/t.jsonl")
        (('code.jsonl', 0.7), ('C:/data/t.jsonl', None))
    """
    found = _PROPORTION.match(spec)
    if found is None:
        return spec, None
    path = found.group(1)
    if not fs.is_url(spec) and fs.exists(spec) and not fs.exists(path):
        return spec, None
    return path, float(found.group(2))


def parse_targets(specs: Sequence[str]) -> tuple[list[str], list[float] | None]:
    """``--target`` values as paths and their shares: every one with a share (a mixture), or none.

    Raises:
        ConfigError: some targets have a share and others do not.
    """
    parsed = [parse_target(s) for s in specs]
    with_share = [p for p, share in parsed if share is not None]
    if not with_share:
        return [p for p, _ in parsed], None
    if len(with_share) != len(parsed):
        plain = [p for p, share in parsed if share is None]
        raise ConfigError(f"give every {option('target')} a share (PATH:SHARE), or none; {plain[0]} has none",
                          hint="--target code.jsonl:0.7 --target docs.jsonl:0.3")
    return [p for p, _ in parsed], [float(share) for _, share in parsed if share is not None]
