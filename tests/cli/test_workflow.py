"""score -> select as a workflow: several methods, sidecars and inline scores, reused state, re-runs."""

from __future__ import annotations

import json

import pytest

from sievekit.io import iter_decoded_chunks
from tests.conftest import pool_records, read_records


def sidecar(path) -> list[dict]:
    return [json.loads(x) for x in b"".join(iter_decoded_chunks(str(path))).decode().splitlines()]


def test_score_several_methods_into_one_sidecar(invoke, tmp_path, data_dir):
    out = tmp_path / "s"
    res = invoke("score", data_dir / "pool.jsonl", "--method", "length", "--method", "random", "--random.seed", "9",
                 "-o", out)
    assert res.exit_code == 0, res.stderr
    rows = sidecar(out / "pool.scores.jsonl")
    assert set(rows[0]) == {"shard", "row", "id", "length", "random"}
    assert json.loads((out / "state" / "random.json").read_text())["config"] == {"seed": 9}


def test_option_for_no_chosen_method_is_a_usage_error(invoke, data_dir):
    res = invoke("score", data_dir / "pool.jsonl", "--method", "length", "--seed-of-doom", "1")
    assert res.exit_code == 2 and "no chosen method has an option --seed-of-doom" in res.stderr


def test_inline_scores_keep_every_field(invoke, tmp_path, data_dir):
    out = tmp_path / "s"
    res = invoke("score", data_dir / "pool.jsonl", data_dir / "pool.parquet", "--method", "length", "--inline",
                 "-o", out)
    assert res.exit_code == 0, res.stderr
    for name in ("pool.jsonl", "pool.parquet"):
        records = read_records(out / name)
        source = read_records(data_dir / name)
        assert [{k: v for k, v in r.items() if k != "length"} for r in records] == source
        assert [r["length"] for r in records] == [len(r["text"].encode()) for r in source]


def test_select_from_sidecars_equals_select_on_the_fly(invoke, tmp_path, data_dir):
    scores = tmp_path / "scores"
    assert invoke("score", data_dir / "pool.jsonl.zst", "--method", "random", "--method", "length",
                  "-o", scores).exit_code == 0
    a = invoke("select", data_dir / "pool.jsonl.zst", "--scores", scores, "--method", "random", "--top-k", "7")
    b = invoke("select", data_dir / "pool.jsonl.zst", "--method", "random", "--top-k", "7")
    assert a.exit_code == b.exit_code == 0, a.stderr
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 7


def test_sidecar_with_two_columns_needs_a_method(invoke, tmp_path, data_dir):
    scores = tmp_path / "scores"
    invoke("score", data_dir / "pool.jsonl", "--method", "random", "--method", "length", "-o", scores)
    res = invoke("select", data_dir / "pool.jsonl", "--scores", scores, "--top-k", "7")
    assert res.exit_code == 2 and "pass --method" in res.stderr


def test_sidecar_of_other_data_is_refused(invoke, tmp_path, data_dir):
    scores = tmp_path / "scores"
    invoke("score", data_dir / "pool.jsonl", "--method", "length", "-o", scores)
    other = tmp_path / "in" / "pool.jsonl"
    other.parent.mkdir()
    recs = pool_records()[::-1]
    other.write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = invoke("select", other, "--scores", scores, "--top-k", "3", "-o", tmp_path / "o")
    assert res.exit_code == 1 and "sidecar's ids differ" in res.stderr
    assert not (tmp_path / "o" / "pool.jsonl").exists()


def test_select_by_a_numeric_field(invoke, tmp_path, data_dir):
    scored = tmp_path / "scored"
    invoke("score", data_dir / "pool.jsonl", "--method", "length", "--inline", "-o", scored)
    res = invoke("select", scored / "pool.jsonl", "--score-field", "length", "--top-k", "2")
    assert res.exit_code == 0, res.stderr
    lengths = sorted((len(r["text"].encode()) for r in pool_records()), reverse=True)
    assert sorted(json.loads(x)["length"] for x in res.stdout.splitlines()) == sorted(lengths[:2])


def test_state_reused_on_new_shards_gives_the_same_scores(invoke, tmp_path, data_dir):
    first = tmp_path / "day1"
    invoke("score", data_dir / "pool.jsonl", "--method", "random", "--seed", "3", "-o", first)
    res = invoke("score", data_dir / "pool.jsonl.gz", "--state", first, "-o", tmp_path / "day2")
    assert res.exit_code == 0, res.stderr
    a = sidecar(first / "pool.scores.jsonl")
    b = sidecar(tmp_path / "day2" / "pool.scores.jsonl.gz")
    assert [r["random"] for r in a] == [r["random"] for r in b]


