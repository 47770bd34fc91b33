"""The reference tools, fed from Python the way their documentation shows: datasketch (MinHash.bulk +
MinHashLSH) and rensa (RMinHash + RMinHashLSH). Both get the same 5-word shingles (lowercased, split on
non-word characters), candidates verified by estimated Jaccard >= t (as sievekit's default --verify sig),
connected components by union-find, and the first document of each component kept.

Run as a worker:  python bench/neardup/baselines.py TOOL POOL_DIR THRESHOLD PRED_OUT
It prints one JSON line: per-step seconds and the peak RSS before and after the index was built.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path

WORD = re.compile(r"\w+")
NUM_PERM = 128


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_pool(pool: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    for shard in sorted(pool.glob("*.jsonl")):
        for line in shard.open(encoding="utf-8"):
            d = json.loads(line)
            ids.append(d["id"])
            texts.append(d["text"])
    return ids, texts


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


def run_datasketch(sets: list[set[str]], threshold: float) -> tuple[list[tuple[int, int]], dict[str, float]]:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    mhs = MinHash.bulk([[s.encode() for s in ss] for ss in sets], num_perm=NUM_PERM)
    t1 = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    for i, m in enumerate(mhs):
        lsh.insert(i, m)
    cands = [(i, c) for i, m in enumerate(mhs) for c in lsh.query(m) if c > i]
    t2 = time.perf_counter()
    edges = [(a, b) for a, b in cands if mhs[a].jaccard(mhs[b]) >= threshold]
    t3 = time.perf_counter()
    return edges, {"minhash": t1 - t0, "lsh": t2 - t1, "verify": t3 - t2, "bands_rows": str(lsh.b) + "x" + str(lsh.r)}


def run_rensa(sets: list[set[str]], threshold: float) -> tuple[list[tuple[int, int]], dict[str, float]]:
    from rensa import RMinHash, RMinHashLSH

    t0 = time.perf_counter()
    mhs = RMinHash.from_token_sets([list(s) for s in sets], NUM_PERM, 42)
    t1 = time.perf_counter()
    lsh = RMinHashLSH(threshold=threshold, num_perm=NUM_PERM, num_bands=16)
    lsh.insert_many(mhs)
    cands = [(i, c) for i, found in enumerate(lsh.query_all(mhs)) for c in found if c > i]
    t2 = time.perf_counter()
    edges = [(a, b) for a, b in cands if mhs[a].jaccard(mhs[b]) >= threshold]
    t3 = time.perf_counter()
    return edges, {"minhash": t1 - t0, "lsh": t2 - t1, "verify": t3 - t2, "bands_rows": "16x8"}


def main() -> None:
    import datasketch  # noqa: F401  (imports before the clock starts, as sievekit's worker does)
    import rensa  # noqa: F401

    tool, pool, threshold, pred_out = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    t0 = time.perf_counter()
    ids, texts = read_pool(pool)
    t1 = time.perf_counter()
    sets = shingle_sets(texts)
    t2 = time.perf_counter()
    rss_before = rss_mb()
    edges, steps = (run_datasketch if tool == "datasketch" else run_rensa)(sets, threshold)
    t3 = time.perf_counter()
    comp = components(len(ids), edges)
    t4 = time.perf_counter()
    sizes: dict[int, int] = {}
    for c in comp:
        sizes[c] = sizes.get(c, 0) + 1
    pred = {ids[i]: ids[c] for i, c in enumerate(comp) if sizes[c] > 1}
    kept = [ids[i] for i, c in enumerate(comp) if c == i]
    pred_out.write_text(json.dumps({"clusters": pred, "kept": kept}))
    print(json.dumps({"read": t1 - t0, "shingle": t2 - t1, **steps, "cluster": t4 - t3, "total": t4 - t0,
                      "rss_before_index_mb": rss_before, "rss_peak_mb": rss_mb()}))


if __name__ == "__main__":
    main()
