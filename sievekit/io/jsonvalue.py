"""One JSON value as sievekit reads and writes it: orjson first, Python's json for what orjson refuses (NaN,
huge integers), both held to the same rules (strict UTF-8, no lone surrogates, bounded nesting)."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_DEPTH", "RecordValueError", "dumps", "fast_loads", "loads"]

try:  # orjson parses ~2.8x faster than json (bench/io_throughput.py); json takes what it refuses
    from orjson import loads as fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but the reader must not need it
    fast_loads = json.loads  # type: ignore[assignment]


# orjson refuses nesting deeper than this; the fallback parser is held to the same bound, so no record can make
# Python's json recurse until it fails.
MAX_DEPTH = 1024
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_SURROGATE = re.compile("[\ud800-\udfff]")


class RecordValueError(ValueError):
    """A JSON value that parses but that we refuse (invalid UTF-8, lone surrogates, too deep), with its kind."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def loads(line: bytes | str) -> Any:
    """Parse one JSON value. orjson first; what it refuses (NaN, huge integers) is retried with ``json``, held
    to the same rules: strict UTF-8, no lone surrogates, at most ``MAX_DEPTH`` levels.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``), or refused (``RecordValueError``, with a ``kind``).
    """
    try:
        return fast_loads(line)
    except ValueError:
        return _careful_loads(line)


def _careful_loads(line: bytes | str) -> Any:
    if isinstance(line, str):
        text = line
    else:
        raw = bytes(line)
        try:  # json.loads would decode with surrogatepass and let raw ED A0 80 in; JSON Lines is UTF-8 (json's
            # own guess takes leading NUL bytes for UTF-16/32 and then blames a good byte)
            text = raw.decode("utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8")
        except UnicodeDecodeError as exc:
            raise RecordValueError(f"invalid UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})",
                                   "invalid_utf8") from None
    if _too_deep(text):
        raise RecordValueError(f"nested deeper than {MAX_DEPTH} levels", "too_deep")
    try:
        value = json.loads(text)
    except RecursionError:
        raise RecordValueError(f"nested too deeply (limit {MAX_DEPTH} levels)", "too_deep") from None
    if ("\\u" in text or isinstance(line, str)) and _has_lone_surrogate(value):
        raise RecordValueError("a lone surrogate escape (\\ud800-\\udfff) is not a character", "invalid_utf8")
    return value


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        depth += 1 if token in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _json_default(value: Any) -> Any:
    # Arrow values JSON cannot hold (dates, decimals, bytes) become strings rather than failing the write.
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def dumps(record: Mapping[str, Any]) -> bytes:
    """One record as a JSON line (without the newline).

    Raises:
        RecordValueError: the record cannot be JSON (nested deeper than Python's json can write, or a string
            that is not valid Unicode).
    """
    try:
        return json.dumps(record, ensure_ascii=False, default=_json_default).encode("utf-8")
    except RecursionError:
        raise RecordValueError("nested too deeply to write as JSON", "too_deep") from None
    except UnicodeEncodeError as exc:
        raise RecordValueError(f"not valid Unicode ({exc.reason})", "invalid_utf8") from None
