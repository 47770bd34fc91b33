"""A run stopped by SIGTERM or Ctrl-C ends as stopped (exit 143, or Ctrl-C's, and its "interrupted" line),
whatever code it was running.

The handlers raise ``SystemExit`` (``KeyboardInterrupt``) in the main thread at the next Python instruction,
wherever that is, and two kinds of code there do not let it through: a finaliser (``__del__``, a weakref or
ctypes callback), where Python reports the exception and goes on, so the run ignored the signal (seen: Ctrl-C
in llvmlite's ctypes callback); and Python code called back from C that wraps what it raises (numba's
dispatcher: ``SystemError ... returned a result with an exception set``; ``__set_name__``: ``RuntimeError``),
which reached the user as a traceback and exit 1. So the handlers record the stop, a swallowed one is raised
again where the run can end (the unraisable hook hands the signal back to the main thread), and ``as_exit``
turns whatever else comes out of a stopped run into its stop.
"""

from __future__ import annotations

import _thread
import contextlib
import multiprocessing.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, NoReturn

from sievekit.io import notices

_stopped: list[int] = []  # the signal that stopped this run (empty: none)
_previous_hook: list[Callable[[Any], object]] = []
_retry = False  # a finaliser swallowed the stop's SystemExit: raise it again
_retrier: list[threading.Thread] = []
_retry_lock = threading.Lock()
RETRY_SECONDS = 0.01


def install() -> None:
    """The handlers of SIGTERM and Ctrl-C (a SIGINT the shell ignores, as in a background job, stays ignored)."""
    signal.signal(signal.SIGTERM, on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_sigint)


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's handler: the run stops; its ``SystemExit`` unwinds through the atomic writers, which delete their
    temporary files."""
    if _record(signum, frame):
        sys.exit(128 + signum)


def on_sigint(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C's handler: Python's own (``KeyboardInterrupt``), the stop recorded."""
    if _record(signum, frame):
        raise KeyboardInterrupt


def _record(signum: int, frame: FrameType | None) -> bool:
    """Record the stop; whether to raise it here (not at the unraisable hook's first instruction: an exception
    raised there is swallowed like the one the hook reports, so it is raised again later instead)."""
    global _retry
    if frame is not None and frame.f_code is _unraisable.__code__:
        _retry = True
        return False
    if not _stopped:
        _stopped.append(signum)
        if sys.unraisablehook is not _unraisable:
            _previous_hook[:] = [sys.unraisablehook]
            sys.unraisablehook = _unraisable
        if not _retrier:
            _retrier.append(threading.Thread(target=_raise_again, name="sievekit-stop", daemon=True))
            _retrier[0].start()
    return True


def stopped() -> int | None:
    """The exit code of the stop this run was asked for (128 + the signal), or None."""
    return 128 + _stopped[0] if _stopped else None


def begin_run() -> None:
    """A new command of the process (tests run many) starts not stopped."""
    global _retry
    _stopped.clear()
    _retry = False


def _unraisable(unraisable: Any) -> None:
    global _retry
    if isinstance(unraisable.exc_value, (SystemExit, KeyboardInterrupt)) and _stopped:
        # The last thing this hook does, with no call after it: the handler must not run again inside the hook
        # (its exit would be swallowed there for good); ``_raise_again`` needs the GIL this thread holds till then.
        _retry = True
        return
    (_previous_hook[0] if _previous_hook else sys.__unraisablehook__)(unraisable)


def _raise_again() -> None:
    """Hands a swallowed stop back to the main thread, whose handler runs again at its next instruction
    (``interrupt_main`` does nothing if the signal is no longer Python's to handle)."""
    global _retry
    while True:
        time.sleep(RETRY_SECONDS)
        with _retry_lock:
            if _retry and _stopped:
                _retry = False
                _thread.interrupt_main(signal.Signals(_stopped[0]))


def end_now(code: object) -> NoReturn:
    """A stopped run's end (its outputs unwound already), without the interpreter's teardown: that joins the
    process pool's manager thread, which waits forever for the rest of a result a stopped worker left
    half-written (one -j 2 select in 50 SIGTERMed hung there). The run's own exit handler (its notices' folder)
    and the pool's queue finalisers run first."""
    notices.end_run()
    # what the standard library's own exit does first, and cannot block on a worker: close the pool's queues and
    # release their semaphores (skipped, the resource tracker warns of "leaked semaphore objects")
    with contextlib.suppress(Exception):
        multiprocessing.util._run_finalizers(0)  # type: ignore[attr-defined]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stdout has nothing more to say
            stream.flush()
    os._exit(code if isinstance(code, int) else 1)


def raise_stop() -> None:
    """Raise the stop this run was asked for, if any: ``KeyboardInterrupt`` for Ctrl-C, else ``SystemExit``."""
    if _stopped and _stopped[0] == signal.SIGINT:
        raise KeyboardInterrupt from None
    if _stopped:
        raise SystemExit(128 + _stopped[0]) from None


@contextlib.contextmanager
def as_exit() -> Iterator[None]:
    """An error out of a stopped run (its ``SystemExit`` wrapped by code called from C, a worker stopped with it)
    is the stop: the run exits with the stop's code, not as a failure; so is a run that ended before a stop a
    finaliser swallowed was raised again. Nothing is raised again once the run is over."""
    global _retry
    try:
        yield
    except Exception:
        if not _stopped:
            raise
        raise_stop()
    else:
        raise_stop()
    finally:
        with _retry_lock:
            _retry = False
