"""hf://datasets/ORG/NAME/... inputs through fsspec, with no network: an in-memory fsspec filesystem registered
under the ``hf`` protocol stands in for the Hub's; and the one-line error naming the ``hub`` extra."""

from __future__ import annotations

import importlib
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import DATA, pool_records, read_records

fsspec = pytest.importorskip("fsspec")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

REGISTRY = importlib.import_module("fsspec.registry")._registry  # fsspec.registry is its read-only view


class FakeHub(MemoryFileSystem):
    """A memory filesystem of its own (not shared with memory://) answering to hf://."""

    protocol = "hf"
    store: dict = {}
    pseudo_dirs = [""]

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path[len("hf://"):] if path.startswith("hf://") else path)


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setitem(REGISTRY, "hf", FakeHub)
    FakeHub.store.clear()
    FakeHub.pseudo_dirs[:] = [""]
    FakeHub.clear_instance_cache()
    records = pool_records()
    fs = FakeHub()
    for i, part in enumerate((records[:10], records[10:])):
        with fs.open(f"datasets/org/name/data/train-{i:05d}.parquet", "wb") as fh:
            pq.write_table(pa.Table.from_pylist(part), fh)
    with fs.open("datasets/org/name/target.jsonl", "wb") as fh:
        fh.write((DATA / "target.jsonl").read_bytes())
    yield fs
    FakeHub.store.clear()
    FakeHub.clear_instance_cache()


def test_select_from_the_hub_to_a_token_budget(invoke, tmp_path, hub):
    local = tmp_path / "local"
    local.mkdir()
    for name in ("train-00000.parquet", "train-00001.parquet"):
        (local / name).write_bytes(hub.cat(f"datasets/org/name/data/{name}"))
    outs = {}
    for label, pool, target in (("hub", "hf://datasets/org/name/**/*.parquet", "hf://datasets/org/name/target.jsonl"),
                                ("local", str(local), str(DATA / "target.jsonl"))):
        out = tmp_path / f"out-{label}"
        result = invoke("select", pool, "--method", "zstd-ml", "--target", target, "--budget-tokens", "1500",
                        "-o", out)
        assert result.exit_code == 0, result.output
        outs[label] = {p.name: [r["id"] for r in read_records(p)] for p in sorted(out.glob("*.parquet"))}
        manifest = json.loads((out / "manifest.json").read_text())
        assert 0 < manifest["budget"]["out"] <= 1500
    assert outs["hub"] == outs["local"] and sum(map(len, outs["hub"].values())) > 0
    manifest = json.loads((tmp_path / "out-hub" / "manifest.json").read_text())
    assert [i["path"] for i in manifest["inputs"]] == [f"hf://datasets/org/name/data/train-0000{i}.parquet"
                                                       for i in (0, 1)]


def test_a_whole_budget_keeps_every_document(invoke, tmp_path, hub):
    out = tmp_path / "out"
    result = invoke("select", "hf://datasets/org/name/data", "--method", "zstd-ml", "--target",
                    "hf://datasets/org/name/target.jsonl", "--budget-tokens", "1e9", "-o", out)
    assert result.exit_code == 0, result.output
    assert len(read_records(out)) == 20


def test_missing_hub_extra_is_one_line_naming_it(invoke, monkeypatch):
    monkeypatch.delitem(REGISTRY, "hf", raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    result = invoke("select", "hf://datasets/org/name/**/*.parquet", "--method", "length", "--top-k", "3")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: reading or writing hf://datasets/org/name/**/*.parquet needs the 'huggingface_hub' package, which "
        "is not installed",
        "Hint: pip install 'sievekit[hub]'",
    ]
