"""Local workers are forks of a fork server that loaded the run's code once (sievekit/run/executor.py): they
start warm, results do not change, and their CPU time still counts as the run's children's."""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import time

import pytest

from sievekit.run.executor import Executor, _stop_server

pytestmark = pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                                reason="no fork server on this platform (workers are spawned)")


def _about_worker(_: int) -> tuple[int, bool, bool]:
    return os.getpid(), "sievekit.scoring.warm_ngrams" in sys.modules, "sievekit.scoring.passes" in sys.modules


def _spin(seconds: float) -> float:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return time.process_time() - start


def test_workers_are_forked_warm_and_the_server_stops_with_the_executor():
    from multiprocessing import forkserver

    _stop_server()  # a server another test left running would not have this preload
    with Executor(2, preload=["sievekit.scoring.warm_ngrams"]) as ex:
        found = ex.map(_about_worker, [(i,) for i in range(4)])
        server = forkserver._forkserver._forkserver_pid
    assert server is not None and all(pid not in (os.getpid(), server) for pid, _, _ in found)
    assert all(warm and passes for _, warm, passes in found)  # loaded by the server, before any task
    assert forkserver._forkserver._forkserver_pid is None  # stopped and waited for
    assert "sievekit.scoring.warm_ngrams" not in sys.modules  # this process was not warmed


def test_an_executor_that_ran_nothing_still_stops_its_server():
    from multiprocessing import forkserver

    with Executor(2):
        assert forkserver._forkserver._forkserver_pid is not None
    assert forkserver._forkserver._forkserver_pid is None


def test_workers_cpu_time_counts_in_this_process_children():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Executor(2) as ex:
        spent = sum(ex.map(_spin, [(0.3,), (0.3,)]))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 0.9 * spent


def test_the_server_loads_its_exit_handler_last():
    from multiprocessing import forkserver

    with Executor(2, preload=["sievekit.scoring.warm"]) as ex:
        ex.map(_about_worker, [(0,), (1,)])
        assert forkserver._forkserver._preload_modules == ["sievekit.scoring.warm", "sievekit.run.forkserver_exit"]


def test_the_exit_handler_reaps_children_then_skips_teardown(tmp_path):
    """In a process that looks like the fork server, the handler waits for (reaps) a child still running, then
    ends the process with 0 at once: the SystemExit(3) and the exit handlers registered before it never run."""
    import subprocess

    flag = tmp_path / "finalised"
    code = (
        "import multiprocessing.forkserver, atexit, os, sys, time\n"
        "atexit.register(open, sys.argv[1], 'w')  # the teardown: handlers registered before the server's\n"
        "import sievekit.run.forkserver_exit\n"
        "if os.fork() == 0:\n"
        "    time.sleep(0.5); os._exit(7)\n"
        "sys.exit(3)\n"
    )
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, str(flag)], timeout=30)
    assert done.returncode == 0 and time.monotonic() - start >= 0.5  # waited for the child
    assert not flag.exists()  # no teardown ran

    # Outside a fork server (multiprocessing.forkserver not loaded), importing it changes nothing.
    done = subprocess.run([sys.executable, "-c", code.replace("import multiprocessing.forkserver, ", "import "),
                           str(flag)], timeout=30)
    assert done.returncode == 3 and flag.exists()


def test_a_second_executor_starts_its_own_server():
    _stop_server()
    for _ in range(2):
        with Executor(2, preload=["sievekit.scoring.warm_ngrams"]) as ex:
            assert all(warm for _, warm, _ in ex.map(_about_worker, [(0,), (1,)]))


KILLED_RUN = """
import os, sys, time
from sievekit.run.executor import Executor, _stop_server

def pid(_):
    return os.getpid()

if __name__ == "__main__":
    ex = Executor(2, preload=["sievekit.scoring.warm"]).__enter__()
    print(*sorted(set(ex.map(pid, [(i,) for i in range(8)]))), flush=True)
    time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:  # a zombie (exited, not yet reaped) is gone too
        return fh.read().split(")")[-1].split()[0] == "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_run_is_killed(tmp_path):
    import signal
    import subprocess

    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and all(not _gone(p) for p in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(_gone(p) for p in workers):
            time.sleep(0.1)
        assert all(_gone(p) for p in workers)  # no orphan keeps the fork server, or itself, alive
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_an_executor_that_could_not_start_its_server_gives_its_use_back(monkeypatch):
    """A failed ``__enter__`` has no ``__exit__``: the count of the server's users must not keep it, or no later
    executor of this process would stop its own server."""
    from multiprocessing import forkserver

    from sievekit.errors import ShardError
    from sievekit.run import executor

    before = executor._USERS[0]

    def no_tmp(preload):
        raise OSError(28, "No space left on device", "/tmp/pymp-x")

    monkeypatch.setattr(executor, "_context", no_tmp)
    with pytest.raises(ShardError), Executor(2):
        pass
    assert executor._USERS[0] == before
    monkeypatch.undo()
    with Executor(2) as ex:
        ex.map(_about_worker, [(0,)])
    assert forkserver._forkserver._forkserver_pid is None  # the later executor still stopped its server
