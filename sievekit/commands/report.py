"""``report``: what a set of shards holds and what a run did to it; optionally one HTML page with charts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions, fs, resolve_inputs
from sievekit.io.streams import atomic_output
from sievekit.reporting.build import report as build_report
from sievekit.reporting.render import to_html
from sievekit.run import layout


def report(inputs: Sequence[str], *, read: ReadOptions = ReadOptions(), scores: str | None = None,
           score_fields: Sequence[str] = (), by: str | None = None, target: Sequence[str] | None = None,
           raw: Sequence[str] | None = None, html: str | None = None) -> dict[str, Any]:
    """The report's data (see ``sievekit.reporting.build.report``); with ``html``, also written there as one
    self-contained page, which must not be any of the files the report reads (inputs, target, pool, and the
    run records beside or inside the inputs)."""
    if html is not None:
        _check_html(html)
        reads = [(f"input {s.label}", s.path) for spec in (inputs, target or (), raw or ())
                 for s in (resolve_inputs(list(spec)) if spec and "-" not in spec else [])]
        # nor the records of the runs that wrote the inputs, which the report reads too
        reads += [(what, path) for spec in inputs if spec != "-" and (fs.isdir(spec) or fs.isfile(spec))
                  for what, path in layout.Layout(spec).record()]
        layout.check([("the HTML report", html)], reads)
    data = build_report(inputs, read, scores=scores, score_fields=score_fields, by=by, target=target, raw=raw)
    if html is not None:
        with atomic_output(html) as tmp:
            fs.write_text(tmp, to_html(data))
    return data


def _check_html(html: str) -> None:
    """The page is one file, written beside its name and renamed over it: refuse what names no such file."""
    if not html.strip() or html == "-":  # the CLI prints the page for ``--html -``; the library writes files
        raise ConfigError(f"{option('html')} {'is empty' if not html.strip() else '- names no file'}",
                          hint=f"name the page's file, e.g. {option('html')} report.html")
    if html.endswith(("/", os.sep)) or fs.isdir(html):
        raise ConfigError(f"{option('html')} {html} is a directory; the page is one file",
                          hint=f"e.g. {option('html')} {fs.join(html.rstrip('/' + os.sep) or '.', 'report.html')}")
    kind = fs.special_kind(html)
    if kind is not None:
        raise ConfigError(f"{option('html')} {html} is {kind}, which writing the page (by rename) would replace",
                          hint=f"name a regular file, or pass {option('html')} - to print the page on stdout")
