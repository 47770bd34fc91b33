"""The shipped job configs run as documented, and the example pipeline skips finished work on a re-run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("command,config,expected_rows", [
    ("select", "select-code-zstd-ml.toml", 200),
    ("select", "select-prose-dsir.toml", 100),
    ("dedupe", "dedupe-web.toml", None),
])
def test_job_config_runs_on_the_demo(invoke, monkeypatch, tmp_path, command, config, expected_rows):
    monkeypatch.chdir(ROOT)  # the configs name the demo by its path from the repository root
    out = tmp_path / "out"
    res = invoke(command, "--config", ROOT / "configs" / config, "-o", out)
    assert res.exit_code == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == command
    if expected_rows is not None:
        assert manifest["rows_out"] == expected_rows
    else:
        assert 0 < manifest["rows_out"] < manifest["rows_in"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_example_pipeline_reruns_nothing(tmp_path):
    sievekit = f"{sys.executable} -m sievekit"
    args = ["make", "-f", str(ROOT / "examples" / "pipeline.mk"), f"SIEVEKIT={sievekit}", f"WORK={tmp_path / 'w'}"]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "w" / "report.html").exists()
    selected = json.loads((tmp_path / "w" / "selected" / "manifest.json").read_text())
    assert selected["rows_out"] == 200
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout
