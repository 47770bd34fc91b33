"""The cluster stage within ``--memory-mb``: a budget too small for any array gives the bytes of the in-memory run.

The component labels are checked against a plain union-find on random graphs; the whole run (clusters file,
cluster arrays, kept records, stats) against the default budget on a pool of clusters spread over shards,
for every --keep and --verify, with workers and with an earlier run; the budget is not part of the run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from dedupe_corpus import edit, make_doc, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

import sievekit
from sievekit import RunOptions
from sievekit.duplicates import DedupeConfig
from sievekit.duplicates import stages as stages_module
from sievekit.duplicates.components import edge_chunks, label_components, star_edges
from sievekit.duplicates.spill import Budget
from sievekit.duplicates.workdir import WorkDir
from sievekit.errors import ConfigError

TINY = 0.0001  # ~100 bytes: every per-document array on disk, chunks of the minimum size


@pytest.fixture(scope="module")
def cluster_pool(tmp_path_factory) -> Path:
    """Three shards: 30 originals, each with 0-6 copies (near: 1-4% of words edited, some edited from an
    earlier copy, so clusters chain; exact: reformatted), shuffled over the shards, with a score field."""
    rng = random.Random(11)
    docs = []
    for i in range(30):
        family = [make_doc(rng, 120 + 10 * (i % 7))]
        for _ in range(rng.randrange(7)):
            base = rng.choice(family)
            family.append(base.upper() if rng.random() < 0.25 else edit(base, rng.uniform(0.01, 0.04), rng))
        docs += family
    rng.shuffle(docs)
    pool = tmp_path_factory.mktemp("clusters")
    for s in range(3):
        write_jsonl(pool / f"part-{s}.jsonl", [{"id": f"{s}-{j}", "text": t, "q": rng.random() if j % 5 else None}
                                             for j, t in enumerate(docs[s::3])])
    return pool


def _run(pool: Path, tmp: Path, name: str, memory_mb: float, jobs: int = 1, against: str | None = None,
         **cfg: object) -> tuple[dict[str, bytes], dict]:
    out, work = tmp / name, tmp / f"{name}-work"
    res = sievekit.dedupe([str(pool)], str(out), config=DedupeConfig(memory_mb=memory_mb, **cfg),  # type: ignore[arg-type]
                          run=RunOptions(jobs=jobs), work_dir=str(work), against=against)
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and p.name != "manifest.json"}
    files |= {f"work/{n}": (work / "cluster" / n).read_bytes()
              for n in ("cluster.npy", "keep.npy", "jaccard.npy", "labels.npy", "clusters.jsonl")}
    summary = {k: v for k, v in res.extra["dedupe"].items() if k not in ("work_dir", "clusters_file")}
    return files, summary


@pytest.mark.parametrize("cfg", [{"keep": "first"}, {"keep": "longest"}, {"keep": "score:q"},
                                 {"keep": "first", "verify": "sig", "threshold": 0.7}])
def test_a_tiny_budget_gives_the_bytes_of_the_in_memory_run(cluster_pool, tmp_path, monkeypatch, cfg):
    spilled = []

    class Watched(Budget):
        def close(self) -> None:
            spilled.append(self.spilled)
            super().close()

    expected, summary = _run(cluster_pool, tmp_path, "memory", 1024, **cfg)
    assert summary["near_duplicates"] > 10 and summary["exact_duplicates"] > 3 and summary["clusters"] > 10
    assert any(k != "2" for k in summary["cluster_sizes"])  # clusters larger than pairs
    assert spilled == []
    monkeypatch.setattr(stages_module, "Budget", Watched)
    got, tiny_summary = _run(cluster_pool, tmp_path, "tiny", TINY, **cfg)
    assert spilled == [True]
    assert got == expected and tiny_summary == summary
    assert not (tmp_path / "tiny-work" / "cluster" / "spill").exists()


def test_workers_and_an_earlier_run_give_the_same_bytes_within_a_tiny_budget(cluster_pool, tmp_path):
    first_out = tmp_path / "first"
    sievekit.dedupe([str(cluster_pool / "part-0.jsonl")], str(first_out), work_dir=str(tmp_path / "first-work"))
    earlier = str(tmp_path / "first-work")
    expected, summary = _run(cluster_pool, tmp_path, "memory", 1024, against=earlier, keep="longest")
    assert summary["seen_before"] > 0
    got, tiny_summary = _run(cluster_pool, tmp_path, "tiny", TINY, jobs=2, against=earlier, keep="longest")
    assert got == expected and tiny_summary == summary


def test_a_resumed_cluster_stage_with_another_budget_gives_the_same_bytes(cluster_pool, tmp_path):
    expected, _ = _run(cluster_pool, tmp_path, "a", 1024)
    cluster = tmp_path / "b-work" / "cluster"
    _run(cluster_pool, tmp_path, "b", TINY)
    for name in ("done.json", "cluster.npy", "clusters.jsonl"):  # as if killed after the components
        (cluster / name).unlink()
    (cluster / "edges" / "band-003-part-00.json").unlink()  # and one band part not verified yet
    labels = (cluster / "labels.npy").stat().st_mtime_ns
    manifest = tmp_path / "b" / "manifest.json"  # a killed run leaves its marker, not its manifest
    record = json.loads(manifest.read_text())
    marker = {k: record[k] for k in ("format_version", "fingerprint", "job")}
    (tmp_path / "b" / ".sievekit-run.json").write_text(json.dumps(marker))
    manifest.unlink()
    got, _ = _run(cluster_pool, tmp_path, "b", 1024)
    assert got == expected
    assert (cluster / "labels.npy").stat().st_mtime_ns == labels  # the components were not redone


def test_the_budget_is_not_part_of_the_run(cluster_pool, tmp_path):
    out = tmp_path / "out"
    sievekit.dedupe([str(cluster_pool)], str(out), config=DedupeConfig(memory_mb=1024))
    again = sievekit.dedupe([str(cluster_pool)], str(out), config=DedupeConfig(memory_mb=TINY))
    assert again.up_to_date  # the same run: nothing to do, not "a different run" refused
    manifest = json.loads((out / "manifest.json").read_text())
    assert "memory_mb" not in manifest["dedupe"]["config"]


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
def test_a_budget_that_is_not_a_positive_number_is_refused(value):
    with pytest.raises(ConfigError, match="memory_mb must be a positive number of MB"):
        DedupeConfig(memory_mb=value)


def test_cli_memory_mb(invoke, cluster_pool, tmp_path):
    base = invoke("dedupe", cluster_pool, "-o", tmp_path / "a", "--keep", "longest")
    tiny = invoke("dedupe", cluster_pool, "-o", tmp_path / "b", "--keep", "longest", "--memory-mb", TINY)
    assert base.exit_code == 0 and tiny.exit_code == 0, tiny.stderr
    assert tiny.stdout == base.stdout == ""
    assert tiny.stderr.replace(str(tmp_path / "b"), "OUT") == base.stderr.replace(str(tmp_path / "a"), "OUT")
    for name in ("part-0.jsonl", "part-1.jsonl", "part-2.jsonl", "clusters.jsonl"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
    help_text = invoke("dedupe", "--help").stdout
    assert "--memory-mb" in help_text


@pytest.mark.parametrize("value", ["0", "-3", "nan"])
def test_cli_memory_mb_not_positive_exits_2_with_one_line(invoke, cluster_pool, tmp_path, value):
    res = invoke("dedupe", cluster_pool, "-o", tmp_path / "o", "--memory-mb", value)
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.splitlines()[0] == f"Error: --memory-mb must be a positive number of MB, got {float(value):g}"
    assert res.stderr.splitlines()[1:] == ["Hint: e.g. --memory-mb 1024"]
    assert not (tmp_path / "o").exists()


def test_cli_memory_mb_not_a_number_is_a_usage_error(invoke, cluster_pool, tmp_path):
    res = invoke("dedupe", cluster_pool, "-o", tmp_path / "o", "--memory-mb", "lots")
    assert res.exit_code == 2 and res.stdout == ""
    assert "--memory-mb" in res.stderr and "Traceback" not in res.stderr  # Typer's own usage message
    assert not (tmp_path / "o").exists()


def _union_find(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


graphs = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120),
    st.integers(1, 7)))


@settings(max_examples=150, deadline=None)
@given(graphs, st.sampled_from([TINY, 1024]))
def test_labels_equal_a_union_find_for_any_graph_chunking_and_budget(tmp_path_factory, graph, memory_mb):
    n, edges, cut = graph
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    chunks = [(u[i:i + cut], v[i:i + cut]) for i in range(0, len(u), cut)]
    budget = Budget(memory_mb, WorkDir(tmp_path_factory.mktemp("g")))
    try:
        label = label_components(n, lambda: chunks, budget)
        assert label.tolist() == _union_find(n, edges)
        assert budget.spilled == (n * label.itemsize > budget.total // 2)
    finally:
        budget.close()


@settings(max_examples=60, deadline=None)
@given(graphs)
def test_edge_shards_on_disk_and_star_edges_keep_the_components(tmp_path_factory, graph):
    from sievekit.duplicates.cluster import components

    n, edges, _ = graph
    work = WorkDir(tmp_path_factory.mktemp("w"))
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    half = len(pairs) // 2
    files = []
    for k, part in enumerate((pairs[:half], star_edges(*components(pairs[half:, 0], pairs[half:, 1])))):
        path = work.path("cluster", "edges", f"band-{k:03d}-part-00.edges")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(part.tobytes())
        files.append((path, len(part)))
    rep = np.arange(n, dtype=np.int64)
    rep[n // 2:] = np.minimum(rep[n // 2:], n // 2)  # the second half: exact copies of the middle document
    work.save(work.path("exact", "rep.npy"), rep)
    budget = Budget(TINY, work)
    try:
        label = label_components(n, lambda: edge_chunks(files, work.path("exact", "rep.npy"), budget), budget)
        assert label.tolist() == _union_find(n, edges + [(int(r), i) for i, r in enumerate(rep) if r != i])
    finally:
        budget.close()
