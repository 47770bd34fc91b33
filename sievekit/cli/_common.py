"""What every command shares: option types, config-file resolution, the error boundary, progress, output.

The CLI parses and renders; the work is in ``sievekit.commands``. Exit codes: 0 success, 1 data or
runtime error, 2 usage error (bad option, config file or combination).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from sievekit.cli.options import flag
from sievekit.errors import ConfigError, SievekitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)  # stdout: data and listings only
F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = "Exit codes: 0 success, 1 data or runtime error, 2 usage error."
METHOD_HELP = ("Method options (e.g. --level 3, or --zstd-ml.level 3) follow the command's own; "
               "`sievekit methods NAME` lists them.")
CONTEXT = {"help_option_names": ["-h", "--help"]}
METHOD_CONTEXT = {**CONTEXT, "allow_extra_args": True, "ignore_unknown_options": True}

Inputs = Annotated[
    list[str] | None,
    typer.Argument(help="Input shards: files, directories, globs, or - for stdin (JSONL, .jsonl.gz, .jsonl.zst, "
                   ".parquet).", show_default=False),
]
Output = Annotated[str, typer.Option("-o", "--output", help="Output directory (one shard per input), a single "
                                     ".jsonl[.gz|.zst] file, or - for stdout.")]


def resolve_config(ctx: typer.Context, values: dict[str, Any], config: Path | None,
                   tables: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Merge defaults < config file < flags given on the command line.

    Returns the resolved options and the file's tables (e.g. a method's options under ``[dsir]``).

    Raises:
        ConfigError: the file is not valid TOML, or has a key no option of this command matches.
    """
    resolved = dict(values)
    found_tables: dict[str, dict[str, Any]] = {}
    if config is None:
        return resolved, found_tables
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config}: not valid TOML ({exc})") from exc
    params = {p.name: p for p in ctx.command.params if p.name}
    for key, value in data.items():
        if isinstance(value, dict) and key in tables:
            found_tables[key] = value
            continue
        name = key.replace("-", "_")
        if name not in params or name in ("config", "dry_run"):
            valid = sorted(set(params) - {"config", "dry_run"}) + [f"[{t}]" for t in tables]
            raise ConfigError(f"{config}: unknown key {key!r}", hint=f"valid keys: {', '.join(valid)}")
        source = ctx.get_parameter_source(name)
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP") or (name == "inputs" and not resolved[name]):
            if name in ("inputs", "target") and isinstance(value, str):
                value = [value]
            try:
                resolved[name] = params[name].process_value(ctx, tuple(value) if isinstance(value, list) else value)
            except typer.BadParameter as exc:  # click's BadParameter, re-exported by typer
                raise ConfigError(f"{config}: {key}: {exc.message}") from exc
    return resolved, found_tables


def method_config(ctx: typer.Context, config: Path | None) -> dict[str, Any]:
    """Resolve a scoring command's options. A method's own options come from the config file's table named
    after it (``[dsir]``) and from the command line (``--buckets 1000``, or ``--dsir.buckets 1000`` when
    several methods are chosen); ``cfg["method_options"]`` maps each chosen method to its options."""
    from sievekit.scoring.methods import route_options
    from sievekit.selectors import available
    from sievekit.selectors.params import split_method_args

    # Unknown options land among the positional inputs (they follow a variadic argument): split them off.
    inputs, method_args = split_method_args([*(ctx.params.get("inputs") or []), *ctx.args])
    cfg, tables = resolve_config(ctx, {**ctx.params, "inputs": inputs}, config, tables=tuple(available()))
    if not methods_of(cfg) and cfg.get("target") and not cfg.get("scores") and not cfg.get("score_field") \
            and not cfg.get("state"):
        from sievekit.scoring.methods import default_method

        name, why = default_method()
        cfg["method"] = [name] if ctx.command.name == "score" else name  # score takes several methods
        note(f"{ctx.command.name}: no --method given; ranking with {name}" + (f" ({why})" if why else ""),
             bool(cfg.get("quiet")))
    names = methods_of(cfg)
    routed = route_options(names, method_args) if names else {}
    if method_args and not names:
        raise ConfigError(f"unexpected options {', '.join('--' + k for k in method_args)}",
                          hint="method options need a --method")
    cfg["method_options"] = {name: {**tables.get(name, {}), **routed.get(name, {})} for name in names}
    return cfg


def methods_of(cfg: Mapping[str, Any]) -> list[str]:
    method = cfg.get("method")
    if method is None:
        return []
    return [method] if isinstance(method, str) else list(method)


def dry_run(cfg: Mapping[str, Any]) -> None:
    typer.echo(json.dumps(cfg, indent=2, default=str))
    raise typer.Exit(0)


def boundary(fn: F) -> F:
    """Turn a ``SievekitError`` into ``Error:``/``Hint:`` lines on stderr and its exit code; nothing else."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SievekitError as exc:
            # Messages hold brackets ("sievekit[classifier]", paths): escape them, or rich reads them as markup.
            message, hint = exc.render(flag)
            err.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)
            if hint:
                err.print(f"[yellow]Hint:[/] {escape(hint)}", markup=True, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except NotImplementedError as exc:
            err.print(f"Error: {exc}", markup=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress line on stderr, only when stderr is a terminal (never in pipes, cron or CI logs)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(), TextColumn("docs"),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda n: progress.advance(task, n)


def note(message: str, quiet: bool) -> None:
    """A human-facing line on stderr (never stdout, which carries data only)."""
    if not quiet:
        err.print(message, markup=False, highlight=False)


def require_inputs(cfg: Mapping[str, Any]) -> list[str]:
    inputs = cfg.get("inputs")
    if not inputs:
        raise ConfigError("no inputs given", hint="pass files, directories or globs (or - for stdin), or set "
                          "inputs in --config")
    return list(inputs)
