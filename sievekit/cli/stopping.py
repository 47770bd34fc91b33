"""A run stopped by SIGTERM ends as stopped (exit 143, its "interrupted" line), whatever code it was running.

The handler raises ``SystemExit`` in the main thread at the next Python instruction, wherever that is, and two
kinds of code there do not let it through: a finaliser (``__del__``, a weakref callback), where Python reports
the exception and goes on, so the run ignored the SIGTERM; and Python code called back from C that wraps what it
raises (numba's dispatcher: ``SystemError ... returned a result with an exception set``; ``__set_name__``:
``RuntimeError``), which reached the user as a traceback and exit 1. So the handler records the stop, a
swallowed ``SystemExit`` is raised again where the run can end (the unraisable hook hands the signal back to the
main thread), and ``as_exit`` turns whatever else comes out of a stopped run into its exit.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_stopped: list[int] = []  # the exit code of the stop this run was asked for (empty: none)
_previous_hook: list[Callable[[Any], object]] = []
_retry = False  # a finaliser swallowed the stop's SystemExit: raise it again
_retrier: list[threading.Thread] = []
RETRY_SECONDS = 0.01


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's handler: the run stops; its ``SystemExit`` unwinds through the atomic writers, which delete their
    temporary files."""
    if not _stopped:
        _stopped.append(128 + signum)
        if sys.unraisablehook is not _unraisable:
            _previous_hook[:] = [sys.unraisablehook]
            sys.unraisablehook = _unraisable
        if not _retrier:
            _retrier.append(threading.Thread(target=_raise_again, name="sievekit-stop", daemon=True))
            _retrier[0].start()
    sys.exit(128 + signum)


def stopped() -> int | None:
    """The exit code of the stop this run was asked for, or None."""
    return _stopped[0] if _stopped else None


def begin_run() -> None:
    """A new command of the process (tests run many) starts not stopped."""
    global _retry
    _stopped.clear()
    _retry = False


def _unraisable(unraisable: Any) -> None:
    global _retry
    if isinstance(unraisable.exc_value, SystemExit) and _stopped:
        # The last thing this hook does, with no call after it: the handler must not run again inside the hook
        # (its exit would be swallowed there for good); ``_raise_again`` needs the GIL this thread holds till then.
        _retry = True
        return
    (_previous_hook[0] if _previous_hook else sys.__unraisablehook__)(unraisable)


def _raise_again() -> None:
    """Hands a swallowed stop back to the main thread, whose handler runs again at its next instruction
    (``interrupt_main`` does nothing if SIGTERM is no longer Python's to handle)."""
    global _retry
    while True:
        time.sleep(RETRY_SECONDS)
        if _retry and _stopped:
            _retry = False
            _thread.interrupt_main(signal.SIGTERM)


@contextlib.contextmanager
def as_exit() -> Iterator[None]:
    """An error out of a stopped run (its ``SystemExit`` wrapped by code called from C, a worker stopped with it)
    is the stop: the run exits with the stop's code, not as a failure."""
    try:
        yield
    except Exception:
        code = stopped()
        if code is None:
            raise
        raise SystemExit(code) from None
