"""Temporary folders named after the process that made them, so that a later run sweeps what a killed one left.

A run keeps scratch files (stdin spooled for a second read, dedupe's work without ``--work-dir``, the run's
notices) in folders under ``$TMPDIR``; the run removes them when it ends, but a ``kill -9`` or the OOM killer
gives it no chance. ``make(prefix)`` names each folder ``PREFIX<host>-<pid>-<random>`` and first removes the
folders of the same prefix and host whose process is gone. A process of another host (a shared ``$TMPDIR``) is
never judged, and a live process keeps its folders whatever it is.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile

from sievekit.errors import ShardError
from sievekit.io.streams import describe_error

HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:64] or "host"


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (one we may not signal counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def make(prefix: str) -> str:
    """A new folder under the temporary directory, after sweeping the folders dead runs left with ``prefix``.

    Raises:
        ShardError: the temporary directory cannot take a folder (missing, read-only, full).
    """
    base = tempfile.gettempdir()
    sweep(base, prefix)
    try:
        return tempfile.mkdtemp(prefix=f"{prefix}{HOST}-{os.getpid()}-", dir=base)
    except OSError as exc:
        raise ShardError(f"{base}: cannot make a temporary folder: {describe_error(exc)}",
                         hint="set TMPDIR to a writable folder with room") from None


def sweep(base: str, prefix: str) -> list[str]:
    """Remove the folders ``make(prefix)`` made in ``base`` for processes of this host that are gone."""
    pattern = re.compile(re.escape(f"{prefix}{HOST}-") + r"(\d+)-")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    removed = []
    for name in names:
        match = pattern.match(name)
        if match and not alive(int(match.group(1))):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            removed.append(name)
    return removed
