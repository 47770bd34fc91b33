"""Running per-shard tasks: in this process, on a pool of local worker processes, or as Ray tasks.

A task is a picklable module-level function and its arguments; every task reads its inputs, writes its
outputs atomically and returns something small. Results come back in task order, so what a run writes
does not depend on how many workers ran it, nor on which engine. The first task that raises cancels the
tasks not yet started, and its error (a ``SievekitError`` keeps its type and message across processes)
ends the run. Ctrl-C or SIGTERM stops the workers, whose atomic writers remove their temporary files.

Local workers are forked from a fork server (where the platform has one; else spawned): a clean process,
started when the executor is entered, which imports the ``preload`` modules once (the run's task code, the
featurizer's compiled kernels) while the parent goes on with its own work; each worker is a fork of it, so
workers start warm instead of each paying the imports again. The server is never a fork of the parent,
which may hold Arrow's thread pools (they do not survive a fork).

Ray is optional (``pip install 'sievekit[ray]'``) and imported only when asked for: ``--executor ray``
joins the cluster at ``--ray-address`` or ``$RAY_ADDRESS``, or starts a local one with ``-j`` CPUs. Its
workers need sievekit installed and the inputs and outputs on storage they all see.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType, TracebackType
from typing import Any, TypeVar

from sievekit.allocator import tune_allocator
from sievekit.errors import ConfigError, MissingDependencyError, ShardError, SievekitError
from sievekit.io import notices, tempdirs
from sievekit.io.streams import describe_error

R = TypeVar("R")
EXECUTORS = ("local", "ray")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(128 + signum)  # unwinds through the atomic writers, which delete their temporary files


def _die_with_parent(parent: int) -> None:
    """SIGTERM this worker when the run's process dies (even by SIGKILL), so no orphan keeps running.

    A spawned worker's parent is the run's process: Linux sends the signal (``PR_SET_PDEATHSIG``). A forked
    worker's parent is the fork server, which the workers themselves keep alive (each holds the write end of
    the pipe the server watches for the run's exit), so it watches the run's process itself: a thread waits
    on a pidfd of it (Linux 5.3), else polls for it once a second."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # forked by the server (or the run died before the request took effect)
        threading.Thread(target=_watch, args=(parent,), name="sievekit-watch-run", daemon=True).start()


def _watch(pid: int) -> None:
    """Wait for process ``pid`` to end, then SIGTERM this one's main thread (its handler unwinds the atomic
    writers); if that does not end it within a few seconds, exit hard."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (old kernel) or the process is already gone
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while tempdirs.alive(pid):
            time.sleep(1.0)
    # To the main thread itself: a signal the kernel hands to this thread would leave the main thread asleep
    # in its wait for a task, with the handler never run.
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signal.SIGTERM)
    time.sleep(5.0)
    os._exit(128 + signal.SIGTERM)


def _worker_init(parent: int) -> None:
    _die_with_parent(parent)
    tune_allocator()
    notices.adopt_in_worker()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the workers


class Executor:
    """Runs tasks in order of submission, inline (``jobs=1``), on local processes, or on Ray.

    Example:
        >>> with Executor(jobs=1) as ex:
        ...     ex.map(pow, [(2, 3), (3, 2)])
        [8, 9]
    """

    def __init__(self, jobs: int = 1, kind: str = "local", address: str | None = None,
                 preload: Sequence[str] = ()) -> None:
        if kind not in EXECUTORS:
            raise ConfigError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
        if jobs < 1:
            raise ConfigError(f"--jobs must be >= 1, got {jobs}")
        self.jobs, self.kind, self.address, self.preload = jobs, kind, address, list(preload)
        self._pool: ProcessPoolExecutor | None = None
        self._server = False  # whether this executor started (or used) the fork server, so stops it
        self._ray: Any = None

    def __enter__(self) -> Executor:
        if self.kind == "local" and self.jobs > 1:
            self._use_server()
            try:
                self._context()  # the fork server warms up while the run does its first, serial work
            except BaseException:
                self.close(failed=True)  # no __exit__ follows a failed __enter__: give back the server's use
                raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(failed=exc is not None)

    def map(self, fn: Callable[..., R], calls: Sequence[tuple[Any, ...]]) -> list[R]:
        return list(self.imap(fn, calls))

    def imap(self, fn: Callable[..., R], calls: Sequence[tuple[Any, ...]]) -> Iterator[R]:
        """``fn(*call)`` for every call, in order; the first error cancels what has not started. With workers,
        one call runs in one too: this process then loads nothing a task needs (the fits' kernels)."""
        if self.kind == "ray":
            yield from self._ray_imap(fn, calls)
        elif self.jobs <= 1 or not calls:
            for call in calls:
                yield fn(*call)
        else:
            futures: list[Future[R]] = []
            try:
                futures.extend(self._local().submit(fn, *call) for call in calls)
                for future in futures:
                    yield _result(future)
            except BrokenProcessPool:
                # A worker ended without a word (the out-of-memory killer, a kill -9): the pool is gone.
                raise SievekitError("a worker process of this run died (killed by a signal, or it crashed)",
                                    hint="if memory ran out (see `dmesg`), lower -j; then run the same command "
                                         "again") from None
            finally:
                for future in futures:
                    future.cancel()  # a no-op for finished or running tasks

    def _local(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._use_server()
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=self._context(),
                                             initializer=_worker_init, initargs=(os.getpid(),))
        return self._pool

    def _context(self) -> multiprocessing.context.BaseContext:
        """``_context`` of the preload; an ``OSError`` (the fork server's socket needs a temporary folder)
        becomes one error saying how to get one."""
        try:
            return _context(self.preload)
        except OSError as exc:
            where = f"{exc.filename}: " if isinstance(exc.filename, str) else ""
            raise ShardError(f"cannot start the worker processes of -j {self.jobs}: {where}{describe_error(exc)}",
                             hint="set TMPDIR to a writable folder with room (the workers need one), or run with "
                                  "-j 1") from None

    def _ray_imap(self, fn: Callable[..., R], calls: Sequence[tuple[Any, ...]]) -> Iterator[R]:
        ray = self._ray_module()
        # Retries cover lost workers and nodes; an exception raised by the task itself is final.
        remote = ray.remote(max_retries=3, retry_exceptions=False)(fn)
        refs = [remote.remote(*call) for call in calls]
        done = 0
        try:
            for ref in refs:
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as err:
                    cause = getattr(err, "cause", None)
                    raise (cause if isinstance(cause, BaseException) else err) from None
                done += 1
                yield result
        finally:
            # Cancel only what was not collected: cancelling finished tasks trips an assertion in Ray 2.60.
            for ref in refs[done:]:
                ray.cancel(ref, force=False)

    def _ray_module(self) -> Any:
        if self._ray is None:
            try:
                import ray
            except ImportError:
                raise MissingDependencyError("ray", "ray", "--executor ray") from None
            address = self.address or os.environ.get("RAY_ADDRESS")
            if not ray.is_initialized():
                kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=self.jobs, **kwargs)
            self._ray = ray
        return self._ray

    def close(self, failed: bool = False) -> None:
        """Stop the workers: wait for them after success; after a failure or interrupt, terminate them."""
        if self._pool is not None:
            if not failed:
                self._pool.shutdown(wait=True)
            else:
                processes = list(getattr(self._pool, "_processes", {}).values())
                self._pool.shutdown(wait=False, cancel_futures=True)
                _stop(processes)
            self._pool = None
        if self._server:  # also when no task ran: a server left running would serve the next run its preload
            self._server = False
            with _USERS_LOCK:
                _USERS[0] -= 1
                last = _USERS[0] == 0
            if last:  # another executor of this process still works on the server's children
                _stop_server(failed)

    def _use_server(self) -> None:
        if not self._server:
            self._server = True
            with _USERS_LOCK:
                _USERS[0] += 1


