"""Selectors by name: built-ins register themselves with ``@register``; plug-ins come from entry points.

Every module in ``sievekit.selectors`` is imported on first lookup, so a new built-in selector is one new
file. Third-party selectors are found in the entry-point group ``sievekit.selectors``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from sievekit.errors import ConfigError
from sievekit.selectors.base import Selector

_REGISTRY: dict[str, type[Selector]] = {}
_LOADED = False
_INFRA = {"base", "registry", "params"}
S = TypeVar("S", bound=type[Selector])


def register(cls: S) -> S:
    """Class decorator adding a selector under its ``name``; a clash with another class is an error."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"selector name {cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    package = importlib.import_module("sievekit.selectors")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _INFRA and not info.name.startswith("_"):
            importlib.import_module(f"sievekit.selectors.{info.name}")
    for ep in entry_points(group="sievekit.selectors"):
        loaded: Callable[..., object] = ep.load()
        if isinstance(loaded, type) and issubclass(loaded, Selector):
            register(loaded)


def available() -> list[str]:
    """The names of every registered selector, sorted."""
    _load()
    return sorted(_REGISTRY)


def get_selector(name: str) -> type[Selector]:
    """The selector class registered as ``name``.

    Raises:
        ConfigError: no selector has that name (the message lists the ones that exist).
    """
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown method {name!r}; available: {', '.join(available())}",
            hint="a method not listed is not built yet in this version of sievekit",
        ) from None
