"""An exclusive lock on a directory for the duration of a run, so two runs never write into one place.

The lock is ``flock`` on a hidden file in the directory, holding the owner's PID for the message a second
run gets; the last holder removes the file when done (a shared holder checks that none is left by taking
the lock alone, without waiting), so a finished run leaves no lock file behind. The kernel releases the
lock when the owner exits, however it exits, so the lock file a killed run leaves behind is simply taken
over by the next run. URLs (object stores) have no such lock and are not locked.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from sievekit.errors import ShardError, SievekitError
from sievekit.io import fs

LOCK = ".sievekit.lock"


class LockedError(SievekitError):
    """Another live run holds the directory."""


@contextlib.contextmanager
def locked(directory: str, name: str = LOCK, shared: bool = False, label: str | None = None) -> Iterator[None]:
    """Hold ``directory`` (created if missing) for the block; runs that may share a directory by design
    (array tasks, one dedupe stage task per shard or band) each lock their own ``name``. ``shared``: hold it
    beside other shared holders (the tasks of one staged run), excluding only exclusive holders (whole runs).
    ``label`` names what is locked in messages (a single output file, locked in its folder).

    Raises:
        LockedError: another process holds it (the message names its PID).
    """
    if fs.is_url(directory):
        yield
        return
    path = os.path.join(directory, name)
    try:
        fs.makedirs(directory)
        fd = _acquire(path, label or directory, shared)
    except (FileExistsError, NotADirectoryError):
        raise ShardError(f"{directory}: a file is in the way (a directory is needed there)",
                         hint="choose another output, or move that file away") from None
    except OSError as exc:  # a read-only or missing place: one line naming it, not a traceback
        raise ShardError(f"{directory}: cannot write there ({exc.strerror or exc})",
                         hint="check that it exists and is writable (permissions, a read-only disk)") from None
    try:
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        # Only a sole holder may remove the file (a waiting run then finds it gone and starts over); a shared
        # holder is the last one when it can take the lock alone without waiting.
        if not shared or _sole(fd):
            with contextlib.suppress(OSError):
                os.unlink(path)
        os.close(fd)  # closing releases the lock


def _sole(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _acquire(path: str, directory: str, shared: bool) -> int:
    """Open and lock the lock file; start over if its holder removed it meanwhile (the file we locked is then
    no longer the one at ``path``, and another run may hold a new one)."""
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process (shared)"
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise LockedError(f"{directory} is in use by PID {owner} (another sievekit run)",
                              hint="wait for it to finish, or choose another output or work directory") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
