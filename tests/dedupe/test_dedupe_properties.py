"""Rules that hold for every input: output is a subsequence of the input, one survivor per cluster, no two
survivors are exact copies, and the bytes do not depend on the batch size or the run."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from dedupe_corpus import write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sievekit
from sievekit.duplicates import DedupeConfig
from sievekit.duplicates.normalize import normalise
from sievekit.io import ReadOptions

WORDS = st.sampled_from(["alpha", "beta", "Gamma", "delta", "eps", "zeta", "eta", "theta", "Ünï", "東京"])
SEPS = st.sampled_from([" ", "  ", ", ", "\n", "—", "."])
TEXTS = st.lists(st.tuples(WORDS, SEPS), max_size=14).map(lambda ws: "".join(w + s for w, s in ws))
POOLS = st.lists(TEXTS, min_size=1, max_size=24)


def _run(texts: list[str], root: Path, batch_size: int, split: int) -> tuple[list[str], bytes, list[dict]]:
    pool = root / "pool"
    pool.mkdir(parents=True)
    recs = [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)]
    write_jsonl(pool / "a.jsonl", recs[:split])
    write_jsonl(pool / "b.jsonl", recs[split:])
    out = root / "out"
    sievekit.dedupe([str(pool)], str(out), config=DedupeConfig(threshold=0.6, ngram=2),
                    read=ReadOptions(batch_size=batch_size))
    lines = [ln for name in ("a.jsonl", "b.jsonl") for ln in (out / name).read_text().splitlines()]
    clusters = [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]
    return [json.loads(x)["id"] for x in lines], "\n".join(lines).encode(), clusters


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(POOLS, st.integers(1, 5), st.data())
def test_dedupe_properties(texts, batch_size, data):
    split = data.draw(st.integers(0, len(texts)))
    with tempfile.TemporaryDirectory() as tmp:
        kept, raw, clusters = _run(texts, Path(tmp) / "one", 1024, len(texts))
        kept2, raw2, _ = _run(texts, Path(tmp) / "two", batch_size, split)
    order = [f"r{i}" for i in range(len(texts))]
    assert kept == [i for i in order if i in set(kept)]  # a subsequence of the input, in order
    assert raw == raw2  # same bytes whatever the batch size and shard split
    assert kept == kept2
    by_cluster: dict[int, list[dict]] = {}
    for c in clusters:
        by_cluster.setdefault(c["cluster"], []).append(c)
    assert all(sum(m["kept"] for m in members) == 1 for members in by_cluster.values())
    dropped = {c["id"] for c in clusters if not c["kept"]}
    assert set(kept) == set(order) - dropped
    survivors = [b" ".join(normalise(texts[int(i[1:])]).split()) for i in kept]
    assert len(set(survivors)) == len(survivors)  # no two survivors are exact copies
