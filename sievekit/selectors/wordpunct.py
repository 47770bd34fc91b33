"""WordPunct tokens as the reference DSIR finds them, for whole batches at once.

The reference (``data-selection`` 1.0.3) lowercases and splits with NLTK's ``WordPunctTokenizer``, the
pattern ``\\w+|[^\\w\\s]+`` compiled by the third-party ``regex`` engine, whose ``\\w`` is wider than stdlib
``re``'s (combining marks and the zero-width joiners are word characters, ``²`` is not) and whose ``\\s``
excludes U+001C..U+001F. ``word_punct_pattern()`` rebuilds that engine's classes for stdlib ``re`` from
``unicodedata`` (it agrees with ``regex`` on every code point assigned in Python's Unicode version).

``token_spans`` is the fast path used for features, with no regex and no Python object per token: the
rule is just "maximal runs of word characters or of punctuation characters", so once every byte of the
batch's UTF-8 buffer carries its character's class (ASCII bytes from a ``bytes.translate`` table,
non-ASCII characters from ``codepoint_classes``, built from the same code point lists as the pattern),
the token boundaries are where the class changes. ``split_words`` (the regex) stays the reference it is
tested against, and serves ``NgramFeaturizer.tokenize``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Categories the ``regex`` engine counts as word characters (Alphabetic, Mark, Decimal_Number,
# Connector_Punctuation, Join_Control), plus the letter-like symbols that are Alphabetic though ``So``.
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Mn", "Mc", "Me", "Nd", "Pc"})
_EXTRA_WORD = [(0x200C, 0x200D), (0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189)]
_NOT_SPACE = frozenset(range(0x1C, 0x20))  # str.isspace() says yes, Unicode White_Space says no
_LAST_ASSIGNED = 0xE01EF  # planes 15-16 hold only private use and unassigned code points


def _ranges(codepoints: Sequence[int]) -> str:
    """A regex character-class body for sorted code points, as ``a-b`` runs."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in [*codepoints[1:], -2]:
        if cp != prev + 1:
            parts.append(re.escape(chr(start)) if start == prev else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
            start = cp
        prev = cp
    return "".join(parts)


@functools.cache
def word_punct_pattern(astral: bool = True) -> re.Pattern[str]:
    """``\\w+|[^\\w\\s]+`` with the ``regex`` engine's Unicode classes, compiled for stdlib ``re``.

    Built once per process from ``unicodedata``. With ``astral=False`` the classes
    hold only the Basic Multilingual Plane, which ``re`` tests with one table lookup, while code points
    above U+FFFF are tried range by range; the tokenizer picks that pattern for texts without such code
    points, which is about twice as fast as stdlib ``\\w`` and many times faster than the full classes.
    """
    w, s = _ranges(_word_codepoints(_LAST_ASSIGNED if astral else 0xFFFF)), _ranges(_space_codepoints())
    return re.compile(f"[{w}]+|[^{w}{s}]+")


# Planes 4-13 hold no assigned code point (Unicode 13 to 16, Python 3.10 to 3.14; a test checks the running one):
# skipping them makes the full table's build 3.5x cheaper, a cost each process pays once.
_UNASSIGNED_PLANES = (0x40000, 0xDFFFF)


@functools.cache
def _word_codepoints(top: int) -> list[int]:
    lo, hi = _UNASSIGNED_PLANES
    codepoints = [*range(min(top, lo - 1) + 1), *range(hi + 1, top + 1)]
    categories = map(unicodedata.category, map(chr, codepoints))
    word = {cp for cp, cat in zip(codepoints, categories) if cat in _WORD_CATEGORIES}
    word.update(cp for lo, hi in _EXTRA_WORD for cp in range(lo, min(hi, top) + 1))
    return sorted(word)


@functools.cache
def _space_codepoints() -> list[int]:
    return [cp for cp in range(0x3001) if chr(cp).isspace() and cp not in _NOT_SPACE]


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def split_words(texts: Sequence[str], lowercase: bool = True) -> list[list[str]]:
    """The WordPunct tokens of every text, as the reference's tokenizer finds them."""
    bmp = word_punct_pattern(False).findall
    has_astral = _ASTRAL.search
    out = []
    for text in texts:
        if lowercase:
            text = text.lower()
        # isascii() is a flag lookup; only non-ASCII texts pay for the scan.
        out.append(bmp(text) if text.isascii() or not has_astral(text) else word_punct_pattern(True).findall(text))
    return out


_ASCII_SPACE = b" \t\n\x0b\x0c\r"
# Byte classes: 0 space, 1 word ([A-Za-z0-9_]), 2 punctuation (every other ASCII byte, \x1c..\x1f too), 3 a byte of
# a non-ASCII character (classified by code point afterwards). A ``bytes.translate`` table: that C loop classifies a
# byte several times faster than indexing a numpy table.
_BYTE_CLASS = bytes([0 if b in _ASCII_SPACE else 1 if chr(b).isalnum() or b == 0x5F else 2 for b in range(128)]
                    + [3] * 128)


@functools.cache
def byte_classes() -> npt.NDArray[np.uint8]:
    """The class of every byte value as ``token_spans`` first gives it: 0 space, 1 word, 2 neither for ASCII
    bytes; 3 for the others, which the code point of their character classes."""
    return np.frombuffer(_BYTE_CLASS, dtype=np.uint8)


@functools.cache
def codepoint_classes(astral: bool = False) -> npt.NDArray[np.uint8]:
    """The pattern's class of every code point: 0 space, 1 word, 2 neither (punctuation and the rest).

    Built from the same code point lists as ``word_punct_pattern``, so the two agree by construction. With
    ``astral=False`` the table stops at U+FFFF (a few ms to build); the full one (about 0.15 s, once per
    process) is built only when a batch holds a code point above U+FFFF.
    """
    table = np.full(0x110000 if astral else 0x10000, 2, dtype=np.uint8)
    table[np.array(_word_codepoints(_LAST_ASSIGNED if astral else 0xFFFF), dtype=np.int64)] = 1
    table[np.array(_space_codepoints(), dtype=np.int64)] = 0
    return table


@dataclasses.dataclass(frozen=True)
class TokenSpans:
    """A batch's tokens as byte ranges of one buffer.

    Attributes:
        buf: the batch's bytes: each text (lowercased if asked) in UTF-8 (lone surrogates passed through), texts
            separated by one space.
        starts, ends: byte range of every token, in order.
        doc_of: the text each token belongs to.
        n_tokens: number of tokens of each text.
    """

    buf: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    doc_of: npt.NDArray[np.int64]
    n_tokens: npt.NDArray[np.int64]

    def tokens(self) -> list[str]:
        raw = self.buf.tobytes()
        spans = zip(self.starts.tolist(), self.ends.tolist(), strict=True)
        return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in spans]

    def ngram_starts(self, k: int) -> npt.NDArray[np.int64]:
        """Index of the first token of every k-gram that stays within one text, in order."""
        n = len(self.doc_of)
        if k == 1:
            return np.arange(n, dtype=np.int64)
        if n < k:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(self.doc_of[: n - k + 1] == self.doc_of[k - 1:]).astype(np.int64, copy=False)

    def ngram_docs(self, k: int, first_doc: int = 0) -> npt.NDArray[np.int64]:
        """The text of every k-gram of ``ngram_starts(k)`` (``doc_of[ngram_starts(k)]`` without the gather), the
        texts numbered from ``first_doc``."""
        per_doc = np.maximum(self.n_tokens - (k - 1), 0)
        return np.repeat(np.arange(first_doc, first_doc + len(self.n_tokens), dtype=np.int64), per_doc)


