"""The library run end to end on a pool with known duplicates: survivors, outputs, stages, resume, --against."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from dedupe_corpus import EXPECTED_KEPT, edit, make_doc, read_records, write_jsonl

import sievekit
from sievekit import RunOptions
from sievekit.duplicates import DedupeConfig
from sievekit.errors import ConfigError
from sievekit.io import ReadOptions


def run(pool: Path, out: Path, **kwargs):
    cfg = kwargs.pop("cfg", DedupeConfig())
    run_opts = RunOptions(jobs=kwargs.pop("jobs", 1))
    return sievekit.dedupe([str(pool)], str(out), config=cfg, read=kwargs.pop("opts", ReadOptions()), run=run_opts,
                           **kwargs)


def ids(path: Path) -> list[str]:
    return [r["id"] for r in read_records(path)]


def test_exact_and_near_duplicates_removed_first_kept(dup_pool, tmp_path):
    result = run(dup_pool, tmp_path / "out")
    assert ids(tmp_path / "out" / "a.jsonl") + ids(tmp_path / "out" / "b.jsonl") == EXPECTED_KEPT
    d = result.extra["dedupe"]
    assert (d["documents_in"], d["documents_out"], d["exact_duplicates"], d["near_duplicates"]) == (9, 6, 2, 1)
    assert d["cluster_sizes"] == {"2": 3}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows_out"] == 6 and manifest["dedupe"]["dropped"] == 3


def test_kept_records_are_byte_identical_lines(dup_pool, tmp_path):
    run(dup_pool, tmp_path / "out")
    src = (dup_pool / "b.jsonl").read_text().splitlines()
    out = (tmp_path / "out" / "b.jsonl").read_text().splitlines()
    assert out == [src[1], src[2], src[3]]


def test_clusters_file_explains_each_duplicate(dup_pool, tmp_path):
    run(dup_pool, tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "clusters.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in lines}
    assert set(by_id) == {"d0", "d3", "d1", "d4", "d7", "d8"}
    assert by_id["d4"] == {**by_id["d4"], "kept": False, "size": 2, "survivor": "a.jsonl:1",
                           "cluster": by_id["d1"]["cluster"]}
    assert 0.8 <= by_id["d4"]["jaccard"] < 1.0 and by_id["d3"]["jaccard"] == 1.0


@pytest.mark.parametrize("keep, kept", [("longest", "d3"), ("score:n", "d3"), ("first", "d0")])
def test_keep_policies(dup_pool, tmp_path, keep, kept):
    run(dup_pool, tmp_path / "out", cfg=DedupeConfig(keep=keep))
    out = ids(tmp_path / "out")
    assert kept in out and ({"d0", "d3"} - {kept}).isdisjoint(out)


def test_annotate_keeps_everything_and_adds_the_cluster(dup_pool, tmp_path):
    run(dup_pool, tmp_path / "out", cfg=DedupeConfig(annotate=True))
    recs = read_records(tmp_path / "out" / "a.jsonl") + read_records(tmp_path / "out" / "b.jsonl")
    assert [r["id"] for r in recs] == [f"d{i}" for i in range(9)]
    by_id = {r["id"]: r for r in recs}
    assert by_id["d3"]["dedupe_cluster"] == by_id["d0"]["dedupe_cluster"] == 0
    assert by_id["d3"]["dedupe_kept"] is False and by_id["d0"]["dedupe_kept"] is True
    assert by_id["d2"]["dedupe_cluster"] == 2


@pytest.mark.parametrize("verify", ["exact", "none"])
def test_verify_modes_on_clear_cases(dup_pool, tmp_path, verify):
    run(dup_pool, tmp_path / "out", cfg=DedupeConfig(verify=verify))
    assert ids(tmp_path / "out") == EXPECTED_KEPT


def test_datasketch_engine_gives_the_same_survivors(dup_pool, tmp_path):
    pytest.importorskip("datasketch")
    run(dup_pool, tmp_path / "out", cfg=DedupeConfig(engine="datasketch"))
    assert ids(tmp_path / "out") == EXPECTED_KEPT


def test_single_file_output_and_parquet_input(dup_pool, tmp_path, data_dir):
    res = run(dup_pool, tmp_path / "one.jsonl")
    assert ids(tmp_path / "one.jsonl") == EXPECTED_KEPT
    beside = tmp_path / "one.clusters.jsonl"  # a single-file output gets its clusters file beside it
    assert res.extra["dedupe"]["clusters_file"] == str(beside)
    assert {json.loads(x)["id"] for x in beside.read_text().splitlines()} == {"d0", "d3", "d1", "d4", "d7", "d8"}
    pytest.importorskip("pyarrow")
    res = sievekit.dedupe([str(data_dir / "pool.parquet")], str(tmp_path / "pq"), config=DedupeConfig())
    assert os.path.exists(tmp_path / "pq" / "pool.parquet") and res.rows_in == 20


def test_survivors_do_not_depend_on_jobs_or_batch_size(dup_pool, tmp_path):
    run(dup_pool, tmp_path / "j1")
    run(dup_pool, tmp_path / "j2", jobs=2, opts=ReadOptions(batch_size=2))
    for name in ("a.jsonl", "b.jsonl", "clusters.jsonl"):
        assert (tmp_path / "j1" / name).read_bytes() == (tmp_path / "j2" / name).read_bytes()


def test_stages_one_at_a_time_then_resume(dup_pool, tmp_path):
    work = tmp_path / "work"
    for shard in (1, 0):
        run(dup_pool, tmp_path / "out", work_dir=str(work), stage="sign", shard=shard)
    run(dup_pool, tmp_path / "out", work_dir=str(work), stage="bucket", band=3)
    run(dup_pool, tmp_path / "out", work_dir=str(work), stage="bucket")
    run(dup_pool, tmp_path / "out", work_dir=str(work), stage="cluster")
    stamp = {p: p.stat().st_mtime_ns for p in work.rglob("*.json")}
    run(dup_pool, tmp_path / "out", work_dir=str(work))  # filter only; everything else is complete
    assert ids(tmp_path / "out") == EXPECTED_KEPT
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())
    (tmp_path / "out" / "b.jsonl").unlink()  # a deleted output is written again on the next run
    run(dup_pool, tmp_path / "out", work_dir=str(work))
    assert ids(tmp_path / "out") == EXPECTED_KEPT


def test_stage_before_its_inputs_exist_fails_clearly(dup_pool, tmp_path):
    from sievekit.errors import InputError

    with pytest.raises(InputError, match="not signed yet"):
        run(dup_pool, tmp_path / "out", work_dir=str(tmp_path / "w"), stage="bucket")


def test_artefacts_made_with_other_parameters_are_refused(dup_pool, tmp_path):
    work = str(tmp_path / "work")
    run(dup_pool, tmp_path / "out", work_dir=work)
    with pytest.raises(ConfigError, match="bands: 18 then, 25 now"):
        run(dup_pool, tmp_path / "out2", work_dir=work, cfg=DedupeConfig(threshold=0.7))
    with pytest.raises(ConfigError, match="other sign parameters"):
        run(dup_pool, tmp_path / "out3", work_dir=work, cfg=DedupeConfig(num_perm=64))


def test_against_a_previous_run_drops_what_it_saw(dup_pool, tmp_path):
    work = str(tmp_path / "w1")
    run(dup_pool, tmp_path / "out1", work_dir=work)
    old = read_records(dup_pool / "a.jsonl")
    new = tmp_path / "release2"
    new.mkdir()
    write_jsonl(new / "c.jsonl", [{"id": "n0", "text": old[1]["text"].replace(" ", "  ")},  # exact copy of d1
                                  {"id": "n1", "text": "a brand new document about nothing at all here"},
                                  {"id": "n2", "text": "A brand new document about nothing at all, here!"}])
    res = run(new, tmp_path / "out2", work_dir=str(tmp_path / "w2"), against=work)
    assert ids(tmp_path / "out2") == ["n1"]
    assert res.extra["dedupe"]["seen_before"] == 1


def test_against_with_other_sign_parameters_is_refused(dup_pool, tmp_path):
    work = str(tmp_path / "w1")
    run(dup_pool, tmp_path / "out1", work_dir=work)
    with pytest.raises(ConfigError, match="signed with other parameters"):
        run(dup_pool, tmp_path / "out2", work_dir=str(tmp_path / "w2"), against=work, cfg=DedupeConfig(seed=9))


@pytest.mark.parametrize("kwargs, match", [
    ({"stage": "sign"}, "needs work_dir"),
    ({"stage": "bucket", "work_dir": "W", "shard": 0}, "shard goes with"),
    ({"stage": "sign", "work_dir": "W", "shard": 5}, "out of range"),
    ({"stage": "bucket", "work_dir": "W", "band": 99}, "out of range"),
    ({"stage": "nope", "work_dir": "W"}, "stage must be"),
])
def test_bad_stage_selections(dup_pool, tmp_path, kwargs, match):
    if kwargs.get("work_dir"):
        kwargs["work_dir"] = str(tmp_path / "w")
    with pytest.raises(ConfigError, match=match):
        run(dup_pool, tmp_path / "out", **kwargs)


@pytest.mark.parametrize("kwargs", [{"threshold": 1.5}, {"verify": "maybe"}, {"keep": "score:"}, {"bands": 4},
                                    {"bands": 20, "rows": 8}, {"num_perm": 0}, {"key_parts": 0}])
def test_config_validation(kwargs):
    with pytest.raises(ConfigError):
        DedupeConfig(**kwargs)


def test_streaming_deduper_agrees_with_the_staged_run_and_with_itself_across_batches(dup_pool):
    from sievekit.duplicates import MinHashDeduper

    recs = read_records(dup_pool / "a.jsonl") + read_records(dup_pool / "b.jsonl")
    texts = [r["text"] for r in recs]
    whole = MinHashDeduper().keep_mask(texts)
    streamed = MinHashDeduper()
    parts = streamed.keep_mask(texts[:3]) + streamed.keep_mask(texts[3:5]) + streamed.keep_mask(texts[5:])
    assert whole == parts
    assert [r["id"] for r, k in zip(recs, whole, strict=True) if k] == EXPECTED_KEPT
    assert MinHashDeduper(DedupeConfig(verify="sig")).keep_mask(texts) == whole


def test_exact_verification_keeps_the_threshold_where_the_estimate_wavers():
    """Pairs a hair above and below t: the true Jaccard decides (one-row bands make every pair a candidate)."""
    import re

    from sievekit.duplicates import MinHashDeduper

    def shingles(text):
        w = re.findall(r"\w+", text.lower())
        return {tuple(w[i:i + 5]) for i in range(len(w) - 4)}

    rng = random.Random(11)
    for k in (10, 40, 90):
        base = make_doc(rng, 600)
        words = base.split()
        near = " ".join(words[:200] + ["zz" + w for w in words[200:200 + k]] + words[200 + k:])
        a, b = shingles(base), shingles(near)
        j = len(a & b) / len(a | b)
        for t, dropped in ((j - 0.002, True), (j + 0.002, False)):
            cfg = DedupeConfig(threshold=round(t, 4), bands=32, rows=1, verify="exact")
            assert MinHashDeduper(cfg).keep_mask([base, near]) == [True, not dropped], (k, j, t)


def test_key_ranges_split_buckets_without_changing_survivors(dup_pool, tmp_path):
    run(dup_pool, tmp_path / "one")
    run(dup_pool, tmp_path / "three", cfg=DedupeConfig(key_parts=3), work_dir=str(tmp_path / "w"))
    assert len(list((tmp_path / "w" / "bucket").glob("*.npz"))) == 18 * 3
    for name in ("a.jsonl", "b.jsonl", "clusters.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "three" / name).read_bytes()


@pytest.mark.parametrize("cfg", [DedupeConfig(threshold=0.99), DedupeConfig(), DedupeConfig(threshold=0.7),
                                 DedupeConfig(verify="exact", keep="longest"), DedupeConfig(verify="none"),
                                 DedupeConfig(keep="longest")])
def test_exact_count_does_not_depend_on_the_near_settings(tmp_path, cfg):
    """b0 is a near copy of a0 that comes first, a1 an exact copy of a0: at 0.8 the cluster's survivor is b0
    (first) or a1 (longest), yet a0 and a1 are still one exact group with one copy too many."""
    rng = random.Random(3)
    a0 = make_doc(rng, 400)
    docs = [("b0", edit(a0, 0.01, rng)), ("a0", a0), ("a1", a0.upper() + "!"), ("x", make_doc(rng, 300))]
    write_jsonl((tmp_path / "pool.jsonl"), [{"id": i, "text": t} for i, t in docs])
    d = run(tmp_path / "pool.jsonl", tmp_path / "out", cfg=cfg).extra["dedupe"]
    assert d["exact_duplicates"] == 1
    assert d["near_duplicates"] == d["dropped"] - 1 == (0 if cfg.threshold == 0.99 else 1)


@pytest.mark.parametrize("output, beside", [("o.jsonl", "o.clusters.jsonl"), ("a/o.jsonl.zst", "a/o.clusters.jsonl"),
                                            ("o.v1.jsonl.gz", "o.v1.clusters.jsonl")])
def test_clusters_file_name_beside_a_single_output(output, beside):
    from sievekit.run.layout import Layout

    assert Layout(output).clusters(None) == beside
