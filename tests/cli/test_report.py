"""report's sections and formats: run counts, scores with Spearman, field mix, target lengths, md/html."""

from __future__ import annotations

import json

import numpy as np

from sievekit.reporting import stats
from tests.conftest import pool_records


def test_report_of_a_selection_shows_the_run(invoke, tmp_path, data_dir):
    out = tmp_path / "picked"
    invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "6", "-o", out)
    res = invoke("report", out, "--json")
    data = json.loads(res.stdout)
    assert data["run"]["command"] == "select"
    assert (data["run"]["rows_in"], data["run"]["rows_out"]) == (20, 6)
    assert "Run: sievekit select" in res.stderr


def test_report_scores_mix_and_target(invoke, tmp_path, data_dir):
    scores = tmp_path / "scores"
    invoke("score", data_dir / "pool.jsonl", "--method", "length", "--method", "random", "-o", scores)
    res = invoke("report", data_dir / "pool.jsonl", "--scores", scores, "--by", "domain", "--target",
                 data_dir / "target.jsonl", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    # bytes vs characters: the same order but for ties (many fixture texts are cut at 400 characters)
    assert data["scores"]["length"]["spearman_length"] > 0.8
    assert abs(data["scores"]["random"]["spearman_length"]) < 0.6
    domains = [r["domain"] for r in pool_records()]
    assert data["by"]["counts"] == {d: domains.count(d) for d in set(domains)}
    assert data["target"]["text_length"]["count"] == 5


def test_markdown_and_html(invoke, tmp_path, data_dir):
    res = invoke("report", data_dir / "pool.jsonl", "--by", "domain", "--markdown")
    assert res.stdout.startswith("# sievekit report") and "| shard | rows |" in res.stdout
    page = tmp_path / "r.html"
    res = invoke("report", data_dir / "pool.jsonl", "--by", "domain", "--score-field", "meta", "--html", page)
    assert res.exit_code == 0, res.stderr
    text = page.read_text()
    assert text.startswith("<!doctype html>") and text.count("<svg") >= 2 and "<script" not in text


def test_spearman_against_hand_values():
    assert stats.spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40])) == 1.0
    assert stats.spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == -1.0
    # ties share their average rank: x ranks 1, 2.5, 2.5, 4
    assert np.allclose(stats.rank_average(np.array([5.0, 7, 7, 9])), [1, 2.5, 2.5, 4])
    assert stats.spearman(np.array([1.0, np.nan, 3]), np.array([1.0, 2, 3])) is None


def test_report_of_a_dedupe_run(invoke, tmp_path, data_dir):
    pool = tmp_path / "pool.jsonl"
    lines = (data_dir / "pool.jsonl").read_text().splitlines()
    pool.write_text("\n".join(lines + lines[:3]) + "\n")  # three exact copies
    out = tmp_path / "deduped"
    assert invoke("dedupe", pool, "-o", out).exit_code == 0
    res = invoke("report", out, "--json", "--html", tmp_path / "r.html")
    dedupe = json.loads(res.stdout)["run"]["dedupe"]
    assert (dedupe["documents_in"], dedupe["documents_out"], dedupe["exact_duplicates"]) == (23, 20, 3)
    assert (dedupe["bands"], dedupe["rows"]) == (16, 8)
    curve = dict(zip(dedupe["s_curve"]["jaccard"], dedupe["s_curve"]["p_candidate"]))
    assert curve[0.8] >= 0.9 and curve[0.5] < 0.1
    assert "S-curve" in (tmp_path / "r.html").read_text()


def test_kl_reduction_of_a_selection_toward_the_target(invoke, tmp_path):
    from pathlib import Path

    demo = Path(__file__).parents[2] / "sievekit" / "demo"
    picked, rand = tmp_path / "picked", tmp_path / "random"
    invoke("select", demo / "pool", "--method", "dsir", "--target", demo / "target.jsonl", "--top-k", "150",
           "--min-length", "20", "-o", picked)
    invoke("select", demo / "pool", "--method", "random", "--top-k", "150", "-o", rand)
    kl = {}
    for name, out in (("dsir", picked), ("random", rand)):
        res = invoke("report", out, "--target", demo / "target.jsonl", "--json")
        assert res.exit_code == 0, res.stderr
        kl[name] = json.loads(res.stdout)["kl"]
    assert kl["dsir"]["kl_reduction"] > 0.2 > abs(kl["random"]["kl_reduction"])
    assert kl["dsir"]["kl_target_pool"] == kl["random"]["kl_target_pool"]
