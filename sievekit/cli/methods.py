"""`sievekit methods [NAME]`: the scoring methods, and each one's options with defaults and help."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from sievekit.cli import _common as c
from sievekit.errors import ConfigError
from sievekit.selectors import available, get_selector
from sievekit.selectors.params import describe


@c.boundary
def methods_cmd(
    name: Annotated[str | None, typer.Argument(help="A method: list its options.", show_default=False)] = None,
) -> None:
    """List the scoring methods, or one method's options (from its Config: type, default, help).

    Method options follow a command's own options: `sievekit select pool/ --method zstd-ml --level 5 ...`;
    with several methods, qualify them: `--zstd-ml.level 5`. In a --config file they go in a table named
    after the method ([zstd-ml]). The listing goes to stdout.

    Example:  sievekit methods dsir
    """
    if name is None:
        table = Table(title="methods (sievekit methods NAME for options)", title_justify="left")
        for col in ("method", "needs", "what it scores"):
            table.add_column(col)
        for method in available():
            cls = get_selector(method)
            needs = ", ".join(n for n, v in (("target", cls.needs_target), ("pool pass", cls.needs_raw)) if v)
            table.add_row(method, needs or "-", _first_line(cls.__doc__))
        c.out.print(table)
        return
    if name not in available():
        raise ConfigError(f"unknown method {name!r}", hint=f"choose one of {', '.join(available())}")
    cls = get_selector(name)
    table = Table(title=f"{name}: {_first_line(cls.__doc__)}", title_justify="left")
    for col in ("option", "type", "default", "help"):
        table.add_column(col, overflow="fold")
    for opt, kind, default, text in describe(cls.Config):
        table.add_row(opt, kind, repr(default), text)
    c.out.print(table)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""