# How many open executors of this process use the fork server: only the last to close stops it (and its
# children), so an executor closed inside another's run (a library caller's nesting) does not kill its workers.
_USERS = [0]
_USERS_LOCK = threading.Lock()


def _result(future: Future[R]) -> R:
    """``future.result()``; a worker stopped by SIGTERM (its handler raises ``SystemExit`` inside the task, which
    the pool hands back) is an error of the run, not this process's exit without a word."""
    try:
        return future.result()
    except SystemExit as exc:
        if future.done() and not future.cancelled() and future.exception() is exc:
            raise SievekitError(f"a worker process of this run was stopped (exit {exc.code}: SIGTERM)",
                                hint="if nobody meant to stop it, run the same command again") from None
        raise  # this process's own exit (its SIGTERM handler), while it waited


def _stop_server(failed: bool = False) -> None:
    """Stop the fork server and wait for it, so that its CPU time and its workers' (it reaps them before it
    ends: ``forkserver_exit``) count in this process's children, as spawned workers' did (``time``,
    ``RUSAGE_CHILDREN``); the next run starts its own. ``_stop`` is the standard library's own way to stop the
    server (its tests use it).

    The server ends when every holder of its "alive" pipe has closed it, and each worker it forked holds one. A
    worker the pool never learnt of (an interrupt inside ``Process.start`` after the server forked it, or with
    the request still in flight: the first task's, while the server still loads its preload) would keep it, and
    ``_stop`` would wait forever. So the server's children still there are stopped first (by now the pool has
    stopped or joined the workers it knows), and after a failure (``failed``) the server is killed before, so
    that no request still in flight forks one more."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if server is None or pid is None or not hasattr(server, "_stop"):
        return
    strays = _children(pid)
    if failed:
        _signal(pid, signal.SIGKILL)
    _end(strays)
    deadline = threading.Timer(STOP_SERVER_SECONDS, _signal, args=(pid, signal.SIGKILL))  # the last resort
    deadline.daemon = True
    deadline.start()
    try:
        server._stop()
    finally:
        deadline.cancel()


STOP_SERVER_SECONDS = 10.0


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: from /proc; elsewhere none are known)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return tempdirs.alive(pid) if not os.path.isdir("/proc") else False


def _end(pids: Sequence[int]) -> None:
    """SIGTERM, then SIGKILL, processes that are not this one's children (a stopped run must never hang)."""
    for grace, sig in ((2.0, signal.SIGTERM), (1.0, signal.SIGKILL)):
        for pid in pids:
            _signal(pid, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.02)
            pids = [pid for pid in pids if _running(pid)]
        if not pids:
            return


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(OSError):  # gone already
        os.kill(pid, sig)


def _context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """The fork server's context, the server started (once per process; the first caller's ``preload`` is
    what it imports), or spawn where there is no fork server. Never plain fork (see the module's note)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Takes effect only if the server is not running yet. ``forkserver_exit`` last: its exit handler runs first.
    context.set_forkserver_preload([*preload, "sievekit.run.forkserver_exit"])
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return context


def _stop(processes: Sequence[Any]) -> None:
    """SIGTERM the workers (their handler unwinds through the atomic writers), again for any that was busy
    handing back a result, then SIGKILL what is left: a stopped run must never hang."""
    for grace in (1.0, 2.0):
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(1.0)
