"""The classifier's estimate of the pool's target-like share: recorded in its state, compared with the selection
by ``select`` (a line under -v, a manifest entry) and shown by ``report`` (table, JSON, Markdown, HTML)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sievekit.cli.main import app
from sievekit.selectors.classifier import ClassifierConfig, ClassifierSelector, share_boundary
from sievekit.selectors.share import best_of, share_sentence, share_summary

DEMO = Path(__file__).parents[2] / "sievekit" / "demo"
SMALL = ("--buckets", "65536", "--negatives-ratio", "3")  # a fit on the demo well under a second


def run(*args: object) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def select(out: Path, *extra: object) -> object:
    return run("select", DEMO / "pool", "--method", "classifier", "--target", DEMO / "target.jsonl", *SMALL,
               "-o", out, *extra)


@pytest.fixture(scope="module")
def picked(tmp_path_factory) -> tuple[Path, object]:
    """One classifier selection of 100 of the demo's 1,237 documents (about a quarter of them Python), run -v."""
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("share") / "picked"
    return out, select(out, "--top-k", "100", "-v")


# -- the rule, on hand-made cases ----------------------------------------------------------------------------
def test_share_boundary_is_the_quantile_of_the_pool_sample():
    scores = np.arange(10.0)  # 0 .. 9
    assert share_boundary(scores, 0.2) == pytest.approx(7.2)  # 20% of the sample above it: 8 and 9
    assert share_boundary(scores, 0.0) == 9.0 and share_boundary(scores, 1.0) == 0.0
    assert share_boundary(np.empty(0), 0.3) == 0.0


def test_summary_counts_the_estimate_on_the_pool():
    state = {"name": "classifier", "state": {"target_share": 0.5, "share_boundary": 0.55}}
    scores = np.array([0.9, 0.1, 0.7, 0.2, 0.6, 0.5])
    got = share_summary(state, scores, np.array([0, 1, 2, 5]))
    # half of 6 documents: the best three (0.9, 0.7, 0.6); of the kept, 0.9 and 0.7 are among them
    assert got == {"recorded": True, "estimate": 0.5, "boundary": 0.6, "pool_docs": 6, "pool_above": 3, "kept": 4,
                   "kept_above": 2}
    assert "reaches past what the pool holds" in share_sentence(got)  # 4 kept, 3 above in the whole pool
    fits = share_summary(state, scores, np.array([0, 2]))
    assert fits is not None and "reaches past" not in share_sentence(fits)


def test_a_zero_estimate_counts_no_document_and_flags_any_selection():
    # The sample's quantile put the boundary at its best score, below 32 pool documents: the count must
    # follow the share (0), not that boundary.
    state = {"name": "classifier", "state": {"target_share": 0.0, "share_boundary": 0.1}}
    got = share_summary(state, np.linspace(0, 1, 50), np.array([49, 48]))
    assert got is not None and got["pool_above"] == 0 and got["kept_above"] == 0 and got["boundary"] is None
    line = share_sentence(got)
    assert "estimates 0.00%" in line and "none of the 50 documents" in line and "reaches past" in line


def test_summary_of_an_old_state_and_of_other_methods():
    old = share_summary({"name": "classifier", "state": {"pu_share": 0.1}}, np.zeros(3), np.array([0]))
    assert old == {"recorded": False, "kept": 1}
    assert "not recorded" in share_sentence(old)
    assert share_summary({"name": "dsir", "state": {}}, np.zeros(3), np.array([0])) is None
    assert share_summary(None, np.zeros(3), np.array([0])) is None


# -- the classifier records it ---------------------------------------------------------------------------------
def test_the_fit_records_the_estimate_and_an_old_state_loads_without_it():
    pytest.importorskip("sklearn")
    target = [f"async def f{i}(u):\n    return await get(u, {i})" for i in range(20)]
    negatives = [f"the {w} sat on mat {i}" for i, w in zip(range(100), ["cat", "dog", "owl", "fox"] * 25)]
    negatives[3::10] = [f"async def g{i}(u):\n    return await get(u, {i})" for i in range(10)]  # 10% target-like
    sel = ClassifierSelector(ClassifierConfig(buckets=1 << 16, budget_docs=10))
    sel.fit_features(sel.featurize(target), sel.featurize(negatives), pool_docs=100)
    assert sel.target_share is not None and 0.05 <= sel.target_share <= 0.1
    above = sel.score_batch(negatives) > sel.share_boundary
    assert above.sum() == round(sel.target_share * 100) and above[3::10].sum() == above.sum()
    state = sel.state_dict()
    assert state["state"]["target_share"] == sel.target_share
    for key in ("target_share", "share_boundary"):  # a state saved by a sievekit that did not record them
        del state["state"][key]
    old = ClassifierSelector.from_state_dict(state)
    assert old.target_share is None and old.share_boundary is None
    assert np.array_equal(old.score_batch(negatives), sel.score_batch(negatives))
    assert old.fitted_state()["target_share"] is None


