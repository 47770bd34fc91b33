"""Token and byte budgets: the rule's exact edge, ties and non-finite scores, counts made in the scoring pass,
JSONL and Parquet, -j 1 and -j 2, and the tokenizer counter (exact counts) with its missing extra."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sievekit
from sievekit import ConfigError, MethodSpec, Rule, ScoreSource
from sievekit.errors import MissingDependencyError
from sievekit.rules import sampling
from sievekit.rules.counting import Counting, counter_for, estimate_tokens, utf8_bytes
from tests.conftest import read_records


# -- the rule ---------------------------------------------------------------------------------------------
def test_budget_met_exactly_keeps_the_document_that_meets_it():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    counts = np.array([10, 20, 30, 40])
    assert sampling.budget(scores, counts, 60).tolist() == [0, 1, 2]
    assert sampling.budget(scores, counts, 59).tolist() == [0, 1]  # the third would cross: not kept
    assert sampling.budget(scores, counts, 100).tolist() == [0, 1, 2, 3]
    assert sampling.budget(scores, counts, 10**12).tolist() == [0, 1, 2, 3]


def test_a_document_that_would_cross_stops_the_selection():
    # The best document is too big: nothing is kept, not even the small ones after it (a prefix of top-k).
    scores = np.array([0.1, 0.9, 0.5])
    assert sampling.budget(scores, np.array([1, 100, 1]), 50).tolist() == []
    assert sampling.budget(scores, np.array([1, 0, 1]), 0).tolist() == [1]  # zero-count documents fit a 0 budget


def test_ties_break_by_position_and_non_finite_is_never_kept():
    scores = np.array([0.5, np.nan, 0.5, np.inf, 0.5, -np.inf])
    counts = np.ones(6, dtype=np.int64)
    assert sampling.budget(scores, counts, 2).tolist() == [0, 2]
    assert sampling.budget(scores, counts, 100).tolist() == [0, 2, 4]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.0, float("nan")]), st.integers(0, 50)), max_size=40),
       st.integers(0, 400))
def test_budget_is_the_longest_fitting_prefix_of_top_k(docs, total):
    scores = np.array([d[0] for d in docs], dtype=np.float64)
    counts = np.array([d[1] for d in docs], dtype=np.int64)
    kept = sampling.budget(scores, counts, total)
    assert kept.tolist() == sampling.top_k(scores, len(kept)).tolist()
    assert counts[kept].sum() <= total
    longer = sampling.top_k(scores, len(kept) + 1)
    if len(longer) > len(kept):  # the next ranked document would cross the budget
        assert counts[longer].sum() > total


def test_rule_validates_budgets():
    assert Rule("budget_tokens", 1e9) == Rule("budget_tokens", 1_000_000_000)
    assert Rule("budget_tokens", 1e9).budget() == {}
    assert Rule("budget_bytes", 5).counting == Counting("bytes")
    assert Rule("top_k", 5).counting is None
    for bad in (-1, 2.5, float("inf")):
        with pytest.raises(ConfigError, match="budget_tokens"):
            Rule("budget_tokens", bad)
    with pytest.raises(ConfigError, match="tokenizer"):
        Rule("budget_bytes", 10, tokenizer="tok.json")
    with pytest.raises(ConfigError, match="stratify"):
        Rule("budget_tokens", 10, stratify="length")
    with pytest.raises(ValueError, match="counts"):
        Rule("budget_tokens", 10).pick(np.array([1.0]), 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab_1 \t\n.,!é日本\u00a0\u2028\ud800\U0001f600-’٣ⅷ"), max_size=40)
                | st.text(max_size=30), max_size=6))
def test_the_estimate_counts_the_matches_of_its_pattern(texts):
    from sievekit.rules.counting import ESTIMATE

    assert estimate_tokens(texts).tolist() == [len(ESTIMATE.findall(t)) for t in texts]


def test_counters():
    assert estimate_tokens(["Hello, world!", "internationalisation", ""]).tolist() == [4, 3, 0]
    assert utf8_bytes(["abc", "é", "\ud800"]).tolist() == [3, 2, 3]
    assert counter_for(Counting("bytes")) is utf8_bytes


# -- through the command ----------------------------------------------------------------------------------
def _pool(tmp_path, fmt: str, sizes: list[int], scores: list[float]):
    records = [{"id": f"d{i}", "text": "x" * n, "s": s} for i, (n, s) in enumerate(zip(sizes, scores))]
    if fmt == "parquet":
        path = tmp_path / "pool.parquet"
        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        path = tmp_path / "pool.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_byte_budget_edge_through_the_cli(invoke, tmp_path, fmt):
    pool = _pool(tmp_path, fmt, [10, 20, 30, 40, 50], [0.1, 0.9, 0.9, 0.5, None])
    # ranked: d1 (20), d2 (30, tie after d1 by position), d3 (40), d0 (10); d4 never
    cases = ((50, ["d1", "d2"]), (89, ["d1", "d2"]), (90, ["d1", "d2", "d3"]), (1000, ["d0", "d1", "d2", "d3"]))
    for budget, kept in cases:
        out = tmp_path / f"out-{budget}"
        result = invoke("select", pool, "--score-field", "s", "--budget-bytes", budget, "-o", out)
        assert result.exit_code == 0, result.output
        assert [r["id"] for r in read_records(out)] == kept
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["budget"] == {"unit": "bytes", "counter": "bytes", "tokenizer": None, "limit": budget,
                                      "in": 150, "out": sum(int(r["id"][1:]) * 10 + 10 for r in read_records(out))}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_token_budget_counts_in_the_scoring_pass(tmp_path, fmt, monkeypatch):
    pool = _pool(tmp_path, fmt, [5, 70, 14, 21], [0, 0, 0, 0])
    reads = []
    import sievekit.io.shards as shards_mod

    real = shards_mod.iter_batches

    def counting_reads(shard, *args, **kwargs):
        reads.append(shard.name)
        return real(shard, *args, **kwargs)

    monkeypatch.setattr("sievekit.scoring.passes.iter_batches", counting_reads)
    # length ranks the longest first: tokens (estimate, 7 characters a token) 10, 2, 3, 1
    result = sievekit.select([str(pool)], str(tmp_path / "out"), rule=Rule("budget_tokens", 13),
                             source=ScoreSource(methods=[MethodSpec("length", {})]))
    assert result.rows_out == 2 and result.extra["budget"]["in"] == 16 and result.extra["budget"]["out"] == 13
    assert [r["id"] for r in read_records(tmp_path / "out")] == ["d1", "d3"]
    assert reads == [pool.name]  # one scoring read: the counts came with the scores


def test_budget_same_bytes_for_one_and_two_workers_and_spans(invoke, tmp_path, data_dir):
    outs = []
    for jobs, split in (("1", "256"), ("2", "256"), ("2", "0.001")):
        out = tmp_path / f"j{jobs}-{split}"
        result = invoke("select", data_dir / "pool.jsonl", data_dir / "pool.parquet", "--method", "length",
                        "--budget-tokens", "300", "-j", jobs, "--split-mb", split, "-o", out)
        assert result.exit_code == 0, result.output
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "manifest.json"})
        assert json.loads((out / "manifest.json").read_text())["budget"]["out"] <= 300
    assert outs[0] == outs[1] == outs[2]


def test_budget_cli_errors(invoke, data_dir, tmp_path):
    pool = data_dir / "pool.jsonl"
    result = invoke("select", pool, "--method", "length", "--budget-tokens", "10", "--top-k", "3")
    assert result.exit_code == 2 and "give exactly one of" in result.stderr
    result = invoke("select", pool, "--method", "length", "--budget-tokens", "2.5")
    assert result.exit_code == 2 and "--budget-tokens must be a whole number" in result.stderr
    result = invoke("select", pool, "--method", "length", "--budget-bytes", "10", "--tokenizer", "t.json")
    assert result.exit_code == 2 and "--tokenizer counts tokens" in result.stderr


# -- exact counts with a tokenizers file ------------------------------------------------------------------
def _word_tokenizer(path) -> str:
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {"[UNK]": 0, "a": 1, "b": 2}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.save(str(path))
    return str(path)


def test_tokenizer_counts_exactly(tmp_path):
    tok = _word_tokenizer(tmp_path / "tok.json")
    pool = tmp_path / "pool.jsonl"
    texts = ["a b c d", "a", "a b", "internationalisation"]  # 4, 1, 2, 1 words (the estimate: 4, 1, 2, 3)
    pool.write_text("".join(json.dumps({"id": i, "text": t, "s": -i}) + "\n" for i, t in enumerate(texts)))
    result = sievekit.select([str(pool)], str(tmp_path / "out"), rule=Rule("budget_tokens", 7, tokenizer=tok),
                             source=ScoreSource(field="s"))
    assert result.extra["budget"] == {"unit": "tokens", "counter": "tokenizer", "tokenizer": tok, "limit": 7,
                                      "in": 8, "out": 7}
    assert [r["id"] for r in read_records(tmp_path / "out")] == [0, 1, 2]


def test_missing_tokenizers_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(MissingDependencyError, match="tokenizers") as err:
        counter_for(Counting("tokens", "tok.json"), "{}")
    assert "sievekit[tokens]" in (err.value.hint or "")


def test_bad_tokenizer_file_is_a_config_error(tmp_path):
    pytest.importorskip("tokenizers")
    with pytest.raises(ConfigError, match="not a tokenizers JSON file"):
        counter_for(Counting("tokens", "bad.json"), "{not json")
