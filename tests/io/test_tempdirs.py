"""Temporary folders named after their process: a new one sweeps the folders of dead processes of its prefix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sievekit.io import tempdirs


@pytest.fixture()
def tmpdir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # tempfile caches the directory it chose
    return tmp_path


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_a_dead_process_folder_is_swept_and_live_ones_and_others_kept(tmpdir_env):
    dead = tmpdir_env / f"sievekit-x-{tempdirs.HOST}-{_dead_pid()}-abc"
    live = tmpdir_env / f"sievekit-x-{tempdirs.HOST}-{os.getppid()}-abc"  # a running process (pytest's parent)
    other_host = tmpdir_env / f"sievekit-x-otherhost-{_dead_pid()}-abc"
    other_prefix = tmpdir_env / f"sievekit-y-{tempdirs.HOST}-{_dead_pid()}-abc"
    for folder in (dead, live, other_host, other_prefix):
        folder.mkdir()
        (folder / "f").write_text("x")
    made = tempdirs.make("sievekit-x-")
    assert os.path.dirname(made) == str(tmpdir_env)
    assert os.path.basename(made).startswith(f"sievekit-x-{tempdirs.HOST}-{os.getpid()}-")
    assert not dead.exists()
    assert live.exists() and other_host.exists() and other_prefix.exists()


def test_an_unwritable_temporary_directory_is_one_error(tmpdir_env, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmpdir_env / "missing"))
    monkeypatch.setattr("tempfile.tempdir", str(tmpdir_env / "missing"))
    with pytest.raises(Exception) as info:
        tempdirs.make("sievekit-x-")
    assert "TMPDIR" in str(getattr(info.value, "hint", "")) or "TMPDIR" in str(info.value)


def test_a_run_without_a_temporary_directory_still_shows_its_notices(monkeypatch, capsys):
    from sievekit.errors import ShardError
    from sievekit.io import notices

    def refuse(prefix: str) -> str:
        raise ShardError("/tmp: cannot make a temporary folder")

    monkeypatch.setattr(tempdirs, "make", refuse)
    notices.begin_run()  # no exception: the run goes on without a shared folder
    notices.warn_once("k", "a notice")
    notices.warn_once("k", "a notice")
    assert capsys.readouterr().err.count("Warning: a notice") == 1
