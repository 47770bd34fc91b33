"""The page in a real browser: headless Chromium parses it and draws it (skipped where Chromium is missing;
Debian: apt-get install chromium). scripts/report_screenshots.sh makes the screenshots in docs/."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root with its sandbox
    offline = ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]  # a fetch would fail
    return subprocess.run([str(CHROMIUM), "--headless", "--disable-gpu", *sandbox, *offline, *args],
                          capture_output=True, text=True, timeout=90)


def test_the_page_of_a_selection_draws_in_chromium(invoke, tmp_path, data_dir):
    picked, page, shot = tmp_path / "picked", tmp_path / "r.html", tmp_path / "shot.png"
    invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "6", "-o", picked)
    res = invoke("report", picked, "--by", "domain", "--target", data_dir / "target.jsonl", "--html", page, "-q")
    assert res.exit_code == 0, res.stderr
    dom = _chromium("--dump-dom", page.as_uri()).stdout
    assert dom.count("<svg") >= 5 and "cut-off" in dom and "Mix by domain: pool vs selection" in dom
    _chromium("--hide-scrollbars", "--window-size=1240,1400", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
