"""Hostile round 8, against ``report`` and ``score`` (the least-tested commands): odd inputs a new user tries.

- ``report --scores`` with the sidecars of another pool of the same shape (shard names and row counts alike, other
  documents) showed their scores as these documents' (``select`` already refused them by their ids).
- An output that exists and is not a regular file was replaced by the atomic rename: ``report --html /dev/full``
  (as root) made the device a regular file, and ``select -o pipe.jsonl`` a named pipe; both said nothing.
- ``report --target T --raw POOL`` of an empty selection (or with an empty pool or target) was a traceback from
  the KL section (a side with no n-grams); the KL values that are not defined are null now, with the reason.
- ``report --html DIR`` or ``--html ""`` was a traceback; ``--html -`` wrote a file named ``-``; ``--json`` and
  ``--markdown`` together printed both, one after the other, on stdout.
"""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from tests.conftest import DATA, one_error_line

POOL = DATA / "pool.jsonl"


def _other_pool_of_the_same_shape(tmp_path):
    """``pool.jsonl`` with the same row count and other ids (another day's crawl, say)."""
    other = tmp_path / "other" / "pool.jsonl"
    other.parent.mkdir()
    rows = [json.loads(line) for line in (DATA / "pool.jsonl").read_text().splitlines()]
    other.write_text("".join(json.dumps({**r, "id": f"other-{i}"}) + "\n" for i, r in enumerate(rows)))
    return other


def test_report_refuses_the_sidecars_of_another_pool_of_the_same_shape(invoke, tmp_path):
    scores = tmp_path / "scores"
    assert invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", scores).exit_code == 0
    other = _other_pool_of_the_same_shape(tmp_path)
    res = invoke("report", other, "--scores", scores, "--json", "-q")
    assert res.exit_code == 1, res.output
    line = one_error_line(res.stderr)
    assert "pool.scores.jsonl" in line and "ids" in line
    assert "sievekit score" in res.stderr  # the hint: score these inputs
    assert res.stdout == ""


def test_report_still_takes_the_sidecars_of_its_own_inputs(invoke, tmp_path):
    scores = tmp_path / "scores"
    assert invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", scores).exit_code == 0
    res = invoke("report", DATA / "pool.jsonl", "--scores", scores, "--json", "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["scores"]["length"]["summary"]["count"] == 20


def test_report_html_onto_a_named_pipe_is_refused_and_the_pipe_stays(invoke, tmp_path):
    pipe = tmp_path / "page.html"
    os.mkfifo(pipe)
    res = invoke("report", POOL, "--html", pipe, "-q")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.stderr)
    assert "--html" in line and str(pipe) in line and "named pipe" in line
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_select_onto_a_named_pipe_is_refused_and_the_pipe_stays(invoke, tmp_path):
    pipe = tmp_path / "kept.jsonl"
    os.mkfifo(pipe)
    res = invoke("select", POOL, "--method", "length", "--top-k", "3", "-o", pipe, "--overwrite")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.stderr)
    assert "-o/--output" in line and str(pipe) in line and "named pipe" in line
    assert "--output - and redirect" in res.stderr  # the hint: stdout, redirected into the pipe
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.jsonl"]


@pytest.mark.parametrize("name", ["", "DIR", "DIR/", "page/"])
def test_report_html_that_names_no_file_is_a_usage_error(invoke, tmp_path, name):
    (tmp_path / "DIR").mkdir()
    html = f"{tmp_path}/{name}" if name else ""  # not a Path: it would drop the trailing slash
    res = invoke("report", POOL, "--html", html, "-q")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.stderr)
    assert "--html" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIR"] and not any((tmp_path / "DIR").iterdir())


def test_report_html_dash_prints_the_page_on_stdout(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("report", POOL, "--html", "-", "-q")
    assert res.exit_code == 0, res.output
    assert res.stdout.lstrip().lower().startswith("<!doctype html") and res.stdout.rstrip().endswith("</html>")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("both", [["--json", "--markdown"], ["--json", "--html", "-"], ["--markdown", "--html", "-"]])
def test_report_prints_one_format_on_stdout(invoke, both, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ``--html -`` once wrote a file named ``-`` here
    res = invoke("report", POOL, *both, "-q")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.stderr)
    assert all(flag in line for flag in both if flag != "-")
    assert res.stdout == "" and list(tmp_path.iterdir()) == []


def test_no_writer_replaces_a_named_pipe(tmp_path):
    # the last line of defence, for every output the commands' own checks do not name (states, clusters, ...)
    from sievekit.errors import ShardError
    from sievekit.io.streams import atomic_path

    pipe = tmp_path / "out.json"
    os.mkfifo(pipe)
    with pytest.raises(ShardError, match="named pipe"), atomic_path(pipe) as tmp:
        tmp.write_text("{}")
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


@pytest.mark.parametrize(("empty", "defined"), [
    ("selection", ["kl_target_pool"]), ("pool", ["kl_target_selected"]), ("target", []),
])
def test_report_kl_with_an_empty_side_says_what_is_not_defined(invoke, tmp_path, empty, defined):
    nothing = tmp_path / "empty.jsonl"
    nothing.write_text("")
    sides = {"selection": POOL, "pool": POOL, "target": DATA / "target.jsonl", empty: nothing}
    res = invoke("report", sides["selection"], "--target", sides["target"], "--raw", sides["pool"], "--json", "-q")
    assert res.exit_code == 0, res.output
    kl = json.loads(res.stdout)["kl"]
    for key in ("kl_target_pool", "kl_target_selected", "kl_reduction"):
        assert (kl[key] is not None) == (key in defined), kl
    assert empty in kl["unavailable"]
    table = invoke("report", sides["selection"], "--target", sides["target"], "--raw", sides["pool"])
    assert table.exit_code == 0 and "Traceback" not in table.stderr
    assert f"not defined: no n-grams in the {empty}" in " ".join(table.stderr.split())


@pytest.fixture
def cli_handlers():
    """The handlers `sievekit` installs at its start (``main``), restored after the test."""
    import signal

    from sievekit.cli import stopping

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping.install()
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class _Finalised:
    fired = False

    def __del__(self):
        if _Finalised.fired:  # once: the traceback the hook is handed holds this frame, and its end runs
            return  # the finaliser again
        _Finalised.fired = True
        import signal

        signal.raise_signal(signal.SIGINT)  # Ctrl-C, handled at the next instruction: inside this finaliser
        for _ in range(1000):
            pass


@pytest.fixture(autouse=True)
def _finaliser_fires_once_per_test():
    _Finalised.fired = False


def test_ctrl_c_inside_a_finaliser_still_stops_the_run(invoke, tmp_path, monkeypatch, cli_handlers):
    # seen live: Ctrl-C in llvmlite's ctypes callback printed "Exception ignored ... KeyboardInterrupt" and the
    # score run went on to finish with exit 0
    from sievekit.selectors.baseline import LengthSelector

    original = LengthSelector.score_batch

    def score_batch(self, texts):
        _Finalised()
        time.sleep(0.5)  # the rest of a long run: the stop is raised again within it
        return original(self, texts)

    monkeypatch.setattr(LengthSelector, "score_batch", score_batch)
    out = tmp_path / "scores"
    res = invoke("score", POOL, "--method", "length", "-o", out)
    assert res.exit_code != 0, res.output
    assert "score: interrupted" in res.stderr and "Exception ignored" not in res.stderr
    assert not (out / "manifest.json").exists()
