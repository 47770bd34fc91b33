"""select/score/report through the CLI: stdin and stdout, every format, config precedence, determinism."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sievekit.io import iter_decoded_chunks
from tests.conftest import POOL_FORMATS, pool_records, read_records


def lines(stdout: str) -> list[dict]:
    return [json.loads(x) for x in stdout.splitlines()]


@pytest.mark.parametrize("source", ["file", "stdin", "stdin-gzip", "stdin-zstd"])
def test_select_top_k_from_file_or_stdin(invoke, data_dir, source):
    body = (data_dir / "pool.jsonl").read_bytes()
    args = ["select", "--method", "length", "--top-k", "3"]
    if source == "file":
        res = invoke(*args, data_dir / "pool.jsonl")
    else:
        data = {"stdin": body, "stdin-gzip": gzip.compress(body),
                "stdin-zstd": zstandard.ZstdCompressor().compress(body)}[source]
        res = invoke(*args, "-", input=data)
    assert res.exit_code == 0, res.stderr
    kept = lines(res.stdout)
    by_len = sorted(pool_records(), key=lambda r: -len(r["text"].encode()))
    assert len(kept) == 3
    third = len(by_len[2]["text"].encode())
    assert {r["id"] for r in kept} <= {r["id"] for r in by_len if len(r["text"].encode()) >= third}
    assert "kept 3 of 20" in res.stderr


def test_kept_records_keep_every_field_and_input_order(invoke, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "random", "--fraction", "0.5", "--seed", "7")
    kept = lines(res.stdout)
    pool = pool_records()
    assert len(kept) == 10
    positions = [pool.index(r) for r in kept]  # every kept record equals an input record, fields and all
    assert positions == sorted(positions)


@pytest.mark.parametrize("name", POOL_FORMATS)
def test_directory_output_keeps_format_and_name(invoke, tmp_path, data_dir, name):
    out = tmp_path / "out"
    res = invoke("select", data_dir / name, "--method", "length", "--threshold", "399", "-o", out)
    assert res.exit_code == 0, res.stderr
    kept = read_records(out / name)
    source = read_records(data_dir / name)
    assert kept == [r for r in source if len(r["text"].encode()) >= 399]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows_in"] == 20 and manifest["rows_out"] == len(kept)
    assert manifest["inputs"][0]["rows"] == 20
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_single_file_output_with_compression(invoke, tmp_path, data_dir):
    out = tmp_path / "picked.jsonl.zst"
    res = invoke("select", data_dir / "pool.jsonl", data_dir / "pool.parquet", "--method", "length",
                 "--top-k", "40", "-o", out)
    assert res.exit_code == 0, res.stderr
    assert len(read_records(out)) == 40


def test_annotate_adds_score_and_rank(invoke, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "2", "--annotate")
    kept = lines(res.stdout)
    assert sorted(r["rank"] for r in kept) == [1, 2]
    assert all(r["score"] == len(r["text"].encode()) for r in kept)


def test_same_seed_same_bytes_and_jobs_do_not_matter(invoke, tmp_path, data_dir):
    outs = []
    for i, jobs in enumerate(["1", "1", "2"]):
        out = tmp_path / f"o{i}"
        res = invoke("select", data_dir / "pool.jsonl", data_dir / "pool.jsonl.gz", data_dir / "pool.jsonl.zst",
                     "--method", "random", "--sample", "9", "--seed", "5", "-j", jobs, "-o", out)
        assert res.exit_code == 0, res.stderr
        outs.append([(out / n).read_bytes() for n in ("pool.jsonl", "pool.jsonl.gz", "pool.jsonl.zst")])
    assert outs[0] == outs[1] == outs[2]
    other = tmp_path / "other"
    invoke("select", data_dir / "pool.jsonl", "--method", "random", "--sample", "9", "--seed", "6", "-o", other)
    assert (other / "pool.jsonl").read_bytes() != outs[0][0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(0, 25), seed=st.integers(0, 2**31))
def test_selection_is_an_ordered_subset_of_size_k(invoke, data_dir, k, seed):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "random", "--top-k", str(k), "--seed", str(seed))
    kept = lines(res.stdout)
    pool = pool_records()
    assert len(kept) == min(k, 20)
    positions = [pool.index(r) for r in kept]
    assert positions == sorted(set(positions))


def test_config_file_and_flag_precedence(invoke, tmp_path, data_dir):
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'inputs = ["{data_dir / "pool.jsonl"}"]\nmethod = "random"\ntop_k = 3\n[random]\nseed = 4\n')
    res = invoke("select", "--config", cfg, "--dry-run")
    resolved = json.loads(res.stdout)
    assert (resolved["top_k"], resolved["method_options"], resolved["seed"]) == (3, {"random": {"seed": 4}}, 0)
    res = invoke("select", "--config", cfg, "--top-k", "5", "--dry-run")
    assert json.loads(res.stdout)["top_k"] == 5
    res = invoke("select", "--config", cfg, "--top-k", "5")
    assert res.exit_code == 0 and len(lines(res.stdout)) == 5


def test_config_with_unknown_key_is_a_usage_error(invoke, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("topk = 3\n")
    res = invoke("select", "--config", cfg)
    assert res.exit_code == 2
    assert "unknown key 'topk'" in res.stderr and "top_k" in res.stderr


def test_config_with_bad_toml_or_value(invoke, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("top_k = \n")
    assert invoke("select", "--config", cfg).exit_code == 2
    cfg.write_text('top_k = "many"\n')
    res = invoke("select", "--config", cfg)
    assert res.exit_code == 2 and "top_k" in res.stderr


def test_score_writes_sidecars_state_and_manifest(invoke, tmp_path, data_dir):
    out = tmp_path / "scores"
    res = invoke("score", data_dir / "pool.jsonl.zst", data_dir / "pool.parquet", "--method", "length", "-o", out)
    assert res.exit_code == 0, res.stderr
    side = lines(b"".join(iter_decoded_chunks(str(out / "pool.scores.jsonl.zst"))).decode())
    assert [r["row"] for r in side] == list(range(20))
    assert [r["id"] for r in side] == [r["id"] for r in pool_records()]
    assert all(r["length"] == len(p["text"].encode()) for r, p in zip(side, pool_records()))
    assert (out / "pool.scores.jsonl").exists()
    assert json.loads((out / "state" / "length.json").read_text())["algorithm"] == "length_utf8_v1"
    assert json.loads((out / "manifest.json").read_text())["command"] == "score"


def test_score_to_stdout_with_jobs(invoke, data_dir):
    one = invoke("score", data_dir / "pool.jsonl", data_dir / "pool.jsonl.gz", "--method", "random")
    two = invoke("score", data_dir / "pool.jsonl", data_dir / "pool.jsonl.gz", "--method", "random", "-j", "2")
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout and len(one.stdout.splitlines()) == 40


def test_report_json_on_stdout_table_on_stderr(invoke, data_dir):
    res = invoke("report", data_dir / "pool.jsonl.zst", data_dir / "pool.parquet", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["total"]["rows"] == 40 and data["total"]["shards"] == 2
    assert data["shards"][0]["fields"] == {"domain": 20, "id": 20, "meta": 20, "source": 20, "text": 20}
    lengths = sorted(len(r["text"]) for r in pool_records())
    assert data["shards"][0]["text_length"]["p100"] == lengths[-1]
    assert data["shards"][0]["text_length"]["p0"] == lengths[0]
    assert "Shards" in res.stderr and "pool.parquet" in res.stderr


def test_manifest_order_is_stable_whatever_the_spelling(invoke, tmp_path, data_dir):
    (tmp_path / "sub").mkdir()
    for name in ("b.jsonl", "a.jsonl", "sub/c.jsonl"):
        (tmp_path / name).write_text(json.dumps({"text": name}) + "\n")
    orders = []
    for args in ([tmp_path], [tmp_path / "b.jsonl", str(tmp_path / "*.jsonl"), tmp_path / "sub" / "c.jsonl"],
                 [str(tmp_path / "sub" / "*.jsonl"), tmp_path / "a.jsonl", tmp_path / "b.jsonl",
                  tmp_path / "a.jsonl"]):
        res = invoke("report", *args, "--json")
        orders.append([s["name"] for s in json.loads(res.stdout)["shards"]])
    assert orders[0] == ["a.jsonl", "b.jsonl", "sub/c.jsonl"]
    assert orders[1] == orders[2] == ["a.jsonl", "b.jsonl", "c.jsonl"]


def test_broken_pipe_exits_quietly(data_dir):
    cmd = (f"{sys.executable} -m sievekit select {data_dir / 'pool.jsonl'} --method length --fraction 1 "
           f"--batch-size 1 | head -c 10")
    for _ in range(3):  # repeat: the pipe may close at different points
        res = subprocess.run(["bash", "-c", cmd + " >/dev/null"], capture_output=True, text=True)
        assert "Traceback" not in res.stderr and "Exception" not in res.stderr, res.stderr


def test_version_and_help(invoke):
    res = invoke("--version")
    assert res.exit_code == 0 and res.stdout.startswith("sievekit ")
    res = invoke("--help")
    for name in ("score", "select", "dedupe", "report"):
        assert name in res.stdout
    for name in ("score", "select", "dedupe", "report"):
        sub = invoke(name, "--help")
        assert sub.exit_code == 0 and "Example:" in sub.stdout


def test_an_output_directory_reads_back_as_input(invoke, tmp_path, data_dir):
    out = tmp_path / "out"
    assert invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "4", "-o", out).exit_code == 0
    res = invoke("report", out, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["total"]["rows"] == 4  # manifest.json is not mistaken for a shard
