"""Untrusted text (field values, shard names, record keys) made safe to show.

A report prints values that come from the data. On a terminal a control character or an ANSI escape in
them would move the cursor, recolour or hide output, or (OSC 8) become a live hyperlink; in a one-line
error a newline would split the line. ``clean`` replaces every such character with a visible escape.
Rich markup (``[/]``, ``[link=…]``) is not this module's business: callers hand cleaned text to rich as
``rich.text.Text`` (never parsed as markup), and HTML escapes it with ``html.escape``.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line/paragraph separators, the bidirectional overrides and isolates (which can
# reorder what a reader sees: "Trojan Source"), and lone surrogates (no encoder can write them).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}" if ord(char) < 0x100
                                                        else f"\\u{ord(char):04x}")


def clean(value: object) -> str:
    """``str(value)`` with every control, separator and bidi-override character shown as an escape.

    Example:
        >>> clean("red\\x1b[31m\\nline")
        'red\\\\x1b[31m\\\\nline'
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return _UNSAFE.sub(_visible, text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the full text belongs in a hover title)."""
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"
