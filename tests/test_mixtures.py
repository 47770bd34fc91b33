"""Target mixtures: PATH:SHARE parsing (paths with colons stay paths), the draft's quotas met within one
document, no document counted twice, and the command end to end (-j 1 and -j 2 alike)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sievekit
from sievekit import ConfigError, MethodSpec, Rule, ScoreSource
from sievekit.rules import mixture
from sievekit.scoring.source import parse_target, parse_targets
from tests.conftest import read_records


# -- parsing ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "parsed"), [
    ("code.jsonl:0.7", ("code.jsonl", 0.7)),
    ("dir/*.jsonl:3", ("dir/*.jsonl", 3.0)),
    ("t.jsonl:.5", ("t.jsonl", 0.5)),
    ("t.jsonl:1e-1", ("t.jsonl", 0.1)),
    ("C:/data/t.jsonl", ("C:/data/t.jsonl", None)),
    ("C:\\data\\t.jsonl", ("C:\\data\\t.jsonl", None)),
    ("C:\\data\\t.jsonl:0.25", ("C:\\data\\t.jsonl", 0.25)),
    ("hf://datasets/org/name/x.parquet", ("hf://datasets/org/name/x.parquet", None)),
    ("hf://datasets/org/name:0.5", ("hf://datasets/org/name", 0.5)),
    ("a:b.jsonl", ("a:b.jsonl", None)),
    ("t.jsonl:", ("t.jsonl:", None)),
    (":0.5", (":0.5", None)),
])
def test_only_a_trailing_number_is_a_share(spec, parsed):
    assert parse_target(spec) == parsed


def test_an_existing_file_named_like_a_share_is_a_path(tmp_path):
    weird = tmp_path / "t.jsonl:2"
    weird.write_text('{"text": "x"}\n')
    assert parse_target(str(weird)) == (str(weird), None)
    (tmp_path / "t.jsonl").write_text('{"text": "x"}\n')  # now both exist: the share reading wins
    assert parse_target(str(weird)) == (str(tmp_path / "t.jsonl"), 2.0)


def test_every_target_has_a_share_or_none():
    assert parse_targets(["a.jsonl", "b.jsonl"]) == (["a.jsonl", "b.jsonl"], None)
    assert parse_targets(["a.jsonl:1", "b.jsonl:3"]) == (["a.jsonl", "b.jsonl"], [1.0, 3.0])
    with pytest.raises(ConfigError, match="b.jsonl has none"):
        parse_targets(["a.jsonl:1", "b.jsonl"])


def test_score_source_checks_its_shares():
    spec = [MethodSpec("zstd-ml", {})]
    assert ScoreSource(methods=spec, target=["a", "b"], proportions=[7, 3]).shares == [0.7, 0.3]
    assert ScoreSource(methods=spec, target=["a", "b"]).shares is None
    with pytest.raises(ConfigError, match="one share per target"):
        ScoreSource(methods=spec, target=["a", "b"], proportions=[1.0])
    with pytest.raises(ConfigError, match="positive"):
        ScoreSource(methods=spec, target=["a", "b"], proportions=[1.0, 0.0])
    with pytest.raises(ConfigError, match="fits its method on each target"):
        ScoreSource(field="s", target=["a", "b"], proportions=[1.0, 1.0])


# -- the draft --------------------------------------------------------------------------------------------
def test_a_document_two_targets_want_goes_to_the_one_that_reaches_it_first():
    a = np.array([9.0, 8.0, 1.0, 0.0])
    b = np.array([9.0, 0.0, 1.0, 8.0])
    kept, owner = mixture.mix([a, b], [0.5, 0.5], 2)
    assert owner.tolist() == [0, -1, -1, 1]  # b's best (doc 0) was taken by a, which drafted first (tie: lower)
    kept, owner = mixture.mix([a, b], [0.25, 0.75], 4)  # quotas 1 and 3; a drafts first (both at 0: lower)
    assert owner.tolist() == [0, 1, 1, 1]
    kept, owner = mixture.mix([a, b], [0.25, 0.75], 8)  # quotas 2 and 6: after a's doc 0, b (0/6) is behind
    assert owner.tolist() == [0, 1, 1, 1] and mixture.quotas([0.25, 0.75], 8) == [2, 6]


def test_quotas_split_documents_by_largest_remainder():
    assert mixture.quotas([0.7, 0.3], 10) == [7, 3]
    assert mixture.quotas([1, 1, 1], 5) == [2, 2, 1]
    assert sum(mixture.quotas([0.2, 0.5, 0.3], 7)) == 7


scores_st = st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, float("nan")]), min_size=30, max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(scores_st, min_size=1, max_size=3), st.data())
def test_document_quotas_are_met_exactly_and_nothing_is_counted_twice(per_target, data):
    scores = [np.array(s) for s in per_target]
    shares = data.draw(st.lists(st.floats(0.05, 1.0), min_size=len(scores), max_size=len(scores)))
    total = data.draw(st.integers(0, 30))
    kept, owner = mixture.mix(scores, shares, total)
    assert kept.tolist() == np.flatnonzero(owner >= 0).tolist()
    quota = mixture.quotas(shares, total)
    for k, s in enumerate(scores):
        mine = np.flatnonzero(owner == k)
        assert np.isfinite(s[mine]).all()
        # exactly its quota, unless it ran out of documents no other target took
        free = np.isfinite(s) & ((owner == -1) | (owner == k))
        assert len(mine) == min(quota[k], len(mine) + int((free & (owner == -1)).sum()))
        # its documents are its own best among those not taken by others (by score, ties by position)
        order = np.flatnonzero(free)[np.argsort(-s[free], kind="stable")]
        assert sorted(order[: len(mine)].tolist()) == mine.tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(scores_st, min_size=1, max_size=3), st.lists(st.integers(0, 40), min_size=30, max_size=30),
       st.integers(0, 600), st.data())
def test_token_quotas_are_met_within_one_document(per_target, sizes, budget, data):
    scores = [np.array(s) for s in per_target]
    counts = np.array(sizes)
    shares = data.draw(st.lists(st.floats(0.05, 1.0), min_size=len(scores), max_size=len(scores)))
    kept, owner = mixture.mix(scores, shares, budget, counts)
    for k, s in enumerate(scores):
        quota = budget * shares[k] / sum(shares)
        spent = int(counts[owner == k].sum())
        assert spent <= quota + 1e-9
        finite = np.flatnonzero(np.isfinite(s))
        ranking = finite[np.argsort(-s[finite], kind="stable")].tolist()
        free = [i for i in ranking if owner[i] == -1]
        if free:  # it stopped at a document (free, or taken later by another target) that would cross its quota
            last = max((ranking.index(i) for i in np.flatnonzero(owner == k)), default=-1)
            passed = ranking[last + 1: ranking.index(free[0]) + 1]
            assert any(spent + counts[i] > quota for i in passed if owner[i] != k)


# -- the command ------------------------------------------------------------------------------------------
@pytest.fixture
def targets(tmp_path, data_dir):
    recs = [json.loads(x) for x in (data_dir / "pool.jsonl").read_text().splitlines()]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in recs[:4]))
    b.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in recs[-4:]))
    return a, b


def test_mixture_through_the_cli_meets_its_shares(invoke, tmp_path, data_dir, targets):
    a, b = targets
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        result = invoke("select", data_dir / "pool.jsonl", data_dir / "pool.parquet", "--method", "zstd-ml",
                        "--target", f"{a}:0.7", "--target", f"{b}:0.3", "--top-k", "10", "--annotate", "-j", jobs,
                        "-o", out)
        assert result.exit_code == 0, result.output
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "manifest.json"})
    manifest = json.loads((tmp_path / "out1" / "manifest.json").read_text())
    assert [(m["target"], m["share"], m["documents"]) for m in manifest["mixture"]] == [(str(a), 0.7, 7),
                                                                                        (str(b), 0.3, 3)]
    assert outs[0] == outs[1]
    kept = read_records(tmp_path / "out1")
    assert sorted(r["target"] for r in kept) == [0] * 7 + [1] * 3
    assert len(kept) == 10  # (the two shards hold the same corpus: a text may be kept from each)


def test_mixture_with_a_token_budget(tmp_path, data_dir, targets):
    a, b = targets
    source = ScoreSource(methods=[MethodSpec("zstd-ml", {})], target=[str(a), str(b)], proportions=[1, 1])
    result = sievekit.select([str(data_dir / "pool.jsonl")], str(tmp_path / "out"),
                             rule=Rule("budget_bytes", 2000), source=source)
    for entry in result.extra["mixture"]:
        assert 0 < entry["bytes"] <= 1000
    assert result.extra["budget"]["out"] == sum(e["bytes"] for e in result.extra["mixture"])


def test_plain_targets_stay_one_merged_set(invoke, tmp_path, data_dir, targets):
    a, b = targets
    out = tmp_path / "out"
    result = invoke("select", data_dir / "pool.jsonl", "--method", "zstd-ml", "--target", a, "--target", b,
                    "--top-k", "5", "-o", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert "mixture" not in manifest and manifest["rows_out"] == 5


@pytest.mark.parametrize(("args", "message"), [
    (["--threshold", "0.5"], "share out"),
    (["--threshold", "0.5", "--dry-run"], "share out"),
    (["--top-k", "3", "--stratify", "length"], "share out"),
])
def test_mixture_errors(invoke, data_dir, targets, args, message):
    a, b = targets
    result = invoke("select", data_dir / "pool.jsonl", "--method", "zstd-ml", "--target", f"{a}:1",
                    "--target", f"{b}:1", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "--target" in result.stderr


def test_some_targets_without_a_share_is_a_usage_error(invoke, data_dir, targets):
    a, b = targets
    result = invoke("select", data_dir / "pool.jsonl", "--method", "zstd-ml", "--target", f"{a}:1",
                    "--target", str(b), "--top-k", "3")
    assert result.exit_code == 2 and "give every --target a share" in result.stderr
