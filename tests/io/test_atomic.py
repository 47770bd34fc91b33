"""Outputs appear under their final name only when complete: failures, Ctrl-C and SIGTERM leave nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sievekit.errors import SievekitError
from sievekit.io import atomic_path, open_output
from sievekit.io.jsonl import JsonlWriter


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(143)])
def test_failure_inside_leaves_no_file(tmp_path, exc):
    final = tmp_path / "out.jsonl.zst"
    with pytest.raises(type(exc)), open_output(str(final)) as enc:
        enc.write(b'{"text": "partial"}\n' * 1000)
        raise exc
    assert list(tmp_path.iterdir()) == []


def test_success_renames_and_leaves_no_temporary(tmp_path):
    with atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_text("{}")
        assert not (tmp_path / "a.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_select_failing_mid_run_leaves_no_final_shard(invoke, tmp_path, data_dir, monkeypatch):
    calls = {"n": 0}
    original = JsonlWriter._put  # where every batch's kept lines leave, copied or parsed

    def failing_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SievekitError("disk on fire")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JsonlWriter, "_put", failing_write)
    out = tmp_path / "out"
    res = invoke("select", data_dir / "pool.jsonl", data_dir / "pool.jsonl.gz", "--method", "length", "--fraction",
                 "1", "--batch-size", "4", "-o", out)
    assert res.exit_code == 1 and "disk on fire" in res.stderr
    assert not (out / "pool.jsonl").exists() and not (out / "manifest.json").exists()
    assert [p for p in out.iterdir() if ".tmp-" in p.name] == []


def test_sigterm_leaves_no_partial_output(tmp_path):
    """A real process killed while it writes: the output directory holds no partial shard."""
    src = tmp_path / "big.jsonl"
    with open(src, "w") as fh:
        for i in range(200_000):
            fh.write(json.dumps({"id": i, "text": f"document number {i} " * 5}) + "\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sievekit", "select", str(src), "--method", "length",
                             "--fraction", "1", "-o", str(out)], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.01)  # wait until the write pass has opened its temporary file
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (143, -signal.SIGTERM), (proc.returncode, stderr)
    assert b"Traceback" not in stderr
    assert not (out / "big.jsonl").exists() or proc.returncode == 0
    assert [p for p in os.listdir(out) if ".tmp-" in p] == []
