"""The classifier's fit imports scipy (and numba or scikit-learn) in a thread while it samples the pool; the fit then
waits for that thread. A stopped run must not wait for it: once a -j 2 run SIGTERMed at its start sat ten minutes
in that wait, with the import stuck on Python's import lock."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest

from sievekit.selectors import classifier


def _in_join(ident: int) -> bool:
    frame = sys._current_frames().get(ident)
    while frame is not None:
        if frame.f_code.co_name == "_wait_for_tstate_lock":  # Thread.join's wait, timed or not
            return True
        frame = frame.f_back
    return False


def test_a_sigterm_the_kernel_hands_to_the_import_thread_stops_the_wait_at_once(monkeypatch):
    # The kernel gives a signal sent to the process to any of its threads that does not block it (the main
    # thread does, for instance, around CPython's vfork); the handler then runs in the main thread only when it
    # next runs Python code. A join without a timeout sleeps in C until the import ends: while a stuck import
    # lasts, the SIGTERM was never acted on.
    pytest.importorskip("scipy")
    main = threading.get_ident()
    release = threading.Event()

    def stuck_import(self):
        deadline = time.monotonic() + 5.0
        while not _in_join(main) and time.monotonic() < deadline:
            time.sleep(0.005)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # to this thread, not the main one
        release.wait(10.0)

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    monkeypatch.setattr(classifier._FitImports, "_require", stuck_import)
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        imports = classifier._FitImports("l2")
        start = time.monotonic()
        with pytest.raises(SystemExit) as stopped:
            imports.wait()
        waited = time.monotonic() - start
    finally:
        release.set()
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.code == 143
    assert waited < 5.0  # the handler ran within a slice of the join, not after the import (10 s here)
