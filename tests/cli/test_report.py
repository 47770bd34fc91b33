"""report's sections and formats: run counts, scores with Spearman, field mix, target lengths, md/html."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sievekit.reporting import stats
from tests.conftest import pool_records, read_records


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
    assert (dedupe["bands"], dedupe["rows"]) == (18, 7)  # exact verification: P(catch at t) >= 0.97
    curve = dict(zip(dedupe["s_curve"]["jaccard"], dedupe["s_curve"]["p_candidate"]))
    assert curve[0.8] >= 0.97 and curve[0.5] < 0.15
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


# -- the report's JSON, its errors, and hostile values --------------------------------------------------------
def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr and "\x1b" not in stderr
    return lines[0]


def test_json_carries_the_format_version(invoke, data_dir):
    res = invoke("report", data_dir / "pool.jsonl", "--json", "-q")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["format_version"] == 1


@pytest.mark.parametrize("option", ["--by", "--score-field"])
def test_a_field_no_record_has_is_a_usage_error_naming_the_fields(invoke, data_dir, tmp_path, option):
    page = tmp_path / "r.html"
    res = invoke("report", data_dir / "pool.jsonl", option, "domian", "--html", page)
    assert res.exit_code == 2
    line = _one_error_line(res.stderr)
    assert f'{option} "domian": no record has this field' in line and "domain" in line and "text" in line
    assert not page.exists()


def test_a_missing_raw_pool_is_a_one_line_error(invoke, data_dir, tmp_path):
    res = invoke("report", data_dir / "pool.jsonl", "--raw", tmp_path / "missing", "--json")
    assert res.exit_code == 2 and res.stdout == ""
    assert "--raw" in _one_error_line(res.stderr) and "missing" in res.stderr


def test_a_missing_sidecar_directory_is_a_one_line_error(invoke, data_dir, tmp_path):
    res = invoke("report", data_dir / "pool.jsonl", "--scores", tmp_path / "nope")
    assert res.exit_code == 2 and "--scores" in _one_error_line(res.stderr)


HOSTILE = ["[/]", "[link=https://evil.example]click[/link]", "<script>alert(1)</script>", "\x1b[31mred\x1b[0m",
           "\x1b]8;;https://evil.example\x07osc\x1b]8;;\x07", "two\nlines", "bidi\u202eoverride", "[bold]x"]


@pytest.fixture
def hostile_pool(tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    records = [{"id": str(i), "text": f"document number {i} " * (i + 1), "domain": HOSTILE[i % len(HOSTILE)],
                "\x1b[2Jkey[/]": i, "score": float(i)} for i in range(2 * len(HOSTILE))]
    (folder / "a\x1b[31m[bold]name.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_hostile_values_stay_inert_on_the_terminal_and_in_markdown(invoke, hostile_pool):
    res = invoke("report", hostile_pool, "--by", "domain", "--score-field", "score", "--markdown")
    assert res.exit_code == 0, res.stderr
    for stream in (res.stderr, res.stdout):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "[/]" in res.stderr and "[link=https://evil.example]click[/link]" in res.stderr  # shown as text
    assert "\\x1b[31mred" in res.stderr and "two\\nlines" in res.stderr and "\\u202e" in res.stderr
    assert "a\\x1b[31m[bold]name.jsonl" in res.stdout and "`\\x1b[2Jkey[/]`" in res.stdout


def test_hostile_values_are_escaped_in_the_page(invoke, hostile_pool, tmp_path):
    page = tmp_path / "r.html"
    res = invoke("report", hostile_pool, "--by", "domain", "--score-field", "score", "--html", page, "-q")
    assert res.exit_code == 0, res.stderr
    text = page.read_text()
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[31mred" in text


def test_a_field_named_like_markup(invoke, hostile_pool):
    res = invoke("report", hostile_pool, "--by", "\x1b[2Jkey[/]")
    assert res.exit_code == 0, res.stderr
    assert "Mix by \\x1b[2Jkey[/]" in res.stderr and "\x1b" not in res.stderr


def test_a_typo_error_shows_hostile_field_names_inert(invoke, hostile_pool):
    res = invoke("report", hostile_pool, "--by", "[/]nope")
    assert res.exit_code == 2
    assert "\\x1b[2Jkey[/]" in _one_error_line(res.stderr)


# -- a selection beside its pool -----------------------------------------------------------------------------
def _report(invoke, *args):
    res = invoke("report", *args, "--json", "-q")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _lengths(path):
    return sorted(len(r["text"]) for r in read_records(path))


def test_a_selection_shows_its_scores_over_the_pool_with_the_cut_off(invoke, tmp_path, data_dir):
    picked = tmp_path / "picked"
    assert invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "6", "-o", picked).exit_code == 0
    data = _report(invoke, picked, "--by", "domain")
    assert data["run"]["rule"] == {"kind": "top_k", "value": 6, "stratify": None}
    assert data["run"]["score"] == {"kind": "method", "name": "length"}
    assert (data["pool"]["rows"], data["pool"]["selected"]) == (20, 6)
    sel = data["selection"]["length"]
    assert sum(sel["histogram"]["selected"]) == 6 and sum(sel["histogram"]["not_selected"]) == 14
    assert sel["run_score"] and sel["cutoff"] == min(_lengths(picked))  # the length method scores characters
    assert data["scores"]["length"]["summary"]["count"] == 6  # the selection's own scores, not the pool's
    domains = [r["domain"] for r in pool_records()]
    assert data["by"]["pool"]["counts"] == {d: domains.count(d) for d in set(domains)}
    assert sum(data["by"]["counts"].values()) == 6


def _numbered_pool(tmp_path):
    """The test pool with a numeric field ``q`` (0 … 19)."""
    pool = tmp_path / "numbered.jsonl"
    pool.write_text("".join(json.dumps({**r, "q": i}) + "\n" for i, r in enumerate(pool_records())))
    return pool


def test_no_pool_skips_the_comparison(invoke, tmp_path, data_dir):
    picked = tmp_path / "picked"
    invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "6", "-o", picked)
    data = _report(invoke, picked, "--by", "domain", "--no-pool")
    assert "pool" not in data and "selection" not in data and "pool" not in data["by"]
    assert data["run"]["rows_out"] == 6
    res = invoke("report", picked, "--no-pool", "--raw", data_dir / "pool.jsonl")
    assert res.exit_code == 2 and "--no-pool" in _one_error_line(res.stderr)


def test_a_threshold_selection_cuts_at_its_threshold(invoke, tmp_path):
    picked = tmp_path / "picked"
    res = invoke("select", _numbered_pool(tmp_path), "--score-field", "q", "--threshold", "12.5", "-o", picked)
    assert res.exit_code == 0, res.stderr
    data = _report(invoke, picked)
    assert data["run"]["score"] == {"kind": "field", "name": "q"}
    assert data["selection"]["q"]["cutoff"] == 12.5
    assert sum(data["selection"]["q"]["histogram"]["selected"]) == 7  # q = 13 … 19


def test_sidecars_of_the_pool_report_the_selection_not_the_pool(invoke, tmp_path, data_dir):
    scores, picked = tmp_path / "scores", tmp_path / "picked"
    invoke("score", data_dir / "pool.jsonl", "--method", "length", "--method", "random", "-o", scores)
    res = invoke("select", data_dir / "pool.jsonl", "--scores", scores, "--method", "random", "--top-k", "5",
                 "-o", picked)
    assert res.exit_code == 0, res.stderr
    data = _report(invoke, picked, "--scores", scores)
    assert data["run"]["score"]["kind"] == "sidecars"
    assert {n: s["summary"]["count"] for n, s in data["scores"].items()} == {"length": 5, "random": 5}
    assert data["selection"]["random"]["cutoff"] is not None and data["selection"]["length"]["cutoff"] is None
    assert sum(data["selection"]["length"]["histogram"]["not_selected"]) == 15


def test_raw_is_the_pool_of_any_subset(invoke, tmp_path):
    pool = _numbered_pool(tmp_path)
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(pool.read_text().splitlines(keepends=True)[:4]))
    data = _report(invoke, subset, "--raw", pool, "--by", "domain", "--score-field", "q")
    assert (data["pool"]["rows"], data["pool"]["selected"]) == (20, 4)
    assert data["by"]["pool"]["rows"] == 20
    assert data["selection"]["q"]["cutoff"] is None  # no run: no rule to cut with
    assert sum(data["selection"]["q"]["histogram"]["selected"]) == 4


def test_heavy_tailed_scores_get_symlog_bins(invoke, tmp_path):
    rng = np.random.default_rng(0)
    pool = tmp_path / "pool.jsonl"
    values = -rng.lognormal(5, 2, size=300)  # like DSIR's log weights: most near 0, a long negative tail
    pool.write_text("".join(json.dumps({"text": f"doc {i}", "w": float(v)}) + "\n" for i, v in enumerate(values)))
    page = tmp_path / "r.html"
    data = json.loads(invoke("report", pool, "--score-field", "w", "--json", "--html", page, "-q").stdout)
    hist = data["scores"]["w"]["histogram"]
    assert hist["scale"] == "symlog" and max(hist["counts"]) < 0.5 * 300  # not one bar
    assert "symlog" in page.read_text()


def test_the_page_of_a_selection(invoke, tmp_path, data_dir):
    picked, page = tmp_path / "picked", tmp_path / "r.html"
    invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "6", "-o", picked)
    res = invoke("report", picked, "--by", "domain", "--target", data_dir / "target.jsonl", "--html", page, "-q")
    assert res.exit_code == 0, res.stderr
    text = page.read_text()
    assert text.count("<svg") >= 5 and "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "length over the pool: selected vs not" in text and "cut-off" in text and "not selected" in text
    assert "Mix by domain: pool vs selection" in text and "share of documents (%)" in text
    assert 'class="axis-title"' in text and 'class="tick"' in text and "<title>" in text
