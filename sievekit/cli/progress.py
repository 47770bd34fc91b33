"""Progress as the CLI shows it, on stderr only (stdout carries data).

On a terminal: a rich display, one line per phase, with bytes done of the total, rate and ETA. Off a
terminal (cron, pipes, CI logs): a timestamped line every ``--progress-interval`` seconds::

    2026-11-27T17:40:00 select: score 3/8 shards, 120.5 of 475.2 MB (25%), 36.1 MB/s, ETA 0:00:10

An interrupted run (Ctrl-C, SIGTERM) ends with one line saying how far it got and how to go on. The
library only calls the ``sievekit.run.progress.Progress`` protocol; ``Watch`` implements it.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sievekit.cli import stopping

Clock = Callable[[], float]


@dataclass
class PhaseState:
    """One phase as far as it has got (``started``: on the monotonic clock)."""

    name: str = ""
    total_bytes: int = 0
    total_units: int = 0
    unit: str = "shards"
    bytes: int = 0
    docs: int = 0
    units: int = 0
    started: float = 0.0

    @property
    def by_bytes(self) -> bool:
        """Bytes measure this phase (else its units do: bands, steps)."""
        return self.total_bytes > 0

    @property
    def fraction(self) -> float:
        done, total = (self.bytes, self.total_bytes) if self.by_bytes else (self.units, self.total_units)
        return min(1.0, done / total) if total else 0.0


class View(Protocol):
    def changed(self, state: PhaseState, new_phase: bool) -> None: ...


class Watch:
    """The run's progress as the library reports it (a ``sievekit.run.progress.Progress``), shown by a view."""

    def __init__(self, command: str, view: View | None = None, clock: Clock = time.monotonic) -> None:
        self.command, self.view, self.clock = command, view, clock
        self.state = PhaseState()
        self.lock = threading.Lock()

    def phase(self, name: str, total_bytes: int, total_shards: int, unit: str = "shards") -> None:
        with self.lock:
            self.state = PhaseState(name, total_bytes, total_shards, unit, started=self.clock())
        self._changed(True)

    def advance(self, docs: int, nbytes: int = 0) -> None:
        with self.lock:
            self.state.docs += docs
            self.state.bytes += nbytes
        self._changed(False)

    def shard_done(self) -> None:
        with self.lock:
            self.state.units += 1
        self._changed(False)

    def snapshot(self) -> PhaseState:
        with self.lock:
            return dataclasses.replace(self.state)

    def _changed(self, new_phase: bool) -> None:
        if self.view is not None:
            self.view.changed(self.snapshot(), new_phase)

    def interrupted(self, resumable: bool) -> str:
        """The last line of an interrupted run."""
        s = self.snapshot()
        where = (f" after {s.units} of {s.total_units} {s.unit} ({s.name})" if s.total_units
                 else f" during {s.name}" if s.name else " before any work began")
        then = "resume" if resumable else "start again"
        return f"{self.command}: interrupted{where}; re-run the same command to {then}"


UNITS = ("B", "kB", "MB", "GB", "TB")


def size(n: float, unit_of: float | None = None) -> str:
    """``n`` bytes in decimal units; with ``unit_of``, a bare number in that amount's unit ("120.5" of
    "475.2 MB")."""
    ref = n if unit_of is None else unit_of
    i = next((i for i in range(len(UNITS)) if ref < 1000 ** (i + 1)), len(UNITS) - 1)
    number = f"{n:.0f}" if i == 0 else f"{n / 1000 ** i:.1f}"
    return number if unit_of is not None else f"{number} {UNITS[i]}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def describe(command: str, s: PhaseState, now: float) -> str:
    """One progress line (without its timestamp): counts, bytes, rate, ETA."""
    parts = [f"{command}: {s.name}" + (f" {s.units}/{s.total_units} {s.unit}" if s.total_units else "")]
    if s.docs:
        parts.append(f"{s.docs:,} docs")
    elapsed = max(now - s.started, 1e-9)
    if s.by_bytes:
        parts.append(f"{size(s.bytes, s.total_bytes)} of {size(s.total_bytes)} ({s.fraction:.0%})")
        rate, left = s.bytes / elapsed, s.total_bytes - s.bytes
        speed = f"{size(rate)}/s"
    else:
        rate, left = s.units / elapsed, s.total_units - s.units
        speed = f"{rate:.1f} {s.unit}/s"
    if rate > 0:
        parts += [speed, f"ETA {duration(left / rate)}"]
    else:
        parts.append(f"{duration(elapsed)} elapsed")
    return ", ".join(parts)


