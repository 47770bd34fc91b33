"""An exclusive lock on a directory for the duration of a run, so two runs never write into one place.

The lock is ``flock`` on a hidden file in the directory, holding the owner's PID for the message a second
run gets. The kernel releases it when the owner exits, however it exits, so the lock of a killed run is
taken over by the next one without any clean-up. URLs (object stores) have no such lock and are not locked.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from sievekit.errors import SievekitError
from sievekit.io import fs

LOCK = ".sievekit.lock"


class LockedError(SievekitError):
    """Another live run holds the directory."""


@contextlib.contextmanager
def locked(directory: str, name: str = LOCK) -> Iterator[None]:
    """Hold ``directory`` (created if missing) for the block; runs that may share a directory by design
    (array tasks, one filter task per shard) each lock their own ``name``.

    Raises:
        LockedError: another process holds it (the message names its PID).
    """
    if fs.is_url(directory):
        yield
        return
    import fcntl

    fs.makedirs(directory)
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            raise LockedError(f"{directory} is in use by PID {owner} (another sievekit run)",
                              hint="wait for it to finish, or choose another output or work directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
