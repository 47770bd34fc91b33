"""Selector parameters from the command line: ``--kebab-name VALUE`` pairs mapped onto a Config dataclass.

Commands accept the options of the chosen ``--method`` after their own, so every selector brings its
options without the CLI knowing them in advance; unknown ones are usage errors that list the valid ones.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from sievekit.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def describe(config_cls: type[Any]) -> list[tuple[str, str, Any, str]]:
    """(option, type, default, help) for every field; help comes from the field's ``metadata["help"]``."""
    hints = typing.get_type_hints(config_cls)
    rows = []
    for f in dataclasses.fields(config_cls):
        rows.append((option_name(f.name), _type_label(hints[f.name]), f.default, f.metadata.get("help", "")))
    return rows


def _type_label(tp: Any) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Literal:
        return "|".join(map(str, typing.get_args(tp)))
    if args and typing.get_origin(tp) in (typing.Union, types.UnionType):
        return _type_label(args[0])
    return getattr(tp, "__name__", str(tp))


def _convert(name: str, raw: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if raw not in choices:
            raise ConfigError(f"{option_name(name)} must be one of {', '.join(map(str, choices))}, got {raw!r}")
        return raw
    if origin in (typing.Union, types.UnionType):
        if raw is None or str(raw).lower() == "none":
            return None
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(name, raw, options[0])
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in _TRUE | _FALSE:
            return str(raw).lower() in _TRUE
        raise ConfigError(f"{option_name(name)} takes true or false, got {raw!r}")
    try:
        return tp(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{option_name(name)} takes a value of type {_type_label(tp)}, got {raw!r}") from None


def build_config(config_cls: type[Any], values: Mapping[str, Any], method: str) -> Any:
    """Construct ``config_cls`` from field values (names with ``_`` or ``-``), converting and validating.

    Raises:
        ConfigError: an unknown parameter (with the list of valid ones) or a value of the wrong type.
    """
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        field = key.replace("-", "_")
        if field not in known:
            valid = ", ".join(option_name(k) for k in sorted(known)) or "none"
            raise ConfigError(f"method {method!r} has no option {option_name(field)} (its options: {valid})")
        kwargs[field] = _convert(field, raw, hints[field])
    try:
        return config_cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"method {method!r}: {exc}") from exc


def split_method_args(tokens: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Separate input paths from method options in one token list.

    ``--name VALUE`` and ``--name=VALUE`` are options (a VALUE never starts with ``--``); a bare
    ``--name`` followed by another option or by nothing means true, ``--no-name`` false; every other
    token is an input.

    Example:
        >>> split_method_args(["pool/", "--level", "3", "b.jsonl", "--no-lower"])
        (['pool/', 'b.jsonl'], {'level': '3', 'lower': 'false'})
    """
    inputs: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            inputs.append(token)
            i += 1
            continue
        key, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                value = tokens[i + 1]
                i += 1
            elif key.startswith("no-"):
                key, value = key[3:], "false"
            else:
                value = "true"
        method, dot, name = key.rpartition(".")  # a qualified option keeps its method's own spelling
        options[method + dot + name.replace("-", "_")] = value
        i += 1
    return inputs, options
