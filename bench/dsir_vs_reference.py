"""DSIR in sievekit against the reference ``data-selection`` 1.0.3 package, on the same pool, in one run.

    python -m venv bench/.venv-ref && bench/.venv-ref/bin/pip install -r bench/requirements-dsir.txt
    .venv/bin/python bench/dsir_vs_reference.py [--docs 60000] [--k 5000] [--ref-python bench/.venv-ref/bin/python]

Builds (once) a pool of real text from this machine under bench/data/dsir/: chunks of CPython's
standard library, C headers from /usr/include, man pages (several languages), Debian changelogs and
copyright files, and license texts; the target is chunks of standard-library modules held out of the pool.
Then runs, each in its own process so that CPU time and peak RSS are its own:

- the reference: ``HashedNgramDSIR`` fit, importance weights and Gumbel resampling (``np.random.seed(0)``),
  with ``num_proc=1``;
- sievekit ``select --sample k`` with ``--hash sha256`` (parity) and with the fast default, one process,
  and the fast default with ``-j 2``;
- sievekit fast on a quarter of the pool, to show peak memory does not grow with the pool.

and prints wall and CPU time, docs/s, MB/s, peak RSS, speed-ups per core, top-k overlap and max
|Δ log-weight| against the reference, and each selection's precision for the target's domain and KL
reduction (all measured in the reference's sha256 feature space).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "dsir"
SHARDS = 4
MAX_CHARS, MIN_CHARS = 1500, 200
TARGET_DOCS = 1000

# -- the pool ----------------------------------------------------------------------------------------


def _chunks(text: str, boundary: str) -> list[str]:
    out, cur = [], ""
    for piece in re.split(f"(?m)(?={boundary})", text):
        if cur and len(cur) + len(piece) > MAX_CHARS:
            out.append(cur)
            cur = ""
        cur += piece
    if cur:
        out.append(cur)
    return [c[:MAX_CHARS] for c in out if len(c.strip()) >= MIN_CHARS]


def _read(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8", errors="replace")


def _sources() -> dict[str, list[tuple[Path, str]]]:
    """(file, boundary regex) per domain."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    man = sorted(p for p in Path("/usr/share/man").glob("*/man[1-8]/*.gz"))
    man += sorted(Path("/usr/share/man").glob("man[1-8]/*.gz"))
    return {
        "python": [(p, r"^(?:def |class |@|    def )") for p in sorted(lib.rglob("*.py"))
                   if "site-packages" not in p.parts],
        "c": [(p, r"^(?:#|/\*|typedef|struct|extern)") for p in sorted(Path("/usr/include").rglob("*.h"))],
        "manpage": [(p, r"^\.(?:SH|SS|PP|TP) ") for p in man],
        "changelog": [(p, r"^\S") for p in sorted(Path("/usr/share/doc").glob("*/changelog*.gz"))],
        "license": [(p, r"^\s*$") for p in sorted(Path("/usr/share/doc").glob("*/copyright"))]
        + [(p, r"^\s*$") for p in sorted(Path("/usr/share/common-licenses").iterdir()) if p.is_file()],
    }