def test_rerun_does_nothing_and_changed_run_is_refused(invoke, tmp_path, data_dir):
    out = tmp_path / "o"
    args = ["select", data_dir / "pool.jsonl", "--method", "random", "--top-k", "5", "-o", out]
    assert invoke(*args).exit_code == 0
    before = (out / "pool.jsonl").read_bytes(), (out / "manifest.json").read_bytes()
    res = invoke(*args)
    assert res.exit_code == 0 and "nothing to do" in res.stderr
    assert ((out / "pool.jsonl").read_bytes(), (out / "manifest.json").read_bytes()) == before
    res = invoke(*args[:-3], "6", "-o", out)
    assert res.exit_code == 2 and "holds the results of a different run" in res.stderr and "--overwrite" in res.stderr
    res = invoke(*args[:-3], "6", "-o", out, "--overwrite")
    assert res.exit_code == 0 and len(read_records(out / "pool.jsonl")) == 6


def test_interrupted_run_resumes_to_the_same_bytes(invoke, tmp_path, data_dir):
    clean = tmp_path / "clean"
    args = [data_dir / "pool.jsonl", data_dir / "pool.jsonl.gz", data_dir / "pool.parquet", "--method", "random",
            "--sample", "20", "--seed", "2"]
    assert invoke("select", *args, "-o", clean).exit_code == 0
    killed = tmp_path / "killed"
    assert invoke("select", *args, "-o", killed).exit_code == 0
    # Simulate a run killed after its first shard: the later shards and the manifest are missing.
    (killed / "manifest.json").unlink()
    (killed / "pool.jsonl.gz").unlink()
    (killed / "pool.parquet").unlink()
    fingerprint = json.loads((clean / "manifest.json").read_text())["fingerprint"]
    (killed / ".sievekit-run.json").write_text(json.dumps({"fingerprint": fingerprint}))
    res = invoke("select", *args, "-o", killed)
    assert res.exit_code == 0, res.stderr
    for name in ("pool.jsonl", "pool.jsonl.gz", "pool.parquet"):
        assert (killed / name).read_bytes() == (clean / name).read_bytes()
    assert json.loads((killed / "manifest.json").read_text())["rows_out"] == 20


def test_stratify_by_length_takes_every_band(invoke, tmp_path):
    pool = tmp_path / "p.jsonl"
    pool.write_text("".join(json.dumps({"text": "x" * n}) + "\n" for n in range(1, 41)))
    res = invoke("select", pool, "--method", "length", "--top-k", "4", "--stratify", "length", "--bins", "4")
    assert res.exit_code == 0, res.stderr
    # Bands of 10 lengths each; length as the score keeps the longest of every band.
    assert [len(json.loads(x)["text"]) for x in res.stdout.splitlines()] == [10, 20, 30, 40]


def test_stratify_by_field_keeps_each_values_share(invoke, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "random", "--fraction", "0.5", "--stratify",
                 "domain")
    kept = [json.loads(x)["domain"] for x in res.stdout.splitlines()]
    domains = [r["domain"] for r in pool_records()]
    for d in set(domains):
        assert abs(kept.count(d) - domains.count(d) / 2) <= 1


def test_stratify_needs_a_count(invoke, data_dir):
    res = invoke("select", data_dir / "pool.jsonl", "--method", "random", "--threshold", "0.5", "--stratify",
                 "length")
    assert res.exit_code == 2 and "--stratify works with --top-k or --fraction" in res.stderr


def test_target_without_method_uses_the_default(invoke, data_dir, monkeypatch):
    import sievekit.scoring.methods as scoring

    monkeypatch.setattr(scoring, "default_method", lambda: ("length", "because the test says so"))
    res = invoke("select", data_dir / "pool.jsonl", "--target", data_dir / "target.jsonl", "--top-k", "2",
                 "--dry-run")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["method"] == "length"
    assert "no --method given; ranking with length (because the test says so)" in res.stderr
    res = invoke("score", data_dir / "pool.jsonl", "--target", data_dir / "target.jsonl", "--dry-run")
    assert json.loads(res.stdout)["method"] == ["length"]


@pytest.mark.parametrize("missing, expected", [
    ((), "classifier"),
    (("sklearn",), "classifier"),  # our own solver fits the default L2 model
    (("numba",), "classifier"),  # scikit-learn's liblinear fits it
    (("sklearn", "numba"), "zstd-ml"),
    (("scipy",), "zstd-ml"),
])
def test_default_method_is_the_classifier_when_it_can_fit(monkeypatch, missing, expected):
    import importlib.util

    from sievekit.scoring.methods import default_method

    real = importlib.util.find_spec
    for name in ("scipy", "sklearn", "numba"):
        if real(name) is None:
            pytest.skip(f"{name} is not installed here")
    monkeypatch.delenv("SIEVEKIT_JIT", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))
    name, why = default_method()
    assert name == expected
    assert why is None if expected == "classifier" else "pip install 'sievekit[classifier]'" in why


def test_the_default_fit_runs_without_scikit_learn(monkeypatch, invoke, data_dir, tmp_path):
    """With scikit-learn unimportable, select --target (no --method) still ranks with the classifier."""
    import sys

    pytest.importorskip("numba")
    monkeypatch.delenv("SIEVEKIT_JIT", raising=False)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn raises ImportError
    res = invoke("select", data_dir / "pool.jsonl", "--target", data_dir / "target.jsonl", "--top-k", "3",
                 "-o", tmp_path / "kept.jsonl")
    assert res.exit_code == 0, res.output
    assert "ranking with classifier" in res.stderr
