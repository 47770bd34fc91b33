"""Hostile round 6: a new user against the one-stream write in workers, single calls in workers, and the
classifier's own L2 solver.

Each test was a finding first (a failing test), then fixed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sievekit.errors import SievekitError
from sievekit.run.executor import Executor
from tests.conftest import DATA, one_error_line

POOL = DATA / "pool.jsonl"
TARGET = DATA / "target.jsonl"


# --- the one-stream write in workers: a scratch disk too small for a shard --------------------------------------


def _repetitive_pool(folder: Path, copies: tuple[int, ...]) -> Path:
    """Shards of ``copies`` copies of the fixture each: 40 make kept lines far larger than the limit below, 1 fits
    under it; the .zst output of all is small."""
    pool = folder / "pool"
    pool.mkdir()
    records = [json.loads(line) for line in POOL.read_text().splitlines() if line.strip()]
    for s, n in enumerate(copies):
        with open(pool / f"s{s}.jsonl", "w") as f:
            for c in range(n):
                for rec in records:
                    f.write(json.dumps({**rec, "id": f"{s}-{c}-{rec['id']}"}) + "\n")
    return pool


def _run_with_file_limit(args: list, cwd: Path, limit: int, env: dict) -> subprocess.CompletedProcess:
    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return subprocess.run([sys.executable, "-m", "sievekit", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, preexec_fn=set_limit, env={**os.environ, **env})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
@pytest.mark.parametrize("copies", [(40, 40, 40), (1, 40, 1, 40, 1, 1)], ids=["all-too-large", "some-too-large"])
def test_a_scratch_disk_too_small_for_a_shard_costs_the_workers_not_the_run(tmp_path, copies):
    """Found: with TMPDIR on a small disk (a 2 MB tmpfs; here a file size limit), `select -j 2 -o out.jsonl.zst`
    failed on the scratch file of the first shard, where -j 1 (which needs no scratch) wrote the output."""
    pool = _repetitive_pool(tmp_path, copies)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    limit = 200_000
    assert any(p.stat().st_size > limit for p in pool.iterdir())  # those shards' kept lines overflow the scratch
    outputs = []
    for jobs in (1, 2):
        out = tmp_path / f"kept-{jobs}.jsonl.zst"
        proc = _run_with_file_limit(["select", pool, "--method", "random", "--fraction", "1", "--seed", "1",
                                     "-j", jobs, "-o", out, "-q"], tmp_path, limit, {"TMPDIR": str(scratch)})
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and len(outputs[0]) < limit
    assert [p.name for p in scratch.iterdir() if p.name.startswith("sievekit-write-")] == []


# --- a worker that dies -------------------------------------------------------------------------------------------


def test_a_worker_that_dies_is_one_explained_error_not_a_traceback():
    """Found: a worker killed during a run (the OOM killer; here `kill -9` of a worker during the write of
    `select bench/data/realistic/pool -j 2 -o kept.jsonl.zst`) ended the run with concurrent.futures'
    BrokenProcessPool traceback."""
    with Executor(jobs=2) as ex, pytest.raises(SievekitError) as err:
        ex.map(os._exit, [(9,)])  # the worker ends without a word, as a killed one does
    assert err.value.exit_code == 1
    assert "worker" in err.value.message and err.value.hint and "-j" in err.value.hint


KILL_A_WORKER = """
import os, signal, sys
from sievekit.run import executor
real = executor.Executor.imap
def imap(self, fn, calls):
    if self.jobs > 1 and calls:
        pool = self._local()
        pid = pool.submit(os.getpid).result()
        os.kill(pid, signal.SIGKILL)  # one of the run's workers dies, as under the OOM killer
    return real(self, fn, calls)
