"""`sievekit report`: what a set of shards holds: rows, bytes, fields, text lengths."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from sievekit import reporting
from sievekit.cli import _common as c


@c.boundary
def report_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    text_field: c.TextField = "text",
    id_field: c.IdField = "id",
    batch_size: c.BatchSize = 1024,
    compression: c.Compression = "infer",
    on_bad_record: c.OnBad = "fail",
    config: c.ConfigFile = None,
    dry_run: c.DryRun = False,
    quiet: c.Quiet = False,
) -> None:
    """Report rows, bytes, fields and the text-length distribution of a set of shards.

    The table goes to stderr; with --json the same numbers go to stdout as JSON.

    Example:  sievekit report pool/ --json > pool-report.json
    """
    cfg, _ = c.resolve_config(ctx, dict(ctx.params), config)
    if dry_run:
        c.dry_run(cfg)
    data = reporting.report(c.require_inputs(cfg), c.read_options(cfg))
    if not cfg["quiet"]:
        c.err.print(render(data))
    if cfg["as_json"]:
        typer.echo(json.dumps(data, indent=2))


def render(data: dict[str, Any]) -> Table:
    table = Table(title="sievekit report", title_justify="left", caption=_fields_caption(data), caption_justify="left")
    table.add_column("shard", no_wrap=True)
    for col in ("rows", "MB", "len p10", "len p50", "len p90", "len max"):
        table.add_column(col, justify="right", no_wrap=True)
    any_skipped = bool(data["total"]["skipped"])
    if any_skipped:
        table.add_column("skipped")
    for entry in data["shards"] + [{"name": "TOTAL", **data["total"]}]:
        lengths = entry["text_length"]
        cells = [entry["name"], f"{entry['rows']:,}", f"{entry['bytes'] / 1e6:.2f}",
                 *(f"{lengths.get(q, 0):,}" for q in ("p10", "p50", "p90", "p100"))]
        if any_skipped:
            cells.append(", ".join(f"{k} {v}" for k, v in entry["skipped"].items()) or "-")
        table.add_row(*cells)
    return table


def _fields_caption(data: dict[str, Any]) -> str:
    rows = data["total"]["rows"]
    fields = data["total"]["fields"]
    return "fields: " + ", ".join(name if n == rows else f"{name} ({n:,} of {rows:,})" for name, n in fields.items())
