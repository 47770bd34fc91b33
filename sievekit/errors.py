"""Errors sievekit raises on purpose, each with a message, a place and a fix.

    SievekitError              base: message + optional hint; exit code 1
    ├── ConfigError            a bad option, config file or option combination; exit code 2
    ├── InputError             a file, line or record that cannot be read; exit code 1
    │   └── BadRecordError     one record (skippable with --on-bad-record skip)
    ├── ShardError             an output or shard-level failure
    └── MissingDependencyError an optional package is not installed

The CLI boundary (cli/_common.py) prints ``Error: <message>`` and ``Hint: <hint>`` and exits with
``exit_code``; anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable

_MARK = "\x1f"


def option(name: str) -> str:
    """An option named inside an error message, by its library field name (``top_k``).

    The library shows it as the field name; the CLI boundary shows the flag that sets it (``--top-k``).
    """
    return f"{_MARK}{name}{_MARK}"


def _render(text: str, name: Callable[[str], str]) -> str:
    parts = text.split(_MARK)
    return "".join(name(p) if i % 2 else p for i, p in enumerate(parts))


class SievekitError(Exception):
    """Base class: a failure we expected and can explain."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self, name: Callable[[str], str] = str) -> tuple[str, str | None]:
        """The message and hint, with each named option spelled by ``name`` (field names by default)."""
        return _render(self.message, name), None if self.hint is None else _render(self.hint, name)

    def __str__(self) -> str:
        message, hint = self.render()
        return message if hint is None else f"{message} ({hint})"

    def __reduce__(self) -> tuple[object, ...]:
        # Errors raised in worker processes travel back pickled; the subclasses' constructors take other
        # arguments than ``args``, so rebuild from the instance's fields instead of calling them.
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[SievekitError], args: tuple[object, ...], state: dict[str, object]) -> SievekitError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(SievekitError):
    """An option, a config file or a combination of them is not valid (a usage error)."""

    exit_code = 2


class InputError(SievekitError):
    """Input data that cannot be read, named by path and, where known, line (JSONL) or row (Parquet)."""

    def __init__(
        self, path: str, message: str, *, line: int | None = None, row_label: str = "line", hint: str | None = None
    ) -> None:
        where = path if line is None else f"{path}:{line}" if row_label == "line" else f"{path}: row {line}"
        super().__init__(f"{where}: {message}", hint)
        self.path = path
        self.line = line
        self.row_label = row_label
        self.reason = message


class BadRecordError(InputError):
    """One record is malformed; ``--on-bad-record skip`` counts it and goes on."""

    def __init__(self, path: str, message: str, *, kind: str, **kwargs: object) -> None:
        super().__init__(path, message, **kwargs)  # type: ignore[arg-type]
        self.kind = kind

    def shifted(self, lines: int) -> BadRecordError:
        """The same error, ``lines`` further down the file (for errors found in a span of a shard)."""
        return BadRecordError(self.path, self.reason, kind=self.kind, line=(self.line or 0) + lines,
                              row_label=self.row_label, hint=self.hint)


class ShardError(SievekitError):
    """A shard-level failure: an output that cannot be written, names that collide."""


class MissingDependencyError(SievekitError):
    """An optional package is needed for what was asked."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed",
            hint=f"pip install 'sievekit[{extra}]'",
        )
