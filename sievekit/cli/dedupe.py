"""`sievekit dedupe`: exact and near-duplicate removal across all shards (MinHash LSH)."""

from __future__ import annotations

import typer

from sievekit import pipeline
from sievekit.cli import _common as c


@c.boundary
def dedupe_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    config: c.ConfigFile = None,
    dry_run: c.DryRun = False,
) -> None:
    """Remove exact and near-duplicate documents across all shards. NOT BUILT YET in this version.

    Example:  sievekit dedupe pool/ -o deduped/
    """
    cfg, _ = c.resolve_config(ctx, dict(ctx.params), config)
    if dry_run:
        c.dry_run(cfg)
    pipeline.dedupe(c.require_inputs(cfg), cfg["output"])