class LineView:
    """A timestamped line on ``write`` every ``interval`` seconds, from a timer thread (so a long step with
    nothing to report still shows the run is alive) and from the run's own calls, whichever comes first."""

    def __init__(self, watch: Watch, interval: float, write: Callable[[str], None],
                 wall: Callable[[], datetime] = datetime.now) -> None:
        self.watch, self.interval, self.write, self.wall = watch, interval, write, wall
        self.last = watch.clock()
        self._emit_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sievekit-progress", daemon=True)

    def changed(self, state: PhaseState, new_phase: bool) -> None:
        self.tick()

    def tick(self) -> None:
        with self._emit_lock:
            now = self.watch.clock()
            state = self.watch.snapshot()
            if not state.name or now - self.last < self.interval:
                return
            self.last = now
            self.write(f"{self.wall().strftime('%Y-%m-%dT%H:%M:%S')} {describe(self.watch.command, state, now)}")

    def _run(self) -> None:
        while not self._stop.wait(min(self.interval, threading.TIMEOUT_MAX)):
            self.tick()

    def __enter__(self) -> LineView:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class RateColumn(ProgressColumn):
    """Bytes per second for a phase measured in bytes, else its units (bands, steps) per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("")
        unit = task.fields.get("unit", "")
        return Text(f"{size(speed)}/s" if unit == "bytes" else f"{speed:.1f} {unit}/s", style="progress.data.speed")


class RichView:
    """One rich task per phase: the earlier phases stay, finished, above the current one."""

    def __init__(self, watch: Watch, console: Console) -> None:
        self.watch = watch
        columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                   TaskProgressColumn(), TextColumn("{task.fields[amount]}", markup=False), RateColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=console, transient=True)
        self.task: Any = None
        self.total = 0

    def changed(self, state: PhaseState, new_phase: bool) -> None:
        if new_phase:
            if self.task is not None:  # the phase before ended: show it whole, even one with nothing to count
                self.progress.update(self.task, total=self.total or 1, completed=self.total or 1)
                self.progress.stop_task(self.task)
            self.total = state.total_bytes if state.by_bytes else state.total_units
            self.task = self.progress.add_task(f"{self.watch.command} {state.name}", amount="",
                                               total=self.total or None,  # None: a bar that waits, no percent
                                               unit="bytes" if state.by_bytes else state.unit)
        if self.task is None:
            return
        amount = f"{state.units}/{state.total_units} {state.unit}" if state.total_units else ""
        if state.by_bytes:
            amount = f"{size(state.bytes, state.total_bytes)}/{size(state.total_bytes)}, {amount}"
        if state.docs:
            amount += f", {state.docs:,} docs"
        self.progress.update(self.task, completed=state.bytes if state.by_bytes else state.units, amount=amount)

    def __enter__(self) -> RichView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def feedback(command: str, *, quiet: bool, interval: float, resumable: bool, console: Console,
             tty: bool | None = None) -> Iterator[Watch]:
    """Progress for one run of ``command``: rich on a terminal, timed lines off one, nothing with ``quiet``
    (or ``interval`` 0 off a terminal). An interrupted run (KeyboardInterrupt, or the SystemExit of the
    SIGTERM handler) gets its last line even with ``quiet``: it says the run did not finish."""
    watch = Watch(command)
    tty = sys.stderr.isatty() if tty is None else tty
    view: RichView | LineView | None = None
    if not quiet and tty:
        view = RichView(watch, console)
    elif not quiet and interval > 0:
        view = LineView(watch, interval, _stderr_line)
    try:
        if view is None:
            yield watch
        else:
            with view:
                watch.view = view
                yield watch
        stopping.raise_stop()  # a stop a finaliser swallowed, and the run ended before it was raised again
    except KeyboardInterrupt:
        _stderr_line(watch.interrupted(resumable))
        raise
    except SystemExit as exc:
        if exc.code not in (0, None):
            _stderr_line(watch.interrupted(resumable))
        raise
    except Exception:
        if stopping.stopped() is not None:  # the stop's SystemExit, wrapped (``stopping.as_exit`` ends the run)
            _stderr_line(watch.interrupted(resumable))
        raise
    finally:
        watch.view = None
