"""The cluster stage's components on a synthetic graph of 50M+ edges, within ``--memory-mb``: peak RSS and CPU s.

Builds a work directory as the earlier stages leave it for the component step: ``--docs`` documents (20M),
of which ~60% sit in near-duplicate groups whose sizes follow a power law (P(s) ~ s^-2.5, 2..2000: most
groups are pairs, a few hold hundreds), members spread over the whole pool; each member is joined to a
random earlier member of its group (so the group is connected) and to ``--extra`` (5) random members more (the
same pair found by several bands, as LSH finds them), in ``--shards`` edge shards
(``WORK/cluster/edges/band-BBB-part-PP.edges`` + marker) and an ``exact/rep.npy`` without exact copies.
Then, for each budget, a child process runs ``stages.component_labels`` (the cluster stage's component step:
label propagation over the edge shards streamed from disk) with ``Budget(MB)``; the parent reads the child's
peak RSS (``ru_maxrss``) and CPU seconds from ``wait4`` and checks its labels against ``cluster.components``
(in memory) on a subsample: every 500th group and 100,000 random documents outside any group.

Usage:  nice python bench/neardup/cluster_scale.py [--docs 20000000] [--mb 512 2048] [--reuse]
Data under bench/out/cluster-scale (gitignored; ~0.9 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sievekit.duplicates.cluster import components  # noqa: E402
from sievekit.duplicates.options import DedupeConfig  # noqa: E402
from sievekit.duplicates.workdir import WorkDir  # noqa: E402

BANDS, PARTS = 25, 2  # 50 edge shards, as --threshold 0.7 --key-parts 2 would make
PARAMS = {"bench": "cluster_scale"}
SAMPLE_EVERY = 500


def group_sizes(rng: np.random.Generator, grouped: int) -> np.ndarray:
    """Power-law group sizes (exponent 2.5, 2..2000) adding up to about ``grouped`` documents."""
    s = np.arange(2, 2001)
    p = s ** -2.5
    sizes = rng.choice(s, size=int(grouped / (s * p / p.sum()).sum() * 1.05), p=p / p.sum())
    return sizes[: np.searchsorted(np.cumsum(sizes), grouped)]


def build(work: WorkDir, n: int, extra: int, seed: int) -> tuple[int, list[np.ndarray], np.ndarray]:
    """Write the edge shards and rep.npy; return the edge count, the sampled groups' edges, the singletons."""
    rng = np.random.default_rng(seed)
    sizes = group_sizes(rng, int(n * 0.6))
    perm = rng.permutation(n)  # the documents of a group are spread over the pool
    start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    slots = int(sizes.sum())
    group = np.repeat(np.arange(len(sizes)), sizes)
    pos = np.arange(slots) - start[group]
    sampled: list[np.ndarray] = []
    total = 0
    cut = np.linspace(0, slots, BANDS * PARTS + 1).astype(np.int64)
    for k in range(BANDS * PARTS):
        lo, hi = int(cut[k]), int(cut[k + 1])
        g, p = group[lo:hi], pos[lo:hi]
        member = p > 0
        # a tree edge to an earlier member, then `extra` edges to any member of the group
        tree = np.stack((start[g] + (rng.random(hi - lo) * np.maximum(p, 1)).astype(np.int64), np.arange(lo, hi)), 1)
        tree = tree[member]
        reps = np.repeat(np.arange(lo, hi), extra)
        other = start[group[reps]] + (rng.random(len(reps)) * sizes[group[reps]]).astype(np.int64)
        more = np.stack((other, reps), 1)
        more = more[more[:, 0] != more[:, 1]]
        edges = perm[np.concatenate((tree, more))]
        rng.shuffle(edges)
        base = work.edges_base(k // PARTS, k % PARTS)
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".edges").write_bytes(edges.astype(np.int64).tobytes())
        params = {**PARAMS, "band": k // PARTS, "part": k % PARTS}
        work.mark(base.with_suffix(".json"), params, verified=len(edges), edges=len(edges))
        total += len(edges)
        gs = edges_in_sampled(edges, perm, group)
        if len(gs):
            sampled.append(gs)
    work.save(work.path("exact", "rep.npy"), np.arange(n, dtype=np.int64))
    free = np.ones(n, dtype=bool)
    free[perm[:slots]] = False
    singles = rng.choice(np.flatnonzero(free), size=min(100_000, int(free.sum())), replace=False)
    return total, sampled, singles


def edges_in_sampled(edges: np.ndarray, perm: np.ndarray, group: np.ndarray) -> np.ndarray:
    inv = _inverse(perm)
    g = group[inv[edges[:, 1]]]
    return edges[g % SAMPLE_EVERY == 0]


_INV: dict[int, np.ndarray] = {}


def _inverse(perm: np.ndarray) -> np.ndarray:
    if id(perm) not in _INV:
        inv = np.empty_like(perm)
        inv[perm] = np.arange(len(perm))
        _INV.clear()
        _INV[id(perm)] = inv
    return _INV[id(perm)]


def child(work_root: str, n: int, mb: float) -> None:
    """The measured process: the cluster stage's component step, and nothing else."""
    from sievekit.duplicates.spill import Budget
    from sievekit.duplicates.stages import component_labels

    work = WorkDir(work_root)
    for name in ("labels.json", "labels.npy"):
        work.path("cluster", name).unlink(missing_ok=True)
    cfg = DedupeConfig(num_perm=128, bands=BANDS, rows=5, key_parts=PARTS, memory_mb=mb)
    budget = Budget(mb, work)
    t = time.perf_counter()
    label = component_labels(work, n, cfg, PARAMS, budget)
    print(json.dumps({"wall": time.perf_counter() - t, "spilled": budget.spilled, "dtype": str(label.dtype)}))
    budget.close()


def measure(work: Path, n: int, mb: float) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(work), "--docs", str(n), "--mb", str(mb)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"child failed ({status})")
    info = json.loads(out.strip().splitlines()[-1])
    return {**info, "rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}


def check(work: WorkDir, sampled: list[np.ndarray], singles: np.ndarray) -> tuple[int, int]:
    """Labels against the in-memory components of the sampled groups (their edges are all their edges)."""
    label = np.load(work.path("cluster", "labels.npy"), mmap_mode="r")
    edges = np.concatenate(sampled)
    nodes, ref = components(edges[:, 0], edges[:, 1])
    bad = int(np.count_nonzero(label[nodes] != ref)) + int(np.count_nonzero(label[singles] != singles))
    return len(nodes) + len(singles), bad


def build_child(root: Path, n: int, extra: int, seed: int) -> None:
    """Build the graph in a process of its own: a child forked from a parent holding the generator's arrays
    would report the parent's resident memory as its own peak (``ru_maxrss`` survives fork and exec)."""
    WorkDir(root).remove("cluster")
    work = WorkDir(root)
    t = time.perf_counter()
    edges, sampled, singles = build(work, n, extra, seed)
    np.savez(root / "sample.npz", edges=np.concatenate(sampled), singles=singles)
    (root / "graph.json").write_text(json.dumps({"docs": n, "extra": extra, "seed": seed, "edges": edges,
                                                 "build_s": time.perf_counter() - t}))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000_000)
    ap.add_argument("--extra", type=int, default=5, help="random edges per member beyond its tree edge")
    ap.add_argument("--mb", type=float, nargs="+", default=[512, 2048])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="keep the graph built by an earlier run with these options")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--build", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.docs, args.mb[0])
        return
    if args.build:
        build_child(Path(args.build), args.docs, args.extra, args.seed)
        return
    root = ROOT / "bench" / "out" / "cluster-scale"
    want = {"docs": args.docs, "extra": args.extra, "seed": args.seed}
    made = json.loads((root / "graph.json").read_text()) if (root / "graph.json").exists() else {}
    if not args.reuse or {k: made.get(k) for k in want} != want:
        subprocess.run([sys.executable, __file__, "--build", str(root), "--docs", str(args.docs), "--extra",
                        str(args.extra), "--seed", str(args.seed)], check=True)
        made = json.loads((root / "graph.json").read_text())
    edges = made["edges"]
    print(f"graph: {args.docs:,} documents, {edges:,} edges in {BANDS * PARTS} shards "
          f"({made['build_s']:.0f} s to build)", file=sys.stderr)
    sample = np.load(root / "sample.npz")
    print("| --memory-mb | documents | edges | labels in memory | peak RSS MB | CPU s | wall s | sampled labels "
          "checked | wrong |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mb in args.mb:
        m = measure(root, args.docs, mb)
        checked, bad = check(WorkDir(root), [sample["edges"]], sample["singles"])
        print(f"| {mb:g} | {args.docs:,} | {edges:,} | {'no (on disk)' if m['spilled'] else 'yes'} "
              f"({m['dtype']}) | {m['rss_mb']:.0f} | {m['cpu_s']:.1f} | {m['wall']:.1f} | {checked:,} | {bad} |",
              flush=True)


if __name__ == "__main__":
    main()
