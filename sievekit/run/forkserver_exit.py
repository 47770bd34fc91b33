"""The fork server's end, imported by the server as its last preload (``executor._context``); nowhere else.

The standard library's server leaves its loop when the last holder of its "alive" pipe closes it, by raising
``SystemExit``. Two things then go wrong for a run that waits for it (``executor._stop_server``):

- workers that ended at the same moment may not be reaped yet (the server checks the pipe before its child
  signals), so they are handed to init and their CPU time never reaches the run's ``RUSAGE_CHILDREN``;
- the interpreter's teardown of a process that loaded the featurizer's compiled kernels takes about a fifth of
  a second, which every ``-j 2+`` run waited for at its end.

So the last exit handler registered (the first to run) reaps the server's children and ends the process at
once. A worker never runs it: forked workers end with ``os._exit`` after their last task.
"""

from __future__ import annotations

import atexit
import os
import sys
import time

REAP_SECONDS = 2.0  # by the time the pipe closed, every worker is ending; this only bounds a surprise


def _reap_and_exit() -> None:
    deadline = time.monotonic() + REAP_SECONDS
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            break
        if pid == 0:  # some still running
            time.sleep(0.002)
    os._exit(0)


def _in_fork_server() -> bool:
    # The server is ``python -c "from multiprocessing.forkserver import main; main(...)"``.
    return sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules


if _in_fork_server():
    atexit.register(_reap_and_exit)
