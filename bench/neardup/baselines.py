"""The reference tools, fed from Python the way their documentation shows: datasketch (MinHash.bulk +
MinHashLSH) and rensa (RMinHash + RMinHashLSH). Both get the same 5-word shingles (lowercased, split on
non-word characters), candidates verified by estimated Jaccard >= t (as sievekit's default --verify sig),
connected components by union-find, and the first document of each component kept.

Memory: the pool is read, shingled and sketched 2,000 documents at a time, and only the sketches are kept
(datasketch: each ``MinHash`` turned into a ``LeanMinHash``, its 128 hash values and seed; rensa: its
``RMinHash`` objects). Holding every document's shingle strings at once, as the first version did, took
4.5 GB at 16k documents and would not fit in 24 GB at 134k. The algorithms (permutations, banding,
verification by estimated Jaccard) are the libraries' own, unchanged.

Run as a worker:  python bench/neardup/baselines.py TOOL POOL_DIR THRESHOLD PRED_OUT
It prints one JSON line: per-step seconds and the peak RSS before and after the index was built.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

WORD = re.compile(r"\w+")
NUM_PERM = 128


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CHUNK_DOCS = 2000


def read_pool(pool: Path) -> Iterator[tuple[list[str], list[str]]]:
    """The pool's ``(ids, texts)``, ``CHUNK_DOCS`` documents at a time."""
    ids, texts = [], []
    for shard in sorted(pool.glob("*.jsonl")):
        for line in shard.open(encoding="utf-8"):
            d = json.loads(line)
            ids.append(d["id"])
            texts.append(d["text"])
            if len(ids) == CHUNK_DOCS:
                yield ids, texts
                ids, texts = [], []
    if ids:
        yield ids, texts


def shingle_sets(texts: list[str], n: int = 5) -> list[set[str]]:
    out = []
    for t in texts:
        w = WORD.findall(t.lower())
        out.append({" ".join(w[i:i + n]) for i in range(len(w) - n + 1)} if len(w) >= n else {" ".join(w)})
    return out


def components(n: int, edges: list[tuple[int, int]]) -> list[int]:
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
    return [find(i) for i in range(n)]


class Steps:
    """Seconds per step, summed over the chunks."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.s[name] = self.s.get(name, 0.0) + now - self.t
        self.t = now


def sketch_datasketch(chunks: Iterable[list[set[str]]], steps: Steps) -> list[Any]:
    from datasketch import LeanMinHash, MinHash

    out = []
    for sets in chunks:
        out += [LeanMinHash(m) for m in MinHash.bulk([[s.encode() for s in ss] for ss in sets], num_perm=NUM_PERM)]
        steps.lap("minhash")
    return out


def index_datasketch(mhs: list[Any], threshold: float, steps: Steps) -> tuple[list[tuple[int, int]], str]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    for i, m in enumerate(mhs):
        lsh.insert(i, m)
    cands = [(i, c) for i, m in enumerate(mhs) for c in lsh.query(m) if c > i]
    steps.lap("lsh")
    edges = [(a, b) for a, b in cands if mhs[a].jaccard(mhs[b]) >= threshold]
    steps.lap("verify")
    return edges, f"{lsh.b}x{lsh.r}"


def sketch_rensa(chunks: Iterable[list[set[str]]], steps: Steps) -> list[Any]:
    from rensa import RMinHash

    out = []
    for sets in chunks:
        out += RMinHash.from_token_sets([list(s) for s in sets], NUM_PERM, 42)
        steps.lap("minhash")
    return out


def index_rensa(mhs: list[Any], threshold: float, steps: Steps) -> tuple[list[tuple[int, int]], str]:
    from rensa import RMinHashLSH

    lsh = RMinHashLSH(threshold=threshold, num_perm=NUM_PERM, num_bands=16)
    lsh.insert_many(mhs)
    cands = [(i, c) for i, found in enumerate(lsh.query_all(mhs)) for c in found if c > i]
    steps.lap("lsh")
    edges = [(a, b) for a, b in cands if mhs[a].jaccard(mhs[b]) >= threshold]
    steps.lap("verify")
    return edges, "16x8"


def main() -> None:
    import datasketch  # noqa: F401  (imports before the clock starts, as sievekit's worker does)
    import rensa  # noqa: F401

    tool, pool, threshold, pred_out = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    steps = Steps()
    t0 = steps.t
    ids: list[str] = []

    def chunks() -> Iterator[list[set[str]]]:
        for chunk_ids, texts in read_pool(pool):
            ids.extend(chunk_ids)
            steps.lap("read")
            sets = shingle_sets(texts)
            steps.lap("shingle")
            yield sets

    sketch, index = (sketch_datasketch, index_datasketch) if tool == "datasketch" else (sketch_rensa, index_rensa)
    mhs = sketch(chunks(), steps)
    rss_before = rss_mb()
    edges, bands_rows = index(mhs, threshold, steps)
    comp = components(len(ids), edges)
    steps.lap("cluster")
    sizes: dict[int, int] = {}
    for c in comp:
        sizes[c] = sizes.get(c, 0) + 1
    pred = {ids[i]: ids[c] for i, c in enumerate(comp) if sizes[c] > 1}
    kept = [ids[i] for i, c in enumerate(comp) if c == i]
    pred_out.write_text(json.dumps({"clusters": pred, "kept": kept}))
    print(json.dumps({**steps.s, "bands_rows": bands_rows, "total": steps.t - t0, "rss_before_index_mb": rss_before,
                      "rss_peak_mb": rss_mb()}))


if __name__ == "__main__":
    main()