@pytest.mark.parametrize("options", [{"hard_negative_weight": 3.0}, {"penalty": "mix"}, {"bags": 2},
                                     {"min_df": 2}])
def test_every_model_records_an_estimate(options):
    pytest.importorskip("sklearn")
    target = [f"async def f{i}(u):\n    return await get(u, {i})" for i in range(20)]
    negatives = [f"the {w} sat on mat {i}" for i, w in zip(range(100), ["cat", "dog", "owl", "fox"] * 25)]
    negatives[3::10] = [f"async def g{i}(u):\n    return await get(u, {i})" for i in range(10)]
    sel = ClassifierSelector(ClassifierConfig(buckets=1 << 16, budget_docs=10, **options))
    sel.fit_features(sel.featurize(target), sel.featurize(negatives), pool_docs=100)
    assert sel.target_share is not None and 0.05 <= sel.target_share <= 0.15
    assert (sel.score_batch(negatives)[3::10] > sel.score_batch(negatives)[0]).all()


# -- select -v and report ------------------------------------------------------------------------------------
def test_select_verbose_shows_the_estimate_on_stderr(picked):
    out, res = picked
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    line = next(s for s in res.stderr.splitlines() if "target-like" in s)
    assert line.startswith("select: the classifier estimates ") and "of the 100 kept are among them" in line
    share = json.loads((out / "manifest.json").read_text())["target_share"]
    assert share["recorded"] and share["kept"] == 100 and share["pool_docs"] == 1237
    assert 0 < share["kept_above"] <= 100 and 0 < share["estimate"] < 0.5
    assert f"the best {share['pool_above']:,} of 1,237 documents" in line


def test_select_without_verbose_is_quiet_about_it_and_stdout_holds_records_only(tmp_path):
    pytest.importorskip("sklearn")
    res = select(Path("-"), "--top-k", "5")
    assert res.exit_code == 0, res.stderr
    assert "target-like" not in res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(records) == 5 and all(isinstance(r["text"], str) for r in records)
    res = select(Path("-"), "--top-k", "5", "-v")
    assert res.exit_code == 0 and "select: the classifier estimates" in res.stderr
    assert len(res.stdout.splitlines()) == 5 and "estimates" not in res.stdout


def test_a_budget_past_the_estimate_is_flagged(tmp_path):
    pytest.importorskip("sklearn")
    res = select(tmp_path / "all", "--top-k", "1000", "-v")
    assert res.exit_code == 0, res.stderr
    share = json.loads((tmp_path / "all" / "manifest.json").read_text())["target_share"]
    assert share["kept"] == 1000 and share["kept_above"] == share["pool_above"] < 1000
    assert "the selection reaches past what the pool holds, by this estimate" in res.stderr


def test_report_shows_the_estimate_in_every_format(picked, tmp_path):
    out, _ = picked
    recorded = json.loads((out / "manifest.json").read_text())["target_share"]
    res = run("report", out, "--json", "--no-pool")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["run"]["target_share"] == recorded
    assert "Target-like share of the pool" in res.stderr and "kept among them" in res.stderr
    res = run("report", out, "--markdown", "--no-pool", "-q")
    assert res.exit_code == 0 and f"| kept among them | {recorded['kept_above']:,} |" in res.stdout
    page = tmp_path / "r.html"
    res = run("report", out, "--no-pool", "--html", page, "-q")
    assert res.exit_code == 0, res.stderr
    html = page.read_text()
    assert "Target-like share of the pool" in html and f"<td>{100 * recorded['estimate']:.2f}%</td>" in html


