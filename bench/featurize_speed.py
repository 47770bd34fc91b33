"""The hashed n-gram featurizer before and after its vectorised rewrite, on the same real text, in one run.

    .venv/bin/python bench/featurize_speed.py [--mb 48] [--rounds 3] [--batch-size 1024] [--no-verify]

Builds a JSONL pool from real text on this machine (``bench/corpus.py``: CPython's ``Lib/**/*.py`` and the man
pages, chunked into documents of 0.2-8 KB, shuffled), writes it as .jsonl.zst (level 3), or reads ``--pool``, then
measures on that one pool:

  raw read    zstd decode + JSON parse (orjson) of every line: the floor any pass over the pool pays
  baseline    the featurizer as of commit ccc89a4 (``git show`` of ngrams.py and wordpunct.py into a temp module)
  numpy       ``sievekit.selectors.ngrams`` as checked out, its numpy path (``SIEVEKIT_JIT=0``)
  compiled    the same with its numba kernels (the ``fast`` extra; skipped when numba is missing)

for these workloads, in batches of ``--batch-size`` texts (the classifier's and DSIR's batch):

  classifier-score  the classifier's scoring pass: case kept, order 2, 2**20 buckets, fast hash, ``1 + log tf``,
                    L2-normalised, dot with float32 weights (``features.tf_scores``; baseline: its CSR, then numpy)
  classifier        the fit's rows: the same features as a CSR triple (``NgramFeaturizer.counts``)
  dsir              lowercased, order 2, 10000 buckets, fast hash; ``featurize(batch)`` then ``dot`` and ``lengths``
                    (``DsirSelector.score_batch``)
  dsir-sha256       the same with the reference's sha256 buckets (DSIR's parity mode; a fresh memo each round)

Times are CPU seconds of this process (``time.process_time``): the machine is shared, so wall time says little.
The implementations alternate round by round and each reports its best round; the kernels are loaded (from
numba's cache, or compiled) before the clock starts and that cost is printed on its own. MB counts the
uncompressed JSONL bytes (as in the issue's table), docs the documents. Unless ``--no-verify``, an untimed pass
checks that all of them give identical outputs on every batch: CSR triples, per-occurrence doc and bucket ids,
and the scores byte for byte.

Recorded 2026-11-27 on a 2-core VM shared with other jobs (load average 4-5), numpy 2.4.6, numba 0.68.1,
Python 3.11; the speed-ups vary by about +-10% from round to round, so compare ratios of one run only.

``.venv/bin/python bench/featurize_speed.py --pool bench/data/realistic/pool/part-0000.jsonl.zst --rounds 3
--workloads classifier-score,classifier,dsir`` (a shard of the realistic pool: PyPI, Debian and npm text)::

    pool: 13539 docs, 55.5 MB JSONL (50.3 MB of text, 14.1 MB .jsonl.zst); 9.9% of docs non-ASCII
    raw read (zstd + JSON)      0.34 CPU-s    164.0 MB/CPU-s     39980 docs/CPU-s
    workload         impl         CPU-s  MB/CPU-s  docs/CPU-s  x read   speed-up  (per round)
    kernels loaded (or compiled) in 0.69 CPU-s
    classifier-score baseline      4.92      11.3        2750   14.5x
    classifier-score numpy         2.10      26.5        6451    6.2x      2.35x  (2.45 2.18 2.42)
    classifier-score compiled      1.01      54.8       13353    3.0x      4.86x  (4.97 4.86 4.57)
                     identical outputs on all 14 batches
    classifier       baseline      4.34      12.8        3116   12.8x
    classifier       numpy         1.82      30.5        7440    5.4x      2.39x  (2.03 2.50 2.33)
    classifier       compiled      1.22      45.6       11120    3.6x      3.57x  (3.63 3.61 3.57)
                     identical outputs on all 14 batches
    dsir             baseline      3.45      16.1        3922   10.2x
    dsir             numpy         1.84      30.1        7347    5.4x      1.87x  (2.22 1.77 1.95)
    dsir             compiled      1.04      53.6       13067    3.1x      3.33x  (3.53 3.08 3.57)
                     identical outputs on all 14 batches

The kernels score 2.1x faster than the numpy path (1.01 vs 2.10 CPU-s), build the fit's rows 1.5x and DSIR's
occurrences 1.8x faster. Loading them from numba's cache costs each process 0.7-1.3 CPU-s (the line above is
that load after ``import numba``, which costs 0.6-0.7 more); compiling them, once per machine and source
version, about 12-15 CPU-s. An earlier run (numpy path only, load
about 7) measured the sha256 mode at 1.27x over the baseline: most of its time is hashlib's sha256 of each
distinct n-gram, unchanged.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import zstandard

from sievekit.selectors import features, ngram_jit, ngrams

sys.path.insert(0, str(Path(__file__).parent))
from corpus import documents  # noqa: E402

BASELINE = "ccc89a4eb8acf4a327374757299e85fce8afcd8d"  # the last commit before the rewrite
REPO = Path(__file__).resolve().parents[1]
# name -> (module, SIEVEKIT_JIT): the current featurizer's numpy path and its compiled kernels; the baseline is
# added once loaded.
IMPLS: dict[str, tuple[ModuleType, str]] = {"numpy": (ngrams, "0"), "compiled": (ngrams, "1")}

WORKLOADS: dict[str, dict[str, Any]] = {
    "classifier-score": {"buckets": 1 << 20, "order": 2, "lowercase": False, "hash": "fast"},
    "classifier": {"buckets": 1 << 20, "order": 2, "lowercase": False, "hash": "fast"},
    "dsir": {"buckets": 10000, "order": 2, "lowercase": True, "hash": "fast"},
    "dsir-sha256": {"buckets": 10000, "order": 2, "lowercase": True, "hash": "sha256"},
}


def load_baseline(tmp: Path) -> ModuleType:
    """The featurizer of commit ``BASELINE`` as an importable module ``baseline_ngrams``."""
    def show(name: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), "show", f"{BASELINE}:sievekit/selectors/{name}"],
                              capture_output=True, text=True, check=True).stdout

    (tmp / "baseline_wordpunct.py").write_text(show("wordpunct.py"))
    source = show("ngrams.py").replace("from sievekit.selectors.wordpunct import", "from baseline_wordpunct import")
    (tmp / "baseline_ngrams.py").write_text(source)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("baseline_ngrams")


def man_documents(target_bytes: int, seed: int = 1) -> list[dict[str, Any]]:
    """Documents of 0.2-8 KB cut from man pages (every seventh file, so every section and language shows up)."""
    rng, docs, size = random.Random(seed), [], 0
    for path in sorted(Path("/usr/share/man").rglob("*.gz"))[::7]:
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        pos = 0
        while pos < len(text) and size < target_bytes:
            n = rng.randint(200, 8000)
            docs.append({"id": f"m{len(docs)}", "text": text[pos:pos + n], "source": str(path), "lang": "roff"})
            size += len(json.dumps(docs[-1], ensure_ascii=False).encode()) + 1
            pos += n
        if size >= target_bytes:
            break
    return docs


def read_pool(path: Path) -> list[str]:
    """Decode and parse every line of a .jsonl.zst file; the texts."""
    import orjson

    with open(path, "rb") as fh:
        data = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True).read()
    return [orjson.loads(line)["text"] for line in data.splitlines()]


def old_scores(csr: tuple[np.ndarray, np.ndarray, np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The classifier's scores as ``Features.from_texts(...).dot(weights)`` computed them before the kernels."""
    indptr, indices, counts = csr
    values = 1.0 + np.log(counts)
    doc = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    norms = np.sqrt(np.bincount(doc, weights=values * values, minlength=len(indptr) - 1))
    values = values / norms[doc]
    return np.bincount(doc, weights=values * weights[indices], minlength=len(indptr) - 1)