def build(docs: int, seed: int = 20261127) -> None:
    """Write bench/data/dsir/pool/part-000N.jsonl (with id, text, domain, source) and target.jsonl."""
    rng = random.Random(seed)
    caps = {"python": 0.3, "c": 0.2, "manpage": 0.3, "changelog": 0.12, "license": 0.08}
    pool, target = [], []
    for domain, files in _sources().items():
        held_out = set(rng.sample(range(len(files)), len(files) // 10)) if domain == "python" else set()
        recs = []
        for i, (path, boundary) in enumerate(files):
            for text in _chunks(_read(path), boundary):
                (target if i in held_out else recs).append({"text": text, "domain": domain, "source": str(path)})
        rng.shuffle(recs)
        pool += recs[: int(caps[domain] * docs)]
    rng.shuffle(pool)
    target = rng.sample(target, min(TARGET_DOCS, len(target)))
    (DATA / "pool").mkdir(parents=True, exist_ok=True)
    per = (len(pool) + SHARDS - 1) // SHARDS
    for n in range(SHARDS):
        with open(DATA / "pool" / f"part-{n:04d}.jsonl", "w", encoding="utf-8") as fh:
            for i, rec in enumerate(pool[n * per:(n + 1) * per], start=n * per):
                fh.write(json.dumps({"id": f"pool-{i:06d}", **rec}, ensure_ascii=False) + "\n")
    with open(DATA / "target.jsonl", "w", encoding="utf-8") as fh:
        for i, rec in enumerate(target):
            fh.write(json.dumps({"id": f"target-{i:05d}", **rec}, ensure_ascii=False) + "\n")


def load_pool() -> tuple[list[str], list[str], np.ndarray, int]:
    ids, texts, domains = [], [], []
    for path in sorted((DATA / "pool").glob("part-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            ids.append(rec["id"])
            texts.append(rec["text"])
            domains.append(rec["domain"])
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    return ids, texts, np.array(domains), nbytes


# -- the measured runs (each a child process that reports its own rusage) ------------------------------
USAGE = """
import json, resource, sys, time
def report(wall, extra=None):
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    # VmHWM, not ru_maxrss: Linux carries a parent's high-water mark into a forked-and-exec'd child's
    # ru_maxrss. Worker processes (-j) can only be seen through RUSAGE_CHILDREN: the largest worker.
    hwm = [int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")][0]
    print("RESULT " + json.dumps({"wall": wall, "cpu": s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime,
                                  "rss_mb": max(hwm, c.ru_maxrss) / 1024, **(extra or {})}))
"""

REFERENCE = USAGE + """
import numpy as np
from data_selection import HashedNgramDSIR
pool, target, out, k = json.loads(sys.argv[1])
t0 = time.perf_counter()
dsir = HashedNgramDSIR(pool, [target], cache_dir=out + "/cache", num_proc=1)
dsir.fit_importance_estimator(num_tokens_to_fit="auto")
dsir.compute_importance_weights()
np.random.seed(0)
dsir.resample(out_dir=out + "/sample", num_to_sample=k, cache_dir=out + "/sample_cache")
wall = time.perf_counter() - t0
report(wall)
"""

SIEVEKIT = USAGE + """
import sievekit
from sievekit import MethodSpec, ReadOptions, Rule, RunOptions, ScoreSource
pool, target, out, k, options, jobs = json.loads(sys.argv[1])
t0 = time.perf_counter()
source = ScoreSource(methods=[MethodSpec("dsir", options)], target=[target])
sievekit.select(pool, out, rule=Rule("sample", k), source=source, read=ReadOptions(), seed=0,
                run=RunOptions(jobs=jobs))
report(time.perf_counter() - t0)
"""


def run(python: str, code: str, args: list) -> dict:
    proc = subprocess.run([python, "-c", code, json.dumps(args)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def selected_ids(directory: Path) -> set[str]:
    return {json.loads(line)["id"] for p in directory.rglob("*.jsonl") for line in p.read_text().splitlines()}


# -- the comparison ------------------------------------------------------------------------------------
def main() -> None:
    global DATA
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=60000, help="pool size to build (default 60000)")
    parser.add_argument("--k", type=int, default=5000, help="documents to select (default 5000)")
    parser.add_argument("--ref-python", default=str(HERE / ".venv-ref" / "bin" / "python"))
    parser.add_argument("--rebuild", action="store_true", help="rebuild the pool even if it exists")
    parser.add_argument("--data", type=Path, default=DATA, help="where the pool lives (default bench/data/dsir)")
    args = parser.parse_args()
    DATA = args.data
    if args.rebuild or not (DATA / "target.jsonl").exists():
        build(args.docs)
    shards = [str(p) for p in sorted((DATA / "pool").glob("part-*.jsonl"))]
    target = str(DATA / "target.jsonl")
    out = DATA / "out"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    fast = {"hash": "fast"}
    quarter = run(sys.executable, SIEVEKIT, [shards[:1], target, str(out / "quarter"), args.k // 4, fast, 1])
    runs = {"reference": run(args.ref_python, REFERENCE, [shards, target, str(out / "ref"), args.k])}
    configs = {"sha256 -j1": ({"hash": "sha256"}, 1), "fast -j1": (fast, 1), "fast -j2": (fast, 2)}
    for name, (options, jobs) in configs.items():
        where = str(out / name.replace(" ", ""))
        runs[name] = run(sys.executable, SIEVEKIT, [shards, target, where, args.k, options, jobs])

    ids, texts, domains, nbytes = load_pool()
    index = {d: i for i, d in enumerate(ids)}
    target_texts = [json.loads(x)["text"] for x in (DATA / "target.jsonl").read_text().splitlines()]
    per_domain = {str(d): int(c) for d, c in zip(*np.unique(domains, return_counts=True), strict=True)}
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"sievekit commit {commit.stdout.strip()}; {os.cpu_count()} cores, shared with other jobs")
    print(f"pool: {len(texts):,} docs, {nbytes / 1e6:.1f} MB, domains {per_domain}; "
          f"target: {len(target_texts)} held-out python chunks; k = {args.k}")


    from sievekit.rules import sampling
    from sievekit.selectors.dsir import DsirSelector, reference_gumbel_top_k
    from sievekit.selectors.kl import hashed_counts, kl_reduction
    from sievekit.selectors.ngrams import NgramFeaturizer

    # Scores (untimed): the reference's from its cache; ours from each run's saved state.
    cache = out / "ref" / "cache"
    ref_w = np.concatenate([np.load(cache / "log_importance_weights" / f"{i}.npy") for i in range(SHARDS)])
    ref_len = np.concatenate([np.load(cache / "perexample_metadata" / f"{i}.npy") for i in range(SHARDS)])
    ref_ok = ref_len >= 100
    scores = {}
    for name in configs:
        state = json.loads((out / name.replace(" ", "") / "manifest.json").read_text())["selector"]
        scores[name] = np.fromiter(DsirSelector.from_state_dict(state).score_iter(texts), dtype=np.float64)
    parity = DsirSelector.from_state_dict(json.loads((out / "sha256-j1" / "manifest.json").read_text())["selector"])

    def kl(idx: np.ndarray) -> float:
        return parity.kl_reduction(texts[i] for i in idx)

    # The same measure in a finer space neither hashing selected in (sha256 into 2**20 buckets), so that
    # the parity selection is not favoured by being scored in its own feature space.
    wide = NgramFeaturizer(buckets=1 << 20, hash="sha256")
    wide_target, wide_pool = hashed_counts(target_texts, wide), hashed_counts(texts, wide)

    def kl_wide(idx: np.ndarray) -> float:
        return kl_reduction(wide_target, wide_pool, hashed_counts((texts[i] for i in idx), wide))

    def prec(idx: np.ndarray) -> float:
        return float((domains[idx] == "python").mean())

    nz = np.flatnonzero(ref_ok)
    ref_topk = np.sort(nz[np.argpartition(-ref_w[ref_ok], args.k)[: args.k]])
    ref_gumbel = np.sort([index[i] for i in selected_ids(out / "ref" / "sample")])
    sel = {"reference top-k": ref_topk, "reference gumbel (np.random.seed(0))": ref_gumbel}
    for name in ("sha256 -j1", "fast -j1"):
        sel[f"{name.split()[0]} top-k"] = sampling.top_k(scores[name], args.k)
        picked = selected_ids(out / name.replace(" ", ""))
        sel[f"{name.split()[0]} gumbel (default_rng(0))"] = np.sort([index[i] for i in picked])
    sel["sha256 gumbel (reference noise)"] = reference_gumbel_top_k(scores["sha256 -j1"], args.k, 0)

    both = ref_ok & np.isfinite(scores["sha256 -j1"])
    print("\n## Speed and memory (same machine, same run; 2 shared cores)\n")
    print("| run | wall s | CPU s | docs/s | MB/s | peak RSS MB | speed-up per core vs reference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        print(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {len(texts) / r['wall']:,.0f} "
              f"| {nbytes / 1e6 / r['wall']:.2f} | {r['rss_mb']:.0f} | {runs['reference']['cpu'] / r['cpu']:.1f}x |")
    print(f"| fast -j1, first quarter of the pool | {quarter['wall']:.1f} | {quarter['cpu']:.1f} | | "
          f"| {quarter['rss_mb']:.0f} | |")
    print("\n## Faithfulness (parity mode = --hash sha256)\n")
    same = bool(np.array_equal(ref_ok, np.isfinite(scores["sha256 -j1"])))
    print(f"- eligible documents (length >= 100) identical: {same}")
    print(f"- max |Δ log-weight| parity vs reference over {int(both.sum()):,} eligible docs: "
          f"{np.max(np.abs(scores['sha256 -j1'][both] - ref_w[both])):.3e}")
    pairs = (("sha256 top-k", "reference top-k"), ("fast top-k", "sha256 top-k"),
             ("sha256 gumbel (reference noise)", "reference gumbel (np.random.seed(0))"))
    for a, b in pairs:
        print(f"- overlap {a} vs {b}: {len(np.intersect1d(sel[a], sel[b])) / args.k:.4f}")
    print("\n## Selections (precision = share of the target's domain, python; KL reduction in the reference's")
    print("sha256 feature space with 10,000 buckets, and in a finer sha256 space with 2**20 buckets)\n")
    print("| selection | precision | KL reduction (10k buckets) | KL reduction (2**20 buckets) |")
    print("|---|---:|---:|---:|")
    sel["random (for scale)"] = np.sort(np.random.default_rng(0).choice(len(texts), args.k, replace=False))
    for name, idx in sel.items():
        print(f"| {name} | {prec(idx):.4f} | {kl(idx):.4f} | {kl_wide(idx):.4f} |")


if __name__ == "__main__":
    main()
