"""Warnings about the data that a run shows once, however many passes and worker processes read the file.

A run reads a shard several times (the fit's pool pass, scoring, writing back), in this process or in
workers; a truncated stream kept up to its break under ``--on-bad-record skip`` would otherwise warn on
every read. ``warn_once`` prints a notice the first time its key is seen in the run: within a process by a
set, across the run's local worker processes by creating a file named after the key, exclusively, in a
folder the run shares with them through the environment (spawned workers inherit it). ``begin_run`` starts
that folder (the CLI calls it for each command); without it, a notice is shown once per process.
``show_warning`` shows Python warnings the same way (the CLI installs it for each command).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
from typing import Any

from sievekit.errors import ShardError
from sievekit.io import tempdirs

_ENV = "SIEVEKIT_NOTICES_DIR"
_seen: set[str] = set()
_started: list[str] = []  # the folder this process started (a worker starts none, so never removes one)


def begin_run() -> None:
    """Start a run's notices afresh: a new shared folder (the previous run's is removed). Without a usable
    temporary directory the run goes on without one: its notices are then shown once per process."""
    _seen.clear()
    end_run()
    try:
        _started.append(tempdirs.make("sievekit-notices-"))
    except (ShardError, OSError):
        return
    os.environ[_ENV] = _started[-1]


@atexit.register
def end_run() -> None:
    """Remove the run's notices folder (at exit; or by a run that ends without the interpreter's teardown)."""
    while _started:
        folder = _started.pop()
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get(_ENV) == folder:
            del os.environ[_ENV]


def warn_once(key: str, message: str) -> None:
    """Print ``Warning: message`` on stderr, unless this run has already shown the notice ``key``."""
    if key in _seen:
        return
    _seen.add(key)
    folder = os.environ.get(_ENV)
    if folder and os.path.isdir(folder):
        name = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        try:
            os.close(os.open(os.path.join(folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return  # another process of the run showed it
        except OSError:
            pass  # the folder went away: showing it twice beats not at all
    print(f"Warning: {message}", file=sys.stderr)


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for a run: a library warning (zipfit's long pairs, a solver's) shown as one
    ``Warning:`` line, once per run, without the file, line and source code Python shows."""
    text = " ".join(str(message).split())
    warn_once(f"{category.__name__}: {text}", text)


def adopt_in_worker() -> None:
    """In a worker process of a CLI run (its notices folder inherited through the environment), show library
    warnings as the run's parent does: one ``Warning:`` line, once per run across all its processes."""
    if os.environ.get(_ENV):
        import warnings

        warnings.showwarning = show_warning
