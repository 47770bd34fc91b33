"""The Python API over records held in memory: an iterable of dicts, a pyarrow Table or a datasets.Dataset for
the pool and the target, spooled through sievekit.io, and the selection returned the same way (output=None)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import sievekit
from sievekit import InputError, MethodSpec, Rule, RunOptions, ScoreSource
from sievekit.io import memory
from tests.conftest import DATA, pool_records, read_records

LENGTH = ScoreSource(methods=[MethodSpec("length", {})])


def _target() -> list[dict]:
    return [json.loads(line) for line in (DATA / "target.jsonl").read_text().splitlines() if line.strip()]


def test_kinds():
    assert memory.kind_of(["a.jsonl", "b/"]) is None
    assert memory.kind_of("a.jsonl") is None
    assert memory.kind_of([]) is None
    assert memory.kind_of([{"text": "a"}]) == "records"
    assert memory.kind_of(iter([{"text": "a"}])) == "records"
    assert memory.kind_of([[{"text": "a"}], pa.table({"text": ["a"]})]) is None  # a list of targets
    assert memory.kind_of(pa.table({"text": ["a"]})) == "table"


def test_dicts_in_list_of_dicts_out_same_as_the_file():
    by_file = sievekit.select([str(DATA / "pool.jsonl")], None, rule=Rule("top_k", 5), source=LENGTH)
    by_dicts = sievekit.select(iter(pool_records()), None, rule=Rule("top_k", 5), source=LENGTH)
    assert isinstance(by_dicts, list) and by_dicts == by_file
    assert by_dicts == [r for r in pool_records() if r["id"] in {d["id"] for d in by_dicts}]  # every field, in order


def test_table_in_table_out_with_a_token_budget():
    table = pa.Table.from_pylist(pool_records())
    out = sievekit.select(table, None, rule=Rule("budget_tokens", 400), source=LENGTH)
    assert isinstance(out, pa.Table) and out.schema == table.schema
    expected = sievekit.select([str(DATA / "pool.jsonl")], None, rule=Rule("budget_tokens", 400), source=LENGTH)
    assert out.column("id").to_pylist() == [r["id"] for r in expected] and 0 < out.num_rows < table.num_rows
    empty = sievekit.select(table, None, rule=Rule("top_k", 0), source=LENGTH)
    assert isinstance(empty, pa.Table) and empty.num_rows == 0 and empty.schema == table.schema


def test_in_memory_targets_fit_as_their_file_does():
    method = [MethodSpec("zstd-ml", {})]
    want = sievekit.select([str(DATA / "pool.jsonl")], None, rule=Rule("top_k", 3),
                           source=ScoreSource(methods=method, target=[str(DATA / "target.jsonl")]))
    for target in (_target(), pa.Table.from_pylist(_target())):
        got = sievekit.select(pool_records(), None, rule=Rule("top_k", 3),
                              source=ScoreSource(methods=method, target=target))
        assert got == want


def test_in_memory_mixture_targets(tmp_path):
    recs = _target()
    source = ScoreSource(methods=[MethodSpec("zstd-ml", {})], target=[recs[:2], pa.Table.from_pylist(recs[2:])],
                         proportions=[0.5, 0.5])
    out = sievekit.select(pool_records(), None, rule=Rule("top_k", 4), source=source)
    assert len(out) == 4
    result = sievekit.select([str(DATA / "pool.jsonl")], str(tmp_path / "out"), rule=Rule("top_k", 4), source=source)
    assert [(m["target"], m["documents"]) for m in result.extra["mixture"]] == [("<records>", 2), ("<table>", 2)]


def test_a_run_into_a_directory_is_identified_by_content(tmp_path):
    out = tmp_path / "out"
    first = sievekit.select(pool_records(), str(out), rule=Rule("top_k", 3), source=LENGTH)
    again = sievekit.select(pool_records(), str(out), rule=Rule("top_k", 3), source=LENGTH)
    assert first.rows_out == 3 and again.up_to_date
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"][0]["path"] == "<records>" and manifest["job"]["inputs"][0]["path"] == "<records>"
    assert len(read_records(out)) == 3
    changed = pool_records()
    changed[0]["text"] += " more"
    with pytest.raises(sievekit.ConfigError):  # different data: a different run, refused without overwrite
        sievekit.select(changed, str(out), rule=Rule("top_k", 3), source=LENGTH)
    assert sievekit.select(changed, str(out), rule=Rule("top_k", 3), source=LENGTH,
                           run=RunOptions(overwrite=True)).rows_out == 3


def test_bad_items_name_the_row():
    with pytest.raises(InputError, match="item 1 is a str"):
        sievekit.select([{"text": "a"}, "b"], None, rule=Rule("top_k", 1), source=LENGTH)
    with pytest.raises(InputError, match="item 0 cannot be written as JSON"):
        sievekit.select([{"text": "a\ud800"}], None, rule=Rule("top_k", 1), source=LENGTH)
    with pytest.raises(sievekit.ConfigError, match="paths or records"):
        sievekit.select([pa.table({"text": ["a"]})], None, rule=Rule("top_k", 1), source=LENGTH)


def test_datasets_round_trip():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(pool_records()).select(range(19, -1, -1))  # an indices mapping: reversed
    out = sievekit.select(ds, None, rule=Rule("top_k", 4), source=LENGTH)
    assert isinstance(out, datasets.Dataset)
    expected = sievekit.select(list(reversed(pool_records())), None, rule=Rule("top_k", 4), source=LENGTH)
    assert out["id"] == [r["id"] for r in expected] and out.column_names == ds.column_names
    assert sievekit.select(ds.select([]), None, rule=Rule("top_k", 4), source=LENGTH).num_rows == 0
