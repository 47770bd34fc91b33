"""Options declared once: the groups every command shares, dedupe's options made from ``DedupeConfig``, and
``command``, which adds groups to a command's signature (Typer reads the signature) and the error boundary.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from sievekit.errors import ConfigError
from sievekit.io import ReadOptions
from sievekit.run import RunOptions
from sievekit.run.options import EXECUTORS
from sievekit.run.progress import ProgressLike

Group = list[inspect.Parameter]
# Library field names whose flag is not simply --field-name (errors name fields; the CLI shows flags).
FLAGS = {"methods": "--method", "sidecars": "--scores", "field": "--score-field", "output": "-o/--output"}


def flag(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def choices(name: str, values: Sequence[str]) -> type[Enum]:
    """A str Enum of ``values``, so Typer checks the choice and lists them in --help."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _opt(name: str, tp: Any, default: Any, help: str, *decls: str, **kw: Any) -> inspect.Parameter:
    return _param(name, Annotated[tp, typer.Option(*(decls or (flag(name),)), help=help, **kw)], default)


Codec = choices("Codec", ("infer", "none", "gzip", "zstd"))
OnBad = choices("OnBad", ("fail", "skip"))
ExecutorKind = choices("ExecutorKind", EXECUTORS)

READ: Group = [
    _opt("text_field", str, "text", "Field holding the document text."),
    _opt("id_field", str, "id", "Field holding the document id (optional in records)."),
    _opt("batch_size", int, 1024, "Records per batch; bounds memory.", min=1),
    _opt("compression", Codec, "infer", "Input codec: infer (from the suffix), none, gzip, zstd.",
         case_sensitive=False),
    _opt("on_bad_record", OnBad, "fail", "fail: stop at a bad record; skip: count it and go on."),
]
# numpy's and scikit-learn's generators take seeds in [0, 2^32): one outside is a usage error here, not a traceback
SEED: Group = [_opt("seed", int, 0, "Seed for every random choice, 0..4294967295; same seed, same output.", min=0,
                    max=2**32 - 1)]
WORKERS: Group = [
    _opt("jobs", int, 1, "Worker processes (shards run in parallel).", "-j", "--jobs", min=1),
    _opt("executor", ExecutorKind, "local", "Where tasks run: local (worker processes on this machine) or ray "
         "(pip install 'sievekit\\[ray]')."),
    _opt("ray_address", str | None, None, "Ray cluster to join (default: $RAY_ADDRESS, else a local Ray with -j "
         "CPUs)."),
]
SPLIT: Group = [_opt("split_mb", float, 256, "Score a shard larger than this many MB as several tasks (plain JSONL "
                     "by byte ranges, Parquet by row groups); 0: one task per shard.", min=0)]
OVERWRITE: Group = [_opt("overwrite", bool, False, "Replace the results of a different earlier run in the output "
                         "directory.")]
COMMON: Group = [
    _opt("config", Path | None, None, "TOML file of options; flags given on the line win.", exists=True,
         dir_okay=False),
    _opt("dry_run", bool, False, "Print the resolved config as JSON and exit."),
    _opt("verbose", int, 0, "More detail on stderr.", "-v", "--verbose", count=True),
    _opt("quiet", bool, False, "Only errors on stderr.", "-q", "--quiet"),
    _opt("progress_interval", float, 60.0, "Off a terminal (cron, pipes, CI logs), print a timestamped progress "
         "line to stderr every this many seconds; 0: never.", min=0),
]


def plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def read_options(cfg: Mapping[str, Any]) -> ReadOptions:
    return ReadOptions(text_field=cfg["text_field"], id_field=cfg["id_field"] or None, batch_size=cfg["batch_size"],
                       compression=plain(cfg["compression"]), on_bad_record=plain(cfg["on_bad_record"]))


def run_options(cfg: Mapping[str, Any], progress: ProgressLike = None) -> RunOptions:
    return RunOptions(jobs=cfg["jobs"], executor=plain(cfg["executor"]), ray_address=cfg["ray_address"],
                      split_mb=cfg.get("split_mb", 256), overwrite=cfg.get("overwrite", False), progress=progress)


def config_group(config_cls: type[Any], skip: Sequence[str] = ()) -> Group:
    """One option per field of a config dataclass: its type, default, help and choices (``metadata``)."""
    hints = typing.get_type_hints(config_cls)
    group = []
    for f in dataclasses.fields(config_cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        if f.metadata.get("choices"):
            tp = choices(f.name.title().replace("_", ""), f.metadata["choices"])
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp = [a for a in typing.get_args(tp) if a is not type(None)][0] | None
        group.append(_opt(f.name, tp, f.default, f.metadata.get("help", "")))
    return group


def command(*groups: Group, boundary: Callable[[Any], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of ``groups`` (after its own) and the error boundary.

    Typer builds the command from the signature; the body reads every value from ``ctx.params`` (merged with
    the ``--config`` file), so the shared options are declared here once, not in each command.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = set(sig.parameters)
        extra = [p for group in groups for p in group if p.name not in own]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **{k: v for k, v in kwargs.items() if k in own})

        wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])  # type: ignore[attr-defined]
        decorated: Callable[..., Any] = boundary(wrapper)
        return decorated

    return decorate


def require(cfg: Mapping[str, Any], *names: str) -> None:
    """Options that are optional for Typer but needed here."""
    missing = [n for n in names if cfg.get(n) in (None, [], ())]
    if missing:
        raise ConfigError(f"missing {', '.join(flag(n) for n in missing)}")
