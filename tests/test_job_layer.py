"""The typed job layer: the library's commands called directly, one run contract for every command, every
written path planned and checked, options declared once. Each test names the defect it pins (issue 12)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

import sievekit
from sievekit import ConfigError, DedupeConfig, MethodSpec, ReadOptions, Rule, RunOptions, ScoreSource
from tests.conftest import DATA, pool_records, read_records


def _length() -> ScoreSource:
    return ScoreSource(methods=[MethodSpec("length", {})])


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


# -- 1. the library's idempotency comes from the typed job, not from the CLI's dict -------------------------
def test_library_rerun_with_another_rule_and_source_is_refused_naming_both(tmp_path):
    pool, out = [str(DATA / "pool.jsonl")], str(tmp_path / "out")
    first = sievekit.select(pool, out, rule=Rule("top_k", 3), source=_length())
    assert first.rows_out == 3 and not first.up_to_date
    with pytest.raises(ConfigError) as info:
        sievekit.select(pool, out, rule=Rule("top_k", 10), source=ScoreSource(methods=[MethodSpec("random", {})]))
    message = str(info.value)
    assert "rule.value: 3 then, 10 now" in message and "source.methods" in message and "overwrite" in message
    again = sievekit.select(pool, out, rule=Rule("top_k", 10), source=_length(), run=RunOptions(overwrite=True))
    assert again.rows_out == 10 and len(read_records(tmp_path / "out")) == 10


def test_how_a_run_goes_is_not_part_of_the_job(tmp_path):
    pool, out = [str(DATA / "pool.jsonl")], str(tmp_path / "out")
    sievekit.select(pool, out, rule=Rule("top_k", 4), source=_length())
    same = sievekit.select(pool, out, rule=Rule("top_k", 4), source=_length(), read=ReadOptions(batch_size=3),
                           run=RunOptions(jobs=2, split_mb=0.001))
    assert same.up_to_date and same.rows_out == 4


def test_a_changed_input_is_a_different_run(tmp_path):
    shard = tmp_path / "pool.jsonl"
    shutil.copy(DATA / "pool.jsonl", shard)
    sievekit.select([str(shard)], str(tmp_path / "out"), rule=Rule("top_k", 2), source=_length())
    shard.write_text(shard.read_text() + json.dumps({"id": "new", "text": "one more document"}) + "\n")
    with pytest.raises(ConfigError, match=r"inputs\[pool.jsonl\]\.size"):
        sievekit.select([str(shard)], str(tmp_path / "out"), rule=Rule("top_k", 2), source=_length())


# -- 2. the same run spelled differently is the same run ----------------------------------------------------
def test_trailing_slash_and_relative_spellings_are_the_same_run(invoke, tmp_path, monkeypatch):
    pool = tmp_path / "deduped"
    pool.mkdir()
    shutil.copy(DATA / "pool.jsonl", pool / "a.jsonl")
    args = ["--method", "length", "--top-k", "5", "-o", str(tmp_path / "sel")]
    assert invoke("select", pool, *args).exit_code == 0
    res = invoke("select", f"{pool}/", *args)
    assert res.exit_code == 0 and "nothing to do" in res.stderr, res.stderr
    monkeypatch.chdir(tmp_path)
    res = invoke("select", "./deduped//", *args)
    assert res.exit_code == 0 and "nothing to do" in res.stderr, res.stderr


def test_a_refused_run_names_what_differs_on_the_command_line(invoke, tmp_path):
    args = [DATA / "pool.jsonl", "--method", "length", "-o", tmp_path / "sel"]
    assert invoke("select", *args, "--top-k", "5").exit_code == 0
    res = invoke("select", *args, "--top-k", "6")
    assert res.exit_code == 2
    assert "rule.value: 5 then, 6 now" in res.stderr and "--overwrite" in res.stderr


def test_identical_stdin_runs_are_the_same_run(invoke, tmp_path):
    data = (DATA / "pool.jsonl").read_text()
    args = ["select", "-", "--method", "length", "--top-k", "3", "-o", tmp_path / "sel"]
    assert invoke(*args, input=data).exit_code == 0
    res = invoke(*args, input=data)
    assert res.exit_code == 0 and "nothing to do" in res.stderr
    res = invoke(*args, input=data.split("\n", 1)[1])
    assert res.exit_code == 2 and "sha256" in res.stderr


# -- 3. every written path is planned and checked before anything is written --------------------------------
@pytest.mark.parametrize("names", [("x.jsonl", "x.ndjson"), ("a.jsonl", "a.parquet")])
def test_two_shards_with_one_sidecar_name_are_refused(invoke, tmp_path, names):
    pool = tmp_path / "pool"
    pool.mkdir()
    for name in names:
        src = DATA / ("pool.parquet" if name.endswith(".parquet") else "pool.jsonl")
        shutil.copy(src, pool / name)
    res = invoke("score", pool, "--method", "length", "-o", tmp_path / "scores", "-j", "2")
    assert res.exit_code == 2, res.stderr
    assert all(name in res.stderr for name in names) and "would both be written" in res.stderr
    assert not (tmp_path / "scores").exists() or not any((tmp_path / "scores").iterdir())


def test_the_sidecar_reader_checks_its_shard_field(invoke, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    recs = pool_records()
    _write(pool / "a.jsonl", recs[:10])
    _write(pool / "b.jsonl", recs[:10])
    assert invoke("score", pool, "--method", "length", "-o", tmp_path / "s").exit_code == 0
    shutil.copy(tmp_path / "s" / "a.scores.jsonl", tmp_path / "s" / "b.scores.jsonl")  # same ids, wrong shard
    res = invoke("select", pool, "--scores", tmp_path / "s", "--top-k", "3", "-o", tmp_path / "sel")
    assert res.exit_code == 1 and "scores of shard 'a.jsonl', not of 'b.jsonl'" in res.stderr


def test_score_to_a_file_name_is_refused_not_made_a_directory(invoke, tmp_path):
    res = invoke("score", DATA / "pool.jsonl", "--method", "length", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2 and "must be a directory" in res.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_output_inside_an_input_directory_is_refused(invoke, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    shutil.copy(DATA / "pool.jsonl", pool / "a.jsonl")
    res = invoke("select", pool, "--method", "length", "--top-k", "2", "-o", pool / "picked")
    assert res.exit_code == 2 and "inside the input directory" in res.stderr
    assert not (pool / "picked").exists()


def test_report_html_over_an_input_is_refused(invoke, tmp_path):
    keep = tmp_path / "keep.jsonl"
    shutil.copy(DATA / "pool.jsonl", keep)
    before = keep.read_bytes()
    res = invoke("report", keep, "--html", keep)
    assert res.exit_code == 2 and "would overwrite" in res.stderr
    assert keep.read_bytes() == before


def test_dedupe_clusters_over_an_input_or_an_output_shard_is_refused(invoke, tmp_path):
    keep = tmp_path / "keep.jsonl"
    shutil.copy(DATA / "pool.jsonl", keep)
    before = keep.read_bytes()
    res = invoke("dedupe", keep, "-o", tmp_path / "out", "--clusters", keep)
    assert res.exit_code == 2 and "would overwrite" in res.stderr and keep.read_bytes() == before
    res = invoke("dedupe", keep, "-o", tmp_path / "out", "--clusters", tmp_path / "out" / "keep.jsonl")
    assert res.exit_code == 2 and "would both be written" in res.stderr


def test_a_refused_run_leaves_no_claim_on_the_directory(tmp_path):
    pool, out = [str(DATA / "pool.jsonl")], str(tmp_path / "out")
    with pytest.raises(ConfigError):  # refused inside the run: the method has no such option
        sievekit.select(pool, out, rule=Rule("top_k", 3),
                        source=ScoreSource(methods=[MethodSpec("zstd-ml", {"levle": 3})],
                                           target=[str(DATA / "target.jsonl")]))
    assert sievekit.select(pool, out, rule=Rule("top_k", 3), source=_length()).rows_out == 3


# -- 4. only io/ touches paths: fsspec URLs for dedupe too -------------------------------------------------
def test_dedupe_between_memory_urls(invoke):
    fsspec = pytest.importorskip("fsspec", reason="the remote extra (fsspec) is not installed")
    mem = fsspec.filesystem("memory")
    mem.store.clear()
    with mem.open("/dd-in/a.jsonl", "wb") as fh:
        fh.write((DATA / "pool.jsonl").read_bytes() * 2)  # every document twice: half are exact duplicates
    res = invoke("dedupe", "memory://dd-in", "-o", "memory://dd-out")
    assert res.exit_code == 0, res.stderr
    kept = mem.cat("/dd-out/a.jsonl").decode().splitlines()
    assert len(kept) <= len(pool_records()) and mem.exists("/dd-out/manifest.json")
    res = invoke("dedupe", "memory://dd-in", "-o", "memory://dd-out")
    assert res.exit_code == 0 and "nothing to do" in res.stderr
    mem.store.clear()


# -- 5. sievekit.dedupe is the function; the stages live in sievekit.duplicates -----------------------------
def test_dedupe_is_callable_after_importing_its_package(tmp_path):
    from sievekit.duplicates import DedupeConfig as Config  # noqa: F401 - the import is the point

    assert callable(sievekit.dedupe)
    result = sievekit.dedupe([str(DATA / "pool.jsonl")], str(tmp_path / "d"), config=DedupeConfig(threshold=0.7))
    assert result.extra["dedupe"]["documents_in"] == len(pool_records())


# -- 6. options declared once --------------------------------------------------------------------------------
def test_qualified_method_options_work_for_hyphenated_names(invoke, tmp_path):
    res = invoke("score", DATA / "pool.jsonl", "--method", "zstd-ml", "--method", "length", "--target",
                 DATA / "target.jsonl", "--zstd-ml.level", "5", "-o", tmp_path / "s")
    assert res.exit_code == 0, res.stderr
    state = json.loads((tmp_path / "s" / "state" / "zstd-ml.json").read_text())
    assert state["config"]["level"] == 5


def test_methods_lists_each_methods_options_from_its_config(invoke):
    from sievekit.selectors import available, get_selector

    res = invoke("methods")
    assert res.exit_code == 0 and all(name in res.stdout for name in available())
    res = invoke("methods", "zstd-ml")
    fields = dataclasses.fields(get_selector("zstd-ml").Config)
    assert res.exit_code == 0 and all("--" + f.name.replace("_", "-") in res.stdout for f in fields)
    res = invoke("methods", "nope")
    assert res.exit_code == 2 and "unknown method" in res.stderr
    assert "sievekit methods" in invoke("select", "--help").stdout


def test_dedupe_options_come_from_dedupe_config(invoke):
    import inspect

    from sievekit.cli.dedupe import dedupe_cmd

    params = inspect.signature(dedupe_cmd).parameters
    for f in dataclasses.fields(DedupeConfig):
        if f.name == "seed":
            continue
        default = params[f.name].default
        assert (default.value if hasattr(default, "value") else default) == f.default, f.name
    res = invoke("dedupe", "-h")
    assert res.exit_code == 0 and "--key-parts" in res.stdout and "--verify" in res.stdout


# -- 7. dedupe follows the run contract ------------------------------------------------------------------------
def test_dedupe_rerun_does_nothing_and_a_changed_one_is_refused(invoke, tmp_path):
    out = tmp_path / "out"
    assert invoke("dedupe", DATA / "pool.jsonl", "-o", out).exit_code == 0
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith(".")}
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", out)
    assert res.exit_code == 0 and "nothing to do" in res.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith(".")} == stamp
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", out, "--threshold", "0.7")
    assert res.exit_code == 2 and "config.threshold: 0.8 then, 0.7 now" in res.stderr
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", out, "--threshold", "0.7", "--overwrite")
    assert res.exit_code == 0, res.stderr
    assert json.loads((out / "manifest.json").read_text())["job"]["config"]["threshold"] == 0.7


def test_dedupe_over_fewer_inputs_leaves_no_stale_shards(invoke, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    recs = pool_records()
    _write(pool / "a.jsonl", recs[:20])
    _write(pool / "b.jsonl", recs[20:])
    out = tmp_path / "out"
    assert invoke("dedupe", pool, "-o", out).exit_code == 0
    os.remove(pool / "b.jsonl")
    assert invoke("dedupe", pool, "-o", out).exit_code == 2
    assert invoke("dedupe", pool, "-o", out, "--overwrite").exit_code == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["a.jsonl", "clusters.jsonl",
                                                                                   "manifest.json"]


def test_a_deleted_output_is_written_again_on_rerun(invoke, tmp_path):
    out = tmp_path / "sel"
    args = [DATA / "pool.jsonl", DATA / "pool.parquet", "--method", "length", "--top-k", "5", "-o", out]
    assert invoke("select", *args).exit_code == 0
    before = (out / "pool.parquet").read_bytes()
    (out / "pool.parquet").unlink()
    res = invoke("select", *args)
    assert res.exit_code == 0 and (out / "pool.parquet").read_bytes() == before


# -- the library's four commands, called directly --------------------------------------------------------------
def test_library_score_then_select_from_sidecars_then_report(tmp_path):
    pool = [str(DATA / "pool.jsonl.zst")]
    scored = sievekit.score(pool, str(tmp_path / "s"), methods=[MethodSpec("length", {}), MethodSpec("random", {})],
                            seed=3)
    assert scored.extra["methods"] == ["length", "random"] and scored.rows_in == len(pool_records())
    picked = sievekit.select(pool, str(tmp_path / "p"), rule=Rule("fraction", 0.25),
                             source=ScoreSource(methods=[MethodSpec("length", {})], sidecars=str(tmp_path / "s")))
    assert picked.rows_out == len(pool_records()) // 4
    data = sievekit.report([str(tmp_path / "p")], scores=None, by=None)
    assert data["total"]["rows"] == picked.rows_out and data["run"]["command"] == "select"
    lengths = sorted((len(r["text"]) for r in pool_records()), reverse=True)[:picked.rows_out]
    assert sorted((len(r["text"]) for r in read_records(tmp_path / "p")), reverse=True) == lengths


def test_library_errors_name_fields_and_the_cli_names_flags(invoke, tmp_path):
    with pytest.raises(ConfigError, match="stratify works with top_k or fraction"):
        Rule("threshold", 0.5, stratify="length")
    with pytest.raises(ConfigError, match="top_k must be a whole number"):
        Rule("top_k", 2.5)
    with pytest.raises(ConfigError, match="must be a finite number"):
        Rule("threshold", float("nan"))
    res = invoke("select", DATA / "pool.jsonl", "--method", "length", "--threshold", "0.5", "--stratify", "length")
    assert res.exit_code == 2 and "--stratify works with --top-k or --fraction" in res.stderr
    res = invoke("select", DATA / "pool.jsonl", "--method", "length", "--threshold", "nan", "-o", tmp_path / "o")
    assert res.exit_code == 2 and "--threshold must be a finite number" in res.stderr


def test_another_commands_directory_is_named_as_such(invoke, tmp_path):
    res = invoke("select", DATA / "pool.jsonl", "--method", "length", "--top-k", "3", "-o", tmp_path / "o")
    assert res.exit_code == 0
    res = invoke("dedupe", DATA / "pool.jsonl", "-o", tmp_path / "o")
    assert res.exit_code == 2 and "written by `sievekit select`, not `sievekit dedupe`" in res.stderr


def test_dedupe_clusters_beside_a_single_file_are_checked_too(invoke, tmp_path):
    keep = tmp_path / "kept.clusters.jsonl"  # an input that the clusters file of -o kept.jsonl would replace
    shutil.copy(DATA / "pool.jsonl", keep)
    before = keep.read_bytes()
    res = invoke("dedupe", keep, "-o", tmp_path / "kept.jsonl")
    assert res.exit_code == 2 and "would overwrite" in res.stderr and keep.read_bytes() == before
