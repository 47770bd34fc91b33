"""The layout rule: `io` and `selectors` exist only inside the package, so the stdlib modules still resolve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_stdlib_io_and_selectors_resolve_from_repo_root():
    code = "import io, selectors, subprocess; print(getattr(io, '__file__', 'builtin'), selectors.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in out, out


def test_no_package_dirs_at_root():
    for name in ("io", "selectors", "cli", "compression"):
        assert not (ROOT / name).exists(), f"{name}/ must live inside sievekit/"


def test_python_dash_m_runs(tmp_path):
    res = subprocess.run([sys.executable, "-m", "sievekit", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0
    assert res.stdout.startswith("sievekit ")
