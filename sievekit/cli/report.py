"""`sievekit report`: what a set of shards holds and what a run did to it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from sievekit import commands
from sievekit.cli import _common as c
from sievekit.cli import options as o
from sievekit.cli.select import cfg_file
from sievekit.errors import ConfigError
from sievekit.io.streams import STDIO
from sievekit.reporting.render import fmt, sections, to_html, to_markdown
from sievekit.reporting.untrusted import clean


@o.command(o.READ, o.COMMON, boundary=c.boundary)
def report_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    scores: Annotated[str | None, typer.Option("--scores", help="Sidecar directory of an earlier `sievekit "
                                               "score`: score distributions and Spearman vs length.")] = None,
    score_field: Annotated[list[str] | None, typer.Option("--score-field", help="A numeric field of the records "
                                                          "to report as a score (repeatable).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Report the mix of this field's values.")] = None,
    target: Annotated[list[str] | None, typer.Option("-t", "--target", help="Compare text lengths with this "
                                                     "target set.")] = None,
    raw: Annotated[list[str] | None, typer.Option("--raw", help="The pool the inputs were selected from (default: "
                                                  "the inputs of the run that wrote them): its --by mix and score "
                                                  "histograms beside the selection's, and KL reduction.")] = None,
    pool: Annotated[bool, typer.Option("--pool/--no-pool", help="Compare with the pool (reads it once more, and "
                                       "re-scores it with the run's fitted method).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the report as Markdown on stdout.")] = False,
    html_file: Annotated[str | None, typer.Option("--html", help="Write the report as one self-contained HTML "
                                                  "page with charts.")] = None,
) -> None:
    """Report on a set of shards: rows, bytes, fields, text lengths; what the run that wrote them did;
    score distributions; the mix of a field; lengths against a target.

    On a selection (the output directory of select or dedupe, or with --raw POOL), the pool beside it: each
    score over the pool split into selected and not, with the cut-off, and the --by mix of both. The table
    goes to stderr; --json (format_version 1) or --markdown print to stdout; --html FILE writes one
    self-contained page with charts.

    Example:  sievekit report picked/ --by domain --target target.jsonl --html report.html
    """
    cfg, _ = c.resolve_config(ctx, dict(ctx.params), cfg_file(ctx))
    if cfg["dry_run"]:
        c.dry_run(cfg)
    if cfg["raw"] and not cfg["pool"]:
        raise ConfigError("--raw names a pool and --no-pool skips it: pass one of them")
    page_out = cfg["html_file"] == STDIO
    printed = [f for f, on in (("--json", cfg["as_json"]), ("--markdown", cfg["markdown"]), ("--html -", page_out))
               if on]
    if len(printed) > 1:
        raise ConfigError(f"{' and '.join(printed)} would both print on stdout, one after the other",
                          hint="pass one of them (--html FILE writes the page to a file)")
    data = commands.report(c.require_inputs(cfg), read=o.read_options(cfg), scores=cfg["scores"],
                           score_fields=cfg["score_field"] or (), by=cfg["by"], target=cfg["target"] or None,
                           raw=(cfg["raw"] or None) if cfg["pool"] else [],
                           html=None if page_out else cfg["html_file"])
    if not cfg["quiet"]:
        for table in render_tables(data):
            c.err.print(table)
    if cfg["as_json"]:
        typer.echo(json.dumps(data, indent=2))
    if cfg["markdown"]:
        typer.echo(to_markdown(data), nl=False)
    if page_out:
        typer.echo(to_html(data), nl=False)
    elif cfg["html_file"] is not None:
        c.note(f"report: wrote {clean(cfg['html_file'])}", cfg["quiet"])


def render_tables(data: dict[str, Any]) -> list[Table]:
    """The report's tables for the terminal. Titles, headers and cells hold values from the data, so each is
    a ``Text`` (rich never reads it as markup: ``[/]`` or ``[link=…]`` stay text) cleaned of control
    characters by ``fmt``/``clean``."""
    tables = []
    for title, header, rows in sections(data):
        table = Table(title=Text(clean(title)), title_justify="left")
        for i, col in enumerate(header):
            table.add_column(Text(fmt(col)), justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in rows:
            table.add_row(*(Text(fmt(v)) for v in row))
        tables.append(table)
    return tables