def token_spans(texts: Sequence[str], lowercase: bool = True) -> TokenSpans:
    """Tokenise a batch into byte spans (the same tokens as ``split_words``), with numpy over the whole batch.

    Tokens are the maximal runs of word bytes and of punctuation bytes: the pattern ``\\w+|[^\\w\\s]+`` says
    exactly that once every character has its class. ASCII bytes get theirs from one table; the characters of
    non-ASCII texts get theirs by code point (``codepoint_classes``), repeated over their UTF-8 bytes.

    Example:
        >>> token_spans(["Hi, you", "x²"]).tokens()
        ['hi', ',', 'you', 'x', '²']
    """
    # str.lower() where a text is not ASCII (it may change lengths there), bytes.lower() on all at once.
    segments = [t if t.isascii() else t.lower() for t in texts] if lowercase else list(texts)
    encoded = [t.encode("utf-8", "surrogatepass") for t in segments]
    # The texts joined by single spaces, and one more space before and after, so that every token has a boundary
    # on both sides; ``buf`` is the part between those two.
    padded = b" ".join([b"", *encoded, b""])
    if lowercase:
        padded = padded.lower()
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) + 1, out=offsets[1:])
    cls = np.frombuffer(padded.translate(_BYTE_CLASS), dtype=np.uint8)
    non_ascii = [i for i, text in enumerate(segments) if not text.isascii()]  # isascii() reads a flag
    if non_ascii:
        cls = cls.copy()
        _classify_non_ascii(cls[1:-1], [segments[i] for i in non_ascii], offsets[non_ascii],
                            offsets[np.array(non_ascii) + 1] - 1)
    # Boundary p lies between bytes p-1 and p; a token starts where the class after it is not a space and
    # ends where the class before it is not one.
    bounds = np.flatnonzero(cls[1:] != cls[:-1])
    # take + compress: about twice as fast as fancy and boolean indexing on these arrays.
    starts = bounds.compress(cls[1:].take(bounds).astype(bool))
    ends = bounds.compress(cls.take(bounds).astype(bool))
    n_tokens = np.diff(np.searchsorted(starts, offsets)).astype(np.int64)
    doc_of = np.repeat(np.arange(len(segments), dtype=np.int64), n_tokens)
    return TokenSpans(np.frombuffer(padded, dtype=np.uint8)[1:-1], starts, ends, doc_of, n_tokens)


def _classify_non_ascii(cls: npt.NDArray[np.uint8], texts: list[str], starts: npt.NDArray[np.int64],
                        ends: npt.NDArray[np.int64]) -> None:
    """Give the bytes of non-ASCII characters (class 3) of ``texts`` (bytes ``starts[i]:ends[i]`` of the buffer)
    their character's class; the ASCII bytes already have theirs."""
    chars = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    high = chars.compress(chars >= 0x80)
    width = (high >= 0x800).view(np.uint8) + np.uint8(2)  # the character's UTF-8 length
    width += high >= 0x10000
    per_byte = np.repeat(codepoint_classes(bool(high.max() > 0xFFFF))[high], width)
    at = 0
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):  # one step per text, not per token
        view = cls[lo:hi]
        where = np.flatnonzero(view == 3)
        view[where] = per_byte[at: at + len(where)]
        at += len(where)
