"""Fault injection: kill -9 a run at random points, re-run it, and get the bytes of an uninterrupted run.

Every command that writes a directory (select, score, dedupe with a work directory) is killed at seeded
random moments; the re-run must resume (or redo) to exactly the same data files, and no file under a final
name may ever be partial.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA, pool_records

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pool")
    texts = [r["text"] for r in pool_records()]
    rng = random.Random(7)
    for i in range(4):
        with open(root / f"part-{i}.jsonl", "w") as fh:
            for j in range(1200):
                words = texts[(i * 7 + j) % len(texts)].split()
                rng.shuffle(words)  # distinct documents, some near duplicates of each other
                fh.write(json.dumps({"id": f"{i}-{j}", "text": " ".join(words[: 50 + j % 200])}) + "\n")
    return root


COMMANDS = {
    "select": ["select", "{pool}", "--method", "zstd-ml", "--target", str(DATA / "target.jsonl"), "--top-k", "900",
               "-o", "{out}", "-j", "2"],
    "score": ["score", "{pool}", "--method", "zstd-ml", "--method", "length", "--target", str(DATA / "target.jsonl"),
              "-o", "{out}", "-j", "2"],
    "dedupe": ["dedupe", "{pool}", "--work-dir", "{out}-work", "-o", "{out}", "--threshold", "0.7", "-j", "2"],
}


def _run(args: list[str], pool: Path, out: Path, kill_after: float | None = None) -> int:
    argv = [sys.executable, "-m", "sievekit", *[a.format(pool=pool, out=out) for a in args], "-q"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        return 0
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()
    return proc.returncode


def _data_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.name != "manifest.json"}


def _no_partial_file(out: Path) -> None:
    for path in out.rglob("*"):
        if path.is_file() and path.suffix == ".jsonl" and not path.name.startswith("."):
            data = path.read_bytes()
            assert not data or data.endswith(b"\n"), f"{path} is partial"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_killed_runs_resume_to_the_same_bytes(pool, tmp_path, command):
    args = COMMANDS[command]
    reference = tmp_path / "reference"
    started = time.monotonic()
    _run(args, pool, reference)
    took = time.monotonic() - started
    expected = _data_files(reference)
    assert expected
    rng = random.Random(f"kill-{command}")
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        # Kill once or twice at seeded random moments across the run, then let it finish.
        for _ in range(1 + attempt % 2):
            _run(args, pool, out, kill_after=rng.uniform(0.1, took))
            if out.exists():
                _no_partial_file(out)
        _run(args, pool, out)
        assert _data_files(out) == expected, f"{command} killed and re-run differs (attempt {attempt})"
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["fingerprint"] == json.loads((reference / "manifest.json").read_text())["fingerprint"] \
            or command == "dedupe"  # dedupe's job names its own clusters path only when given


# SIGKILL inside each dedupe stage: the child process kills itself just before the named work-directory file
# is renamed into place (so its artefacts before it are whole, it and everything after it missing); each killed
# run resumes the one before and holds a tiny --memory-mb (the cluster arrays on disk), the last the default.
KILL_AT = {
    "sign": "sign/shard-00001.sig",
    "exact": "exact/rep.npy",
    "bucket": "bucket/band-003-part-00.npz",
    "cluster-verify": "cluster/edges/band-005-part-00.edges",
    "cluster-components": "cluster/labels.npy",
    "cluster-outputs": "cluster/clusters.jsonl",
    "filter": "shard-00001.json",
}
KILLER = """
import contextlib, os, signal, sys
from sievekit.duplicates import workdir
original, target = workdir.WorkDir.atomic, sys.argv[1]
@contextlib.contextmanager
def atomic(self, path):
    with original(self, path) as tmp:
        yield tmp
        if str(path).endswith(target) and (target != "shard-00001.json" or "/filter/" in str(path)):
            os.kill(os.getpid(), signal.SIGKILL)
workdir.WorkDir.atomic = atomic
sys.argv = ["sievekit", *sys.argv[2:]]
from sievekit.cli.main import main
main()
"""


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    texts = [r["text"] for r in pool_records()]
    rng = random.Random(9)
    for i in range(3):
        with open(root / f"part-{i}.jsonl", "w") as fh:
            for j in range(150):
                words = texts[(i * 5 + j) % len(texts)].split()
                if j % 3:
                    rng.shuffle(words[: len(words) // 10])  # near copies of another shard's document
                fh.write(json.dumps({"id": f"{i}-{j}", "text": " ".join(words[: 80 + j % 50])}) + "\n")
    return root


def _dedupe(pool: Path, out: Path, kill_at: str | None = None, memory_mb: str = "1024") -> int:
    args = ["dedupe", str(pool), "--work-dir", f"{out}-work", "-o", str(out), "--threshold", "0.7",
            "--memory-mb", memory_mb, "-q"]
    argv = [sys.executable, "-c", KILLER, kill_at, *args] if kill_at else [sys.executable, "-m", "sievekit", *args]
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == (-signal.SIGKILL if kill_at else 0), proc.stderr
    return proc.returncode


def _work_files(out: Path) -> dict[str, bytes]:
    work = Path(f"{out}-work") / "cluster"
    return {n: (work / n).read_bytes() for n in ("cluster.npy", "keep.npy", "jaccard.npy", "labels.npy",
                                                 "clusters.jsonl")}


def test_dedupe_killed_inside_every_stage_in_turn_resumes_to_the_same_bytes(small_pool, tmp_path):
    reference = tmp_path / "reference"
    _dedupe(small_pool, reference)
    out = tmp_path / "out"
    work = Path(f"{out}-work")
    for where, name in KILL_AT.items():  # each killed run resumes the one before, up to its own kill point
        _dedupe(small_pool, out, name, memory_mb="0.0001")
        target = work / name if where != "filter" else next(work.glob("filter/*/")) / name
        assert not target.exists() and list(target.parent.glob(f".{target.name}.tmp-*")), where  # killed there
        if out.exists():
            _no_partial_file(out)
    _dedupe(small_pool, out)
    expected = _data_files(reference)
    assert expected and any(name.endswith("clusters.jsonl") for name in expected)
    assert _data_files(out) == expected and _work_files(out) == _work_files(reference)
