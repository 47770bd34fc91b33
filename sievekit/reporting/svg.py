"""Charts as inline SVG: bars (grouped or stacked, categories or histogram bins) and lines, each with a
title, axis titles, ticks and grid lines; no scripts and nothing fetched.

Every text drawn comes from ``_text`` (control characters replaced, then HTML-escaped); a label too long
for its slot is cut, rotated, and keeps its full text in a ``<title>`` (the browser shows it on hover).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sievekit.reporting.untrusted import clean, shorten

COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")
MARK = "#c0392b"
CHAR_PX = 6.2  # the width of a character of the 11px labels, roughly
LABEL_CHARS = 24


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str | None = None


@dataclass(frozen=True)
class Frame:
    """Where the plot sits in the SVG: its left, top, right and bottom edges in pixels."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


def _text(value: object) -> str:
    return html.escape(clean(value))


def number(value: float) -> str:
    """A short tick label: 1.2k, 3.4M, 0.25, -1.5e-05."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    if size >= 1:
        return f"{value:.4g}"
    return f"{value:.2g}"


def nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into about ``count`` parts."""
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps up to the first tick at or above ``top``."""
    if not top > 0 or not math.isfinite(top):
        return [0.0, 1.0]
    step = nice_step(top, count)
    n = math.ceil(top / step - 1e-9)
    return [round(i * step, 12) for i in range(n + 1)]


def _scaled(value: float, scale: str, c: float) -> float:
    if scale == "symlog":
        return math.copysign(math.log10(1 + abs(value) / c), value)
    if scale == "log1p":
        return math.log10(1 + max(value, 0.0))
    return value


def axis_ticks(lo: float, hi: float, bins: int, scale: str = "linear", c: float = 1.0,
               most: int = 8) -> list[tuple[float, str]]:
    """Round x ticks of a histogram from ``lo`` to ``hi`` (its first and last edges, in the values' units) as
    (position in bins, label). ``scale``: ``linear``, ``symlog`` (sign(x)·log10(1 + |x|/c)) or ``log1p``
    (log10(1 + x)): log scales get 0 and 1, 2, 5 times powers of ten from ``c`` (or 1) up, just the powers
    when they are many."""
    if not hi > lo:
        return [(0.0, number(lo))]
    if scale == "linear":
        step = nice_step(hi - lo)
        values = [round(v * step, 12) for v in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)]
    else:
        floor = c if scale == "symlog" else 1.0  # below it the axis is (nearly) linear: no log ticks there
        mags = [m * floor * 10.0 ** k for k in range(0, 16) for m in (1, 2, 5)]
        values = sorted(v for v in {0.0, *mags, *(-m for m in mags)} if lo <= v <= hi)
        if len(values) > most:
            values = [v for v in values if v == 0 or math.log10(abs(v)).is_integer()]
    values = values[::max(1, math.ceil(len(values) / most))]
    a, b = _scaled(lo, scale, c), _scaled(hi, scale, c)
    return [(bins * (_scaled(v, scale, c) - a) / (b - a), number(v)) for v in values]


def log_ticks(top: float) -> list[float]:
    """0, 1, 10, 100 … up to the first power of ten at or above ``top`` (counts on a log axis)."""
    ticks = [0.0, 1.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] * 10)
    return ticks


def _y_axis(frame: Frame, ticks: Sequence[float], pos: Sequence[float], title: str) -> list[str]:
    out = []
    for value, y in zip(ticks, pos):
        out.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{frame.left - 6}" y="{y + 3.5:.1f}" font-size="11" text-anchor="end" '
                   f'class="tick">{_text(number(value))}</text>')
    mid = (frame.top + frame.bottom) / 2
    out.append(f'<text x="14" y="{mid:.1f}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {mid:.1f})" '
               f'class="axis-title">{_text(title)}</text>')
    out.append(f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.bottom}" stroke="#888"/>')
    return out


def _x_labels(frame: Frame, labels: Sequence[str], positions: Sequence[float], rotate: bool) -> list[str]:
    out = []
    y = frame.bottom + 14
    for label, x in zip(labels, positions):
        full = clean(label)
        shown = shorten(full, LABEL_CHARS)
        turn = f' transform="rotate(-35 {x:.1f} {y})"' if rotate else ""
        anchor = "end" if rotate else "middle"
        out.append(f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="{anchor}"{turn} class="tick">'
                   f'<title>{html.escape(full)}</title>{html.escape(shown)}</text>')
        out.append(f'<line x1="{x:.1f}" y1="{frame.bottom}" x2="{x:.1f}" y2="{frame.bottom + 4}" stroke="#888"/>')
    return out


def _spaced(ticks: Sequence[tuple[float, str]]) -> list[tuple[float, str]]:
    """The ticks whose centred labels do not overlap the one kept before them (the first always kept)."""
    kept: list[tuple[float, str]] = []
    for x, label in ticks:
        if not kept or x - kept[-1][0] >= CHAR_PX * (len(label) + len(kept[-1][1])) / 2 + 8:
            kept.append((x, label))
    return kept


def _thin(count: int, most: int) -> list[int]:
    step = max(1, math.ceil(count / most))
    return list(range(0, count, step))


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    out = []
    for s in series:
        out.append(f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{s.color}"/>'
                   f'<text x="{x + 14:.1f}" y="{y}" font-size="11" class="legend">{_text(s.name)}</text>')
        x += 30 + CHAR_PX * len(clean(s.name))
    return out


def _frame(width: int, height: int, bottom_room: float, legend: bool) -> Frame:
    return Frame(left=64, top=42 if legend else 30, right=width - 16, bottom=height - bottom_room)


def _svg(width: float, height: float, title: str, parts: Sequence[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" role="img" '
            f'viewBox="0 0 {width:.0f} {height:.0f}"><title>{_text(title)}</title>'
            f'<text x="8" y="16" font-size="13" font-weight="600" class="chart-title">{_text(title)}</text>'
            + "".join(parts) + "</svg>")


def _colored(series: Sequence[Series]) -> list[Series]:
    return [Series(s.name, s.values, s.color or COLORS[i % len(COLORS)]) for i, s in enumerate(series)]


def bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, x_title: str, y_title: str,
              stacked: bool = False, y_log: bool = False, x_ticks: Sequence[tuple[float, str]] | None = None,
              marker: tuple[float, str] | None = None, width: int = 560, height: int = 320) -> str:
    """Bars per label: grouped (side by side) or ``stacked``; ``series`` values align with ``labels``.

    Args:
        labels: one per bar slot; the hover text of each bar, and the x tick labels unless ``x_ticks`` are given.
        x_ticks: (position in slots, label) ticks of a numeric x axis, such as ``axis_ticks`` of a histogram.
        y_log: a log10(1 + count) y axis (ticks 0, 1, 10, 100 …), for counts spanning orders of magnitude.
        marker: a dashed vertical line at a position in slot units (0 … len(labels)) with its label.
    """
    series = _colored(series)
    n = max(len(labels), 1)
    ticks_text = [t for _, t in x_ticks] if x_ticks is not None else [str(label) for label in labels]
    longest = min(max((len(clean(t)) for t in ticks_text), default=1), LABEL_CHARS)
    slot_px = (width - 80) / n
    rotate = x_ticks is None and longest * CHAR_PX + 4 > slot_px
    bottom_room = 40 + (longest * CHAR_PX * 0.6 if rotate else 14)
    frame = _frame(width, height, bottom_room, len(series) > 1)
    totals = [sum(float(s.values[i]) for s in series) if stacked else max(float(s.values[i]) for s in series)
              for i in range(len(labels))] if series else []
    top = max(totals, default=0.0)
    ticks = log_ticks(top) if y_log else nice_ticks(top)
    scale = math.log10(1 + ticks[-1]) if y_log else ticks[-1]

    def y_of(v: float) -> float:
        return frame.bottom - frame.height * ((math.log10(1 + v) if y_log else v) / scale)

    slot = frame.width / n
    parts = _y_axis(frame, ticks, [y_of(t) for t in ticks], y_title)
    for i, label in enumerate(labels):
        base = 0.0
        for j, s in enumerate(series):
            value = float(s.values[i])
            lo, hi = (base, base + value) if stacked else (0.0, value)
            base = hi if stacked else base
            width_px = slot - 2 if stacked else max(slot / len(series) - 2, 1)
            x = frame.left + i * slot + 1 + (0 if stacked else j * slot / len(series))
            parts.append(f'<rect x="{x:.1f}" y="{y_of(hi):.1f}" width="{width_px:.1f}" '
                         f'height="{max(y_of(lo) - y_of(hi), 0):.1f}" fill="{s.color}"><title>'
                         f'{_text(label)}: {_text(s.name)} {_text(number(value))}</title></rect>')
    if x_ticks is not None:
        spaced = _spaced([(frame.left + p * slot, t) for p, t in x_ticks])
        parts += _x_labels(frame, [t for _, t in spaced], [x for x, _ in spaced], False)
    else:
        keep = _thin(len(labels), int(frame.width / 14) if rotate else len(labels))  # rotated: 14px apart
        parts += _x_labels(frame, [str(labels[i]) for i in keep], [frame.left + (i + 0.5) * slot for i in keep],
                           rotate)
    parts.append(f'<line x1="{frame.left}" y1="{frame.bottom}" x2="{frame.right}" y2="{frame.bottom}" '
                 f'stroke="#888"/>')
    parts.append(f'<text x="{(frame.left + frame.right) / 2:.1f}" y="{height - 6}" font-size="12" '
                 f'text-anchor="middle" class="axis-title">{_text(x_title)}</text>')
    if len(series) > 1:
        parts += _legend(series, frame.left, 32)
    if marker is not None:
        parts += _marker(frame, frame.left + marker[0] * slot, marker[1])
    return _svg(width, height, title, parts)


def _marker(frame: Frame, x: float, label: str) -> list[str]:
    anchor, dx = ("end", -4) if x > (frame.left + frame.right) / 2 else ("start", 4)
    return [f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{frame.bottom}" stroke="{MARK}" '
            f'stroke-width="1.5" stroke-dasharray="5 3" class="marker"/>',
            f'<text x="{x + dx:.1f}" y="{frame.top + 12}" font-size="11" text-anchor="{anchor}" fill="{MARK}" '
            f'class="marker-label">{_text(label)}</text>']


def line_chart(xs: Sequence[float], ys: Sequence[float], *, title: str, x_title: str, y_title: str,
               marker: tuple[float, str] | None = None, width: int = 560, height: int = 320) -> str:
    """One line over a numeric x axis, with a point per value (hover shows it) and an optional vertical
    ``marker`` at an x value with its label."""
    frame = _frame(width, height, 54, False)
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_hi = x_hi if x_hi > x_lo else x_lo + 1
    y_ticks = nice_ticks(max(ys, default=0.0) or 1.0)

    def px(x: float, y: float) -> tuple[float, float]:
        return (frame.left + frame.width * (x - x_lo) / (x_hi - x_lo),
                frame.bottom - frame.height * y / y_ticks[-1])

    parts = _y_axis(frame, y_ticks, [px(x_lo, t)[1] for t in y_ticks], y_title)
    x_ticks = [x_lo + (x_hi - x_lo) * i / 5 for i in range(6)]
    parts += _x_labels(frame, [number(round(t, 10)) for t in x_ticks], [px(t, 0)[0] for t in x_ticks], False)
    points = [px(x, y) for x, y in zip(xs, ys)]
    parts.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
        COLORS[0], " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
    parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[0]}"><title>{_text(number(xv))}: '
              f'{_text(number(yv))}</title></circle>' for (x, y), xv, yv in zip(points, xs, ys)]
    parts.append(f'<line x1="{frame.left}" y1="{frame.bottom}" x2="{frame.right}" y2="{frame.bottom}" '
                 f'stroke="#888"/>')
    parts.append(f'<text x="{(frame.left + frame.right) / 2:.1f}" y="{height - 6}" font-size="12" '
                 f'text-anchor="middle" class="axis-title">{_text(x_title)}</text>')
    if marker is not None:
        parts += _marker(frame, px(marker[0], 0)[0], marker[1])
    return _svg(width, height, title, parts)


def position(edges: Sequence[float], value: float) -> float | None:
    """Where ``value`` falls on a histogram's x axis, in bins (0 … len(edges) - 1), linear within its bin."""
    if len(edges) < 2 or not edges[0] <= value <= edges[-1]:
        return None
    for i in range(len(edges) - 1):
        if value <= edges[i + 1]:
            width = edges[i + 1] - edges[i]
            return i + ((value - edges[i]) / width if width else 0.0)
    return float(len(edges) - 1)
