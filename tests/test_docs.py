"""Meta tests: every command is in the README and has help with an example; exports are sorted and real."""

from __future__ import annotations

from pathlib import Path

import sievekit

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_every_command_is_documented(invoke):
    for name in ("score", "select", "dedupe", "report"):
        assert f"sievekit {name}" in README
        res = invoke(name, "--help")
        assert res.exit_code == 0 and "Example:" in res.stdout


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_exit_codes_are_documented(invoke):
    assert "0 success" in README and "2 usage error" in README
    assert "2 usage error" in invoke("--help").stdout


def test_all_is_sorted_and_importable():
    assert sievekit.__all__ == sorted(sievekit.__all__)
    for name in sievekit.__all__:
        assert hasattr(sievekit, name), name


def test_demo_corpus_ships_with_the_package():
    demo = Path(sievekit.__file__).parent / "demo"
    assert sorted(p.name for p in (demo / "pool").iterdir()) == [
        "part-0000.jsonl.zst", "part-0001.jsonl.zst", "part-0002.jsonl.zst", "part-0003.parquet"]
    assert (demo / "target.jsonl").stat().st_size > 0
    assert (demo / "README.md").exists()


def test_the_readme_library_example_runs(tmp_path, monkeypatch, capsys):
    block = README.split("## Library", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(block.replace('"sievekit/demo', f'"{ROOT}/sievekit/demo'), "README.md", "exec"), {})
    assert capsys.readouterr().out.split()[:2] == ["200", "False"]
    exec(compile(block.replace('"sievekit/demo', f'"{ROOT}/sievekit/demo'), "README.md", "exec"), {})
    assert capsys.readouterr().out.split()[:2] == ["200", "True"]  # the same job again: nothing to do


def test_help_renders_brackets_and_every_shared_option(invoke):
    """Typer is pinned to a tested range: its help must keep bracketed text and list the shared options."""
    for name in ("score", "select", "dedupe", "report"):
        res = invoke(name, "-h")
        assert res.exit_code == 0, res.stderr
        for flag in ("--text-field", "--on-bad-record", "--config", "--dry-run", "--progress-interval", "--quiet"):
            assert flag in res.stdout, (name, flag)
    assert "sievekit[ray]" in invoke("select", "--help").stdout.replace("\n", "").replace("│", "").replace(" ", "")