def test_report_of_a_run_from_before_the_estimate_says_not_recorded(picked, tmp_path):
    out, _ = picked
    manifest = json.loads((out / "manifest.json").read_text())
    old = tmp_path / "old"
    old.mkdir()
    del manifest["target_share"]
    for key in ("target_share", "share_boundary"):
        del manifest["selector"]["state"][key]
    (old / "manifest.json").write_text(json.dumps(manifest))
    for shard in out.glob("part-*"):
        (old / shard.name).write_bytes(shard.read_bytes())
    res = run("report", old, "--json", "--no-pool")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["run"]["target_share"] == {"recorded": False, "kept": 100}
    assert "not recorded" in res.stderr


def test_other_methods_record_no_estimate(tmp_path, data_dir):
    out = tmp_path / "len"
    res = run("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "3", "-v", "-o", out)
    assert res.exit_code == 0, res.stderr
    assert "target-like" not in res.stderr
    assert "target_share" not in json.loads((out / "manifest.json").read_text())
    res = run("report", out, "--json", "--no-pool")
    assert "target_share" not in json.loads(res.stdout)["run"]


# -- which negatives the re-fit drops, through the CLI ---------------------------------------------------------
@pytest.mark.parametrize(("command", "rule", "source", "share"), [
    ("select", ("--top-k", "100"), "budget_docs", 1.5 * 100 / 1237),
    ("select", ("--sample", "100"), "budget_docs", 1.5 * 100 / 1237),
    ("select", ("--fraction", "0.1"), "budget_fraction", 1.5 * 0.1),
    ("select", ("--threshold", "0"), "estimate", None),
    ("score", (), "estimate", None),
])
def test_the_run_sets_the_refit_share(tmp_path, command, rule, source, share):
    pytest.importorskip("sklearn")
    out = tmp_path / "o"
    res = run(command, DEMO / "pool", "--method", "classifier", "--target", DEMO / "target.jsonl", *SMALL, *rule,
              "-q", "-o", out)
    assert res.exit_code == 0, res.stderr
    if command == "select":
        state = json.loads((out / "manifest.json").read_text())["selector"]
    else:
        state = json.loads((out / "state" / "classifier.json").read_text())
    fitted = state["state"]
    assert fitted["pu_share_source"] == source
    negatives = fitted["fit_stats"]["negatives"]
    if share is None:  # no budget: the first fit's out-of-fold estimate sets it (the demo is 25% Python)
        assert 0.05 < fitted["pu_share"] < 0.3
    else:
        assert fitted["pu_share"] == pytest.approx(share)
    assert fitted["fit_stats"]["pu_dropped"] == round(fitted["pu_share"] * negatives)


def test_a_selection_from_score_sidecars_shows_the_saved_estimate(tmp_path):
    pytest.importorskip("sklearn")
    scored = tmp_path / "scored"
    res = run("score", DEMO / "pool", "--method", "classifier", "--target", DEMO / "target.jsonl", *SMALL,
              "-o", scored)
    assert res.exit_code == 0, res.stderr
    res = run("select", DEMO / "pool", "--scores", scored, "--top-k", "50", "-o", tmp_path / "sel", "-v")
    assert res.exit_code == 0, res.stderr
    share = json.loads((tmp_path / "sel" / "manifest.json").read_text())["target_share"]
    assert share["recorded"] and share["kept"] == 50 and share["pool_docs"] == 1237
    assert "select: the classifier estimates" in res.stderr
    (scored / "state" / "classifier.json").write_text("{damaged")  # only the summary loses it: no error
    res = run("select", DEMO / "pool", "--scores", scored, "--top-k", "50", "-o", tmp_path / "sel2", "-v")
    assert res.exit_code == 0, res.stderr
    assert "target_share" not in json.loads((tmp_path / "sel2" / "manifest.json").read_text())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.5, 1.0, -2.0, float("nan")]) | st.floats(-5, 5), max_size=40),
       st.integers(0, 45))
def test_best_of_agrees_with_a_stable_full_sort(values, k):
    scores = np.array(values, dtype=np.float64)
    k = min(k, len(scores))
    mask, lowest = best_of(scores, k)
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    top = np.argsort(-ranked, kind="stable")[:k]
    assert sorted(np.flatnonzero(mask).tolist()) == sorted(top.tolist())
    assert lowest == (float(ranked[top[-1]]) if k else None)
