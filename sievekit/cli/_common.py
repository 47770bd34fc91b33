"""What every command shares: option types, config-file resolution, the error boundary, progress, output.

The CLI parses and renders; the work is in ``sievekit.commands``. Exit codes: 0 success, 1 data or
runtime error, 2 usage error (bad option, config file or combination).
"""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import re
import select
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from sievekit.cli import progress, stopping
from sievekit.cli.options import flag
from sievekit.errors import ConfigError, SievekitError
from sievekit.io import notices

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
            if isinstance(value, bool) and not getattr(params[name], "is_flag", False):  # TOML true is not 1
                raise ConfigError(f"{config}: {key} takes a value, not {str(value).lower()}")
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


def dry_run(cfg: Mapping[str, Any], *, methods: Sequence[Any] = (), budget: Mapping[str, Any] | None = None,
            derived: Mapping[str, Any] | None = None, check: Callable[[], object] | None = None) -> None:
    """Validate what a real run would, without writing anything: the inputs and targets resolve to shards,
    every method builds with its options (defaults filled in); then print it all as JSON and exit 0. Any
    problem is a usage error (exit 2), as the run was only being checked. ``check``: the command's own checks of
    what it would write (its output's name), so a plan is never printed for a run that would be refused."""
    from sievekit.io import resolve_inputs
    from sievekit.scoring.methods import describe_selectors, make_selectors

    try:
        inputs = require_inputs(cfg)
        shards = [] if inputs == ["-"] else resolve_inputs(inputs)
        if cfg.get("target"):
            resolve_inputs(list(cfg["target"]))
        built = describe_selectors(make_selectors(methods, cfg.get("seed", 0), budget)) if methods else []
        if check is not None:
            check()
    except SievekitError as exc:
        raise ConfigError(exc.message, exc.hint) from None
    plan = {"format_version": 1, **cfg, **(derived or {}),
            "shards": [{"name": s.name, "path": s.label, "format": s.format} for s in shards]}
    if built:
        plan["methods"] = built
    typer.echo(json.dumps(plan, indent=2, default=lambda v: getattr(v, "value", str(v))))
    raise typer.Exit(0)


# An OSError without a path is most often a work file (dedupe's work directory, a spooled stdin, temporary
# features) filling the disk that holds them: say where those go.
_WORK_FILES = "temporary work files go to $TMPDIR (dedupe's to --work-dir if given)"
_OS_HINTS = {errno.ENOSPC: f"a disk is full: free some space, or write elsewhere; {_WORK_FILES}",
             errno.EDQUOT: f"your disk quota is used up: free some space, or write elsewhere; {_WORK_FILES}",
             errno.EFBIG: f"a file outgrew the file size limit (ulimit -f): raise it; {_WORK_FILES}"}


def boundary(fn: F) -> F:
    """The error boundary: a ``SievekitError`` becomes ``Error:``/``Hint:`` lines on stderr and its exit code; a
    closed stdout (``| head``) ends the run quietly with 0; an ``OSError`` that escaped the library's own checks
    still becomes one line naming the path (exit 1). Untrusted text in messages (file names, field values) is
    shown inert: no rich markup, no control characters, no line breaks. Each call starts the run's notices
    afresh (a warning about a file is shown once per run)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        notices.begin_run()  # a data warning (a truncated shard) shows once per command, across its workers
        stopping.begin_run()
        try:
            with stopping.as_exit(), warnings.catch_warnings():  # a library warning is one line, not a traceback
                warnings.showwarning = notices.show_warning
                return fn(*args, **kwargs)
        except SievekitError as exc:
            if _broken_pipe(exc):
                _quiet_stdout()
                raise typer.Exit(0) from None
            message, hint = exc.render(flag)
            _error(message, hint)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            _quiet_stdout()
            raise typer.Exit(0) from None
        except (NotImplementedError, RecursionError, MemoryError) as exc:
            _error(f"{type(exc).__name__}: {exc}", None)
            raise typer.Exit(1) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _error(f"{where}{exc.strerror or exc}", _OS_HINTS.get(exc.errno or 0, "check the path, its permissions "
                                                                   "and the free space"))
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def inert(text: str) -> str:
    """Text safe to print: control characters (ANSI escapes, line breaks) shown as escapes, markup escaped."""
    return escape(_CONTROL.sub(lambda m: repr(m.group())[1:-1], text))


def _error(message: str, hint: str | None) -> None:
    err.print(f"[bold red]Error:[/] {inert(message)}", markup=True, highlight=False)
    if hint:
        err.print(f"[yellow]Hint:[/] {inert(hint)}", markup=True, highlight=False)


def _broken_pipe(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, BrokenPipeError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def delivered(output: str) -> None:
    """End quietly (exit 0, no summary) when the data went to a stdout whose reader has gone (``| head``):
    the run cannot claim to have delivered what nobody read, whether or not a write failed first."""
    if output != "-":
        return
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return  # not a real file descriptor (tests) or no poll(): nothing to tell
    if gone:
        _quiet_stdout()
        raise typer.Exit(0)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file descriptor (tests): nothing to flush into a pipe


@contextmanager
def progress_bar(command: str, cfg: Mapping[str, Any], resumable: bool) -> Iterator[progress.Watch]:
    """The run's progress on stderr: rich on a terminal, a timestamped line every ``--progress-interval``
    seconds off one (cron, pipes, CI logs), nothing with ``-q``; an interrupted run says how far it got and
    whether re-running resumes (``resumable``) or starts again."""
    with progress.feedback(command, quiet=bool(cfg.get("quiet")), interval=float(cfg.get("progress_interval", 60)),
                           resumable=resumable, console=err) as watch:
        yield watch


def note(message: str, quiet: bool) -> None:
    """A human-facing line on stderr (never stdout, which carries data only); control characters from file
    names or data are shown as escapes."""
    if not quiet:
        err.print(_CONTROL.sub(lambda m: repr(m.group())[1:-1], message), markup=False, highlight=False)


def require_inputs(cfg: Mapping[str, Any]) -> list[str]:
    inputs = cfg.get("inputs")
    if not inputs:
        raise ConfigError("no inputs given", hint="pass files, directories or globs (or - for stdin), or set "
                          "inputs in --config")
    return list(inputs)