def run(module: ModuleType, workload: str, texts: Sequence[str], batch_size: int) -> list[Any]:
    """One pass of ``workload`` over ``texts`` with ``module``'s featurizer; each batch's outputs."""
    featurizer = module.NgramFeaturizer(**WORKLOADS[workload])
    weights = np.linspace(-1.0, 1.0, featurizer.buckets).astype(np.float32).astype(np.float64)
    current = module is ngrams
    out = []
    for lo in range(0, len(texts), batch_size):
        batch = texts[lo: lo + batch_size]
        if workload == "classifier-score":  # the scoring pass: the score of every text, no rows kept
            out.append(features.tf_scores(featurizer, batch, weights) if current
                       else old_scores(featurizer.featurize(batch).to_csr(), weights))
        elif workload == "classifier":  # the fit's rows
            out.append(featurizer.counts(batch) if current else featurizer.featurize(batch).to_csr())
        else:
            feats = featurizer.featurize(batch)
            out.append((feats.dot(weights), feats.lengths()))
    return out


def cpu_seconds(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def verify(old: ModuleType, workload: str, texts: Sequence[str], batch_size: int) -> int:
    """Check that the baseline, the numpy path and the kernels give the same outputs (scores: the same bits) on
    every batch; the number of batches checked."""
    batches = 0
    for lo in range(0, len(texts), batch_size):
        outputs = []
        for module, jit in IMPLS.values():
            os.environ[ngram_jit.ENV] = jit
            outputs.append(run(module, workload, texts[lo: lo + batch_size], batch_size)[0])
        for other in outputs[1:]:
            flat = [np.asarray(a) for a in (other if isinstance(other, tuple) else (other,))]
            first = [np.asarray(a) for a in (outputs[0] if isinstance(outputs[0], tuple) else (outputs[0],))]
            if any(p.dtype != q.dtype or p.tobytes() != q.tobytes() for p, q in zip(first, flat, strict=True)):
                raise SystemExit(f"{workload}: outputs differ in the batch at document {lo}")
        batches += 1
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=48.0, help="uncompressed pool size in MB of JSONL")
    parser.add_argument("--man-share", type=float, default=0.25, help="share of the pool's bytes from man pages")
    parser.add_argument("--pool", help="measure this .jsonl.zst file instead (e.g. a shard of bench/data/realistic)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per implementation (best kept)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    parser.add_argument("--no-verify", action="store_true", help="skip the untimed identical-output check")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sievekit-bench-featurize-"))
    old = load_baseline(tmp)
    if args.pool:
        pool, source = Path(args.pool), args.pool
    else:
        man_bytes = int(args.mb * 1e6 * args.man_share)
        docs = documents(int(args.mb * 1e6) - man_bytes) + man_documents(man_bytes)
        random.Random(0).shuffle(docs)  # batches mix the sources, as a pool's would
        source = f"CPython sources + {100 * args.man_share:.0f}% man pages (by bytes)"
        pool = tmp / "pool.jsonl.zst"
        pool.write_bytes(zstandard.ZstdCompressor(level=3).compress(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()))
        del docs
    mb, texts = len(zstandard.ZstdDecompressor().decompressobj().decompress(pool.read_bytes())) / 1e6, read_pool(pool)
    text_mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    non_ascii = sum(not t.isascii() for t in texts)
    print(f"pool: {len(texts)} docs, {mb:.1f} MB JSONL ({text_mb:.1f} MB of text, {pool.stat().st_size / 1e6:.1f} MB "
          f".jsonl.zst), {source}; {100 * non_ascii / len(texts):.1f}% of docs non-ASCII; "
          f"baseline {BASELINE[:7]}; "
          f"batch {args.batch_size}; best of {args.rounds} rounds, CPU seconds")
    read_s = min(cpu_seconds(lambda: read_pool(pool)) for _ in range(args.rounds))
    print(f"{'raw read (zstd + JSON)':<24} {read_s:7.2f} CPU-s {mb / read_s:8.1f} MB/CPU-s {len(texts) / read_s:9.0f} "
          f"docs/CPU-s")
    print(f"{'workload':<16} {'impl':<10} {'CPU-s':>7} {'MB/CPU-s':>9} {'docs/CPU-s':>11} {'x read':>7}   "
          f"{'speed-up':>8}  (per round)")
    IMPLS["baseline"] = (old, "0")
    for name in ("numpy", "compiled"):  # the baseline first
        IMPLS[name] = IMPLS.pop(name)
    if ngram_jit.kernels() is None:
        del IMPLS["compiled"]
    else:  # compiled (or loaded from numba's cache) before the clock starts: its cost is printed on its own
        start = time.process_time()
        for workload in args.workloads.split(","):
            os.environ[ngram_jit.ENV] = "1"
            run(ngrams, workload, texts[:2], args.batch_size)
        print(f"kernels loaded (or compiled) in {time.process_time() - start:.2f} CPU-s")
    for workload in args.workloads.split(","):
        rounds: dict[str, list[float]] = {name: [] for name in IMPLS}
        for _ in range(args.rounds):
            for name, (module, jit) in IMPLS.items():
                os.environ[ngram_jit.ENV] = jit
                rounds[name].append(cpu_seconds(lambda m=module, w=workload: run(m, w, texts, args.batch_size)))
        best = {name: min(times) for name, times in rounds.items()}
        for name, times in rounds.items():
            s = best[name]
            per_round = " ".join(f"{o / n:.2f}" for o, n in zip(rounds["baseline"], times, strict=True))
            ratio = f"{best['baseline'] / s:7.2f}x  ({per_round})" if name != "baseline" else ""
            print(f"{workload:<16} {name:<10} {s:7.2f} {mb / s:9.1f} {len(texts) / s:11.0f} {s / read_s:6.1f}x   "
                  f"{ratio}")
        if not args.no_verify:
            print(f"{'':<16} identical outputs on all {verify(old, workload, texts, args.batch_size)} batches")


if __name__ == "__main__":
    main()
