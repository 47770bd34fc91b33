"""The ``sievekit`` command: one Typer app, one module per subcommand."""

from __future__ import annotations

from typing import Annotated

import typer

from sievekit.allocator import tune_allocator
from sievekit.cli import stopping
from sievekit.cli._common import CONTEXT, EXIT_CODES, METHOD_CONTEXT, METHOD_HELP
from sievekit.cli.dedupe import dedupe_cmd
from sievekit.cli.methods import methods_cmd
from sievekit.cli.report import report_cmd
from sievekit.cli.score import score_cmd
from sievekit.cli.select import select_cmd
from sievekit.version import __version__

app = typer.Typer(
    name="sievekit",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    help="Pick the documents of a raw pool that match a target, and drop the duplicates.",
    epilog=EXIT_CODES,
    context_settings=CONTEXT,
)
app.command("score", context_settings=METHOD_CONTEXT, epilog=f"{METHOD_HELP} {EXIT_CODES}")(score_cmd)
app.command("select", context_settings=METHOD_CONTEXT, epilog=f"{METHOD_HELP} {EXIT_CODES}")(select_cmd)
app.command("dedupe", context_settings=CONTEXT, epilog=EXIT_CODES)(dedupe_cmd)
app.command("report", context_settings=CONTEXT, epilog=EXIT_CODES)(report_cmd)
app.command("methods", context_settings=CONTEXT, epilog=EXIT_CODES)(methods_cmd)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sievekit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Pick the documents of a raw pool that match a target, and drop the duplicates."""


def main() -> None:
    stopping.install()
    tune_allocator()
    try:
        app()
    except (SystemExit, KeyboardInterrupt) as exc:
        if stopping.stopped() is not None:
            stopping.end_now(exc.code if isinstance(exc, SystemExit) else 130)
        raise
