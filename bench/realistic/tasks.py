"""The realistic benchmark's document kinds and task rules (relevance = a rule on a record's metadata and text).

A record is ``{"package", "path", "kind", "text", ...}``. ``kind_of`` names the kind of text a file holds
from its path; ``TASKS`` maps each task to its rule. Six of the nine tasks are a style inside a domain that
is large in the pool (Python, man pages, Rust).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

EXT_KIND = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".pxd": "cython", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".rs": "rust",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript", ".f": "fortran", ".f90": "fortran", ".pl": "perl", ".pm": "perl", ".pod": "pod",
    ".sh": "shell", ".tex": "latex", ".sty": "latex", ".cls": "latex", ".dtx": "latex", ".ltx": "latex",
    ".rst": "rst", ".md": "markdown", ".html": "html", ".htm": "html", ".s": "asm",
}
LICENSE_NAME = re.compile(r"^(licen[cs]e|copying|notice|copyright)([-_.][\w.-]*)?$", re.I)
MAN_PATH = re.compile(r"/man/(?:[\w@.-]+/)?man(\d)\w*/[^/]+\.\d\w*(\.gz)?$")
PROSE_PACKAGES = {"jargon-text", "fortunes", "focalinux-text", "doc-debian"}


def kind_of(package: str, path: str) -> str | None:
    """The kind of text at ``path`` in ``package``, or None for files the benchmark leaves out."""
    name = path.rsplit("/", 1)[-1]
    if MAN_PATH.search(path):
        return "man"
    if LICENSE_NAME.match(name) or path.startswith("usr/share/doc/") and name == "copyright":
        return "license"
    lower = name.lower()
    if lower.endswith(".rst.txt") or (package == "django" and "/docs/" in path and lower.endswith(".txt")):
        return "rst"
    if package in PROSE_PACKAGES:
        prose = "/fortunes/" in path and not name.endswith(".dat") or name.endswith((".txt", ".txt.gz"))
        return "prose" if prose else None
    dot = lower.rfind(".")
    return EXT_KIND.get(lower[dot:]) if dot > 0 else None


def man_section(path: str) -> str | None:
    m = MAN_PATH.search(path)
    return m.group(1) if m else None


ASYNC = re.compile(r"\basync\s+(?:def|with|for)\b|\bawait\b")
NUMPYDOC = re.compile(r"^[ \t]*(Parameters|Returns|Yields|Raises|See Also|Notes|Examples|Attributes|"
                      r"Other Parameters|References)[ \t]*\n[ \t]*-{3,}[ \t]*$", re.M)
PYTEST = re.compile(r"^\s*(import pytest|from pytest\b)|@pytest\.", re.M)
TEST_MODULE = re.compile(r"(^test_[\w]*|_test)\.py$")
DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]", re.M)
RETURN_ANNOTATION = re.compile(r"\)[ \t]*->[ \t]*[^\n:]+:[ \t]*(#.*)?$", re.M)
UNSAFE = re.compile(r"\bunsafe\b")


def is_typed_python(text: str) -> bool:
    defs = len(DEF.findall(text))
    return defs >= 3 and len(RETURN_ANNOTATION.findall(text)) >= 0.8 * defs


Rule = Callable[[Mapping[str, Any]], bool]
TASKS: dict[str, tuple[str, Rule]] = {
    "python": ("all Python", lambda r: r["kind"] == "python"),
    "py-async": ("Python with >= 3 async/await constructs",
                 lambda r: r["kind"] == "python" and len(ASYNC.findall(r["text"])) >= 3),
    "py-pytest": ("pytest test modules (test_*.py / *_test.py that use pytest)",
                  lambda r: r["kind"] == "python" and bool(TEST_MODULE.search(r["path"].rsplit("/", 1)[-1]))
                  and bool(PYTEST.search(r["text"]))),
    "py-numpydoc": ("Python with >= 2 numpydoc sections (a heading over a dashed rule)",
                    lambda r: r["kind"] == "python" and len(NUMPYDOC.findall(r["text"])) >= 2),
    "py-typed": ("type-annotated Python (>= 3 defs, >= 80% with a return annotation)",
                 lambda r: r["kind"] == "python" and is_typed_python(r["text"])),
    "man3": ("man pages of section 3 (library calls)", lambda r: r["kind"] == "man" and man_section(r["path"]) == "3"),
    "rust-unsafe": ("Rust with >= 3 uses of unsafe",
                    lambda r: r["kind"] == "rust" and len(UNSAFE.findall(r["text"])) >= 3),
    "latex": ("LaTeX sources (.tex/.sty/.cls/.dtx)", lambda r: r["kind"] == "latex"),
    "rst": ("reStructuredText documentation", lambda r: r["kind"] == "rst"),
}
SUB_STYLES = ("py-async", "py-pytest", "py-numpydoc", "py-typed", "man3", "rust-unsafe")


def labels(record: Mapping[str, Any]) -> list[str]:
    """The tasks a record is relevant to."""
    return [name for name, (_, rule) in TASKS.items() if rule(record)]