executor.Executor.imap = imap
sys.argv = ["sievekit", *sys.argv[1:]]
from sievekit.cli.main import main
main()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_run_whose_worker_is_killed_says_so_in_one_line_and_resumes(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    for k in range(3):
        (pool / f"s{k}.jsonl").write_bytes(POOL.read_bytes())
    args = ["select", pool, "--method", "random", "--fraction", "0.5", "--seed", "1", "-j", "2",
            "-o", tmp_path / "kept.jsonl"]
    proc = subprocess.run([sys.executable, "-c", KILL_A_WORKER, *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "worker" in one_error_line(proc.stderr)
    assert not (tmp_path / "kept.jsonl").exists()
    again = subprocess.run([sys.executable, "-m", "sievekit", *map(str, args)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    serial = subprocess.run([sys.executable, "-m", "sievekit", *map(str, args[:-4]), "-j", "1", "-o", "-", "-q"],
                            capture_output=True, timeout=120)
    assert (tmp_path / "kept.jsonl").read_bytes() == serial.stdout


# --- the classifier's fit on extreme options ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Liblinear failed to converge")  # shown as a Warning: line before the error
@pytest.mark.parametrize("jit", ["1", "0"])
@pytest.mark.parametrize("option", [["--c", "1e300"], ["--hard-negative-weight", "1e300"]])
def test_a_fit_that_overflows_is_a_usage_error_not_an_empty_selection(invoke, monkeypatch, option, jit):
    """Found: `select pool.jsonl -m classifier -t target.jsonl --hard-negative-weight 1e300 --fraction 0.5`
    (both solvers) and `--c 1e300` printed numpy's "overflow encountered in cast" and exited 0 with an empty or
    arbitrary selection: the weights were inf or NaN."""
    pytest.importorskip("sklearn")
    monkeypatch.setenv("SIEVEKIT_JIT", jit)
    res = invoke("select", POOL, "--method", "classifier", "--target", TARGET, *option, "--fraction", "0.5",
                 "--seed", "1", "-o", "-")
    assert res.exit_code == 2, res.stderr
    line = one_error_line(res.stderr)
    assert option[0] in line or option[0] in res.stderr
    assert res.stdout == ""


# --- workers without a temporary directory ------------------------------------------------------------------------


NO_TEMP_DIR = """
import sys, tempfile
tempfile.tempdir = "/nonexistent/sievekit-tmp"  # no usable temporary directory (TMPDIR, /tmp ... all unusable)
sys.argv = ["sievekit", *sys.argv[1:]]
from sievekit.cli.main import main
main()
"""


def test_workers_without_a_temporary_directory_say_to_set_tmpdir():
    """Found: with no usable temporary directory, -j 1 runs, but `select pool.jsonl -j 2` said
    "Error: /tmp/pymp-x1y2: No such file or directory / Hint: check the path, its permissions and the free space":
    a folder the user never named (the worker pool's), and no way out."""
    args = ["select", POOL, "--method", "random", "--fraction", "0.5", "--seed", "1", "-o", "-", "-q"]
    serial = subprocess.run([sys.executable, "-c", NO_TEMP_DIR, *map(str, args), "-j", "1"], capture_output=True,
                            text=True, timeout=120)
    assert serial.returncode == 0, serial.stderr
    proc = subprocess.run([sys.executable, "-c", NO_TEMP_DIR, *map(str, args), "-j", "2"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "worker" in one_error_line(proc.stderr)
    assert "TMPDIR" in proc.stderr and "-j 1" in proc.stderr
    assert proc.stdout == ""


# --- what a killed write pass left ---------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["kept.jsonl", "kept/"])
def test_the_scratch_a_killed_write_left_goes_with_the_next_write_of_any_kind(tmp_path, output):
    """Found: `kill -9` of `select bench/data/realistic/pool --fraction 0.5 -j 2 -o kept.jsonl.zst` in its write
    pass left a rendered shard (27 MB) in $TMPDIR/sievekit-write-*, and the resumed run with -j 1 (or into a
    folder) finished without removing it: only another one-stream write with workers swept it."""
    from sievekit.io import tempdirs

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp / f"sievekit-write-{tempdirs.HOST}-{int(gone.stdout)}-abc123"  # a dead run's scratch folder
    left.mkdir()
    (left / "shard-000002.jsonl").write_bytes(POOL.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "sievekit", "select", POOL, "--method", "random", "--fraction",
                           "0.5", "--seed", "1", "-j", "1", "-o", tmp_path / output, "-q"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr
    assert not left.exists()


# --- numba without a place for its cache ---------------------------------------------------------------------------

# A read-only install (a container's site-packages) with a home numba cannot write to: numba finds no cache locator,
# and `numba.njit(cache=True)` raises RuntimeError when the module is imported. No locator but IPython's (which
# takes notebook cells only) is the same state, without root or read-only mounts.
NO_CACHE = {"NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}


def test_the_compiled_solver_compiles_where_numba_cannot_keep_a_cache():
    """Found: `unshare -m` with sievekit/ bind-mounted read-only and HOME on a read-only tmpfs: importing
    _jit_logreg raised "RuntimeError: cannot cache function '_splitmix': no locator available"."""
    pytest.importorskip("numba")
    code = ("import numpy as np\nfrom sievekit.selectors import logreg\nassert logreg.kernel() is not None\n"
            "w, b = logreg.fit_l2(np.array([0, 1, 2, 3, 4]), np.array([0, 0, 1, 1]), np.ones(4), 2,"
            " np.array([True, True, False, False]), 1.0)\nassert w[0] > 0 > w[1]\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **NO_CACHE})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("method", ["dsir", "classifier"])
def test_a_read_only_install_still_scores_with_the_compiled_featurizer(method):
    pytest.importorskip("numba")
    """Found: with no cache locator, importing _jit_ngrams raised RuntimeError (njit(cache=True)); its kernels now
    compile without the cache (sievekit/selectors/_jit.py), as the solver's do."""
    short = ["--min-length", "1"] if method == "dsir" else []  # the fixture's documents are short
    proc = subprocess.run([sys.executable, "-m", "sievekit", "select", str(POOL), "--method", method, "--target",
                           str(TARGET), "--top-k", "3", *short, "-o", "-", "-q"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **NO_CACHE})
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3


# --- an interrupt while a worker starts -----------------------------------------------------------------------------


def test_an_interrupt_while_a_worker_starts_does_not_hang_the_runs_end():
    """Found: Ctrl-C (or SIGTERM) one second into `select bench/data/realistic/pool/part-0005.jsonl -m classifier
    -t targets/latex.jsonl --top-k 100 -j 2` hung for good: the one call (the target's featurisation) had asked the
    fork server, still loading, for a worker; the interrupt cut ``Process.start`` short after the fork, so the pool
    never knew that worker, which kept the fork server alive, for which the run waited."""
    from sievekit.run import executor

    with pytest.raises(KeyboardInterrupt), Executor(jobs=2) as ex:  # noqa: PT012 - the run that is interrupted
        stray = executor._context(ex.preload).Process(target=time.sleep, args=(300,))
        stray.start()  # forked by the server, unknown to the pool: the worker whose start the interrupt cut short
        raise KeyboardInterrupt
    stray.join(30)
    assert not stray.is_alive()
