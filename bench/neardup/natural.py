"""Build a pool of natural near duplicates: releases of the same packages, and two copies of CPython's stdlib.

Two pools, each from the archives of its set (``SETS``), fetched once with pip (the only network the machines
have) into ``<out>/archives`` (gitignored):
    python bench/neardup/natural.py --fetch            # the 16k pool: bench/data/natural
    python bench/neardup/natural.py --set large --fetch  # the 134k pool: bench/data/natural-large
- ``small``: two releases of each of Django (sdists: code, docs, tests, translations), SQLAlchemy, Sphinx,
  pytest, attrs, httpx, requests, Tornado, Flask, Jinja2 and pandas (wheels): 16,342 documents, 195 MB.
- ``large``: ``small`` plus a third release of each of those, three releases of sympy, SciPy, NumPy, matplotlib,
  scikit-learn, astropy, networkx, Faker, Pygments, docutils, setuptools, pip, ansible-core, mypy and jedi (both
  vendor typeshed), two of transformers (whose model files are "Copied from" one another) and two of Home
  Assistant (2024.1 and 2024.12: ~37k small files each, integrations and their translations).
Every text file of every archive is a document (id ``<archive>/<path>``), as is every ``.py`` file of the two
CPython 3.11 standard libraries on this machine (/usr/lib/python3.11 and the interpreter's own), shuffled into
shards of 5,000.

Ground truth (``truth.jsonl``): the true Jaccard of the 5-word shingle sets (lowercased, split on non-word
characters; 64-bit shingle hashes under a seed no run uses) of every pair of documents that could be near
duplicates: the same path in two releases of a package, and every pair that shares a band of a permissive
LSH (32 bands x 4 rows of 128 slots: it misses a pair at J = 0.6 with probability 0.012, at 0.7 with 0.0002;
a bucket of more than 200 documents is checked hub against members only).
Exact copies (same normalised words) are collapsed first; pairs are between their first copies, and pairs with
J >= 0.5 are kept.

Usage:  python bench/neardup/natural.py [--set small|large] [--fetch] [--out DIR] [--archives DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_pool  # noqa: E402

from sievekit.duplicates.banding import band_keys  # noqa: E402
from sievekit.duplicates.minhash import Signer  # noqa: E402

TEXT = {".py", ".pyi", ".rst", ".txt", ".md", ".html", ".js", ".css", ".po", ".cfg", ".toml", ".ini", ".jinja",
        ".j2", ".json", ".c", ".h", ".pyx", ".pxd", ".tex", ".svg", ".xml", ".yml", ".yaml", ".sh", ".bat"}
MAX_BYTES = 1 << 20
SHARD_DOCS = 5000
TRUTH_SEED = 7919
MAX_GROUP = 200
# (pip requirement, sdist?) per set; wheels are fetched for CPython 3.11 on x86-64 Linux (Home Assistant: 3.12).
_SMALL_WHEELS = [f"{name}=={v}" for name, versions in {
    "sqlalchemy": "2.0.0 2.0.36", "sphinx": "7.2.6 8.1.3", "pytest": "7.4.4 8.3.3", "attrs": "23.1.0 24.2.0",
    "httpx": "0.24.1 0.27.2", "requests": "2.28.2 2.32.3", "tornado": "6.3.3 6.4.1", "flask": "2.3.3 3.0.3",
    "jinja2": "3.0.3 3.1.4", "pandas": "2.1.4 2.2.3"}.items() for v in versions.split()]
_LARGE_WHEELS = [f"{name}=={v}" for name, versions in {
    "sympy": "1.11.1 1.12 1.13.3", "scipy": "1.11.4 1.13.1 1.14.1", "numpy": "1.26.4 2.0.2 2.1.3",
    "matplotlib": "3.7.5 3.8.4 3.9.2", "transformers": "4.40.2 4.46.3", "jedi": "0.18.2 0.19.1 0.19.2",
    "scikit-learn": "1.3.2 1.4.2 1.5.2", "astropy": "5.3.4 6.0.1 6.1.4", "networkx": "3.1 3.2.1 3.4.2",
    "faker": "19.13.0 24.14.1 30.8.2", "pygments": "2.15.1 2.17.2 2.18.0", "docutils": "0.19 0.20.1 0.21.2",
    "setuptools": "68.2.2 69.5.1 75.3.0", "pip": "23.2.1 24.0 24.3.1", "ansible-core": "2.15.13 2.16.14 2.17.7",
    "mypy": "1.8.0 1.11.2 1.13.0", "sqlalchemy": "2.0.20", "sphinx": "7.4.7", "pytest": "8.0.2", "attrs": "23.2.0",
    "httpx": "0.26.0", "requests": "2.31.0", "tornado": "6.4", "flask": "3.0.0", "jinja2": "3.1.2",
    "pandas": "2.0.3"}.items() for v in versions.split()]
SETS: dict[str, list[tuple[str, str]]] = {
    "small": [(r, "3.11") for r in _SMALL_WHEELS] + [("django==4.2.0", "sdist"), ("django==4.2.16", "sdist")],
    "large": [(r, "3.11") for r in _SMALL_WHEELS + _LARGE_WHEELS]
    + [("django==4.2.0", "sdist"), ("django==4.2.8", "sdist"), ("django==4.2.16", "sdist"),
       ("homeassistant==2024.1.6", "3.12"), ("homeassistant==2024.12.5", "3.12")],
}
RELEASE = re.compile(r"^([A-Za-z0-9_.]+?)-(\d[^-/]*?)(\.tar\.gz|-py3-.*\.whl|-cp\d.*\.whl|/.*)?$")


def package_of(archive: str) -> str:
    m = RELEASE.match(archive)
    return (m.group(1) if m else archive).lower()


def archive_files(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if Path(name).suffix in TEXT and z.getinfo(name).file_size <= MAX_BYTES:
                    yield name, z.read(name)
        return
    with tarfile.open(path) as t:
        for m in sorted(t.getmembers(), key=lambda m: m.name):
            if m.isfile() and Path(m.name).suffix in TEXT and m.size <= MAX_BYTES:
                fh = t.extractfile(m)
                if fh is not None:
                    yield m.name.split("/", 1)[-1], fh.read()


def stdlib_files() -> Iterator[tuple[str, str, bytes]]:
    for root in sorted({Path("/usr/lib/python3.11"), Path(sysconfig.get_paths()["stdlib"])}):
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*.py")):
            if not {"site-packages", "dist-packages"} & set(p.parts):
                yield f"stdlib-{root}", str(p.relative_to(root)), p.read_bytes()


def documents(archives: Path) -> list[dict]:
    """Every text file as ``{"id", "text", "package", "path"}`` (undecodable and blank files skipped)."""
    raw: list[tuple[str, str, str, bytes]] = []
    for path in sorted(archives.iterdir()):
        if path.suffix in (".whl", ".gz"):
            raw += [(path.name, package_of(path.name), name, data) for name, data in archive_files(path)]
    raw += [(src, "cpython-stdlib", name, data) for src, name, data in stdlib_files()]
    docs = []
    for src, pkg, name, data in raw:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.strip():
            docs.append({"id": f"{src}/{name}", "text": text, "package": pkg, "path": name})
    return docs


def shingle_sets(texts: list[str]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per document: sorted unique 64-bit shingle hashes; plus exact keys and 128-slot signatures."""
    signer = Signer(num_perm=128, ngram=5, seed=TRUTH_SEED)
    sets, exact, sigs = [], [], []
    for lo in range(0, len(texts), 512):
        chunk = texts[lo:lo + 512]
        hashes, doc, tokens = signer.shingles(chunk)
        order = np.lexsort((hashes, doc))
        h, d = hashes[order], doc[order]
        bounds = np.searchsorted(d, np.arange(len(chunk) + 1))
        sets += [np.unique(h[bounds[i]:bounds[i + 1]]) for i in range(len(chunk))]
        exact.append(tokens.exact)
        sigs.append(signer.sign(chunk)[0])
    return sets, np.concatenate(exact), np.concatenate(sigs)


def candidates(docs: list[dict], reps: list[int], sigs: np.ndarray) -> set[tuple[int, int]]:
    """Same path in two releases of one package, and pairs sharing a band of a permissive LSH (among reps)."""
    out: set[tuple[int, int]] = set()
    by_path: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in reps:
        by_path[(docs[i]["package"], docs[i]["path"])].append(i)
    for group in by_path.values():
        out |= set(itertools.combinations(sorted(group), 2))
    rep_arr = np.array(reps, dtype=np.int64)
    for band in range(32):
        keys = band_keys(sigs[rep_arr], band, 4, TRUTH_SEED)
        order = np.argsort(keys, kind="stable")
        k, members = keys[order], rep_arr[order]
        starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
        for lo, hi in zip(starts.tolist(), starts[1:].tolist() + [len(k)], strict=True):
            group = sorted(members[lo:hi].tolist())
            if len(group) > MAX_GROUP:  # a huge bucket (tiny documents): its hub against every member
                out |= {(group[0], g) for g in group[1:]}
            elif len(group) > 1:
                out |= set(itertools.combinations(group, 2))
    return out


def fetch(which: str, archives: Path) -> None:
    """``pip download`` every archive of the set that is not there yet (wheels, or sdists for Django)."""
    archives.mkdir(parents=True, exist_ok=True)
    for req, kind in SETS[which]:
        how = ["--no-binary", ":all:"] if kind == "sdist" else \
            ["--only-binary", ":all:", "--python-version", kind, "--platform", "manylinux2014_x86_64"]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *how, "-d", str(archives), req],
                       check=True)


def build(archives: Path, out: Path, seed: int = 0) -> None:
    docs = documents(archives)
    random.Random(seed).shuffle(docs)
    sets, exact, sigs = shingle_sets([d["text"] for d in docs])
    first: dict[bytes, int] = {}
    rep = [first.setdefault(exact[i].tobytes(), i) for i in range(len(docs))]
    reps = sorted(set(rep))
    truth = []
    for a, b in sorted(candidates(docs, reps, sigs)):
        inter = len(np.intersect1d(sets[a], sets[b], assume_unique=True))
        j = inter / (len(sets[a]) + len(sets[b]) - inter)
        if j >= 0.5:
            truth.append({"a": docs[a]["id"], "b": docs[b]["id"], "j": round(j, 4), "same": True})
    write_pool(out, [{"id": d["id"], "text": d["text"], "label": docs[rep[i]]["id"]} for i, d in enumerate(docs)],
               truth, SHARD_DOCS)
    bands = {f"[{lo / 10:.1f},{(lo + 1) / 10:.1f})": sum(lo / 10 <= t["j"] < (lo + 1) / 10 for t in truth)
             for lo in range(5, 10)}
    meta = {"documents": len(docs), "mb": round(sum(len(d["text"].encode()) for d in docs) / 1e6, 1),
            "exact_groups": len(reps), "pairs_by_jaccard": {**bands, "1.0": sum(t["j"] >= 1.0 for t in truth)}}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{out}: {json.dumps(meta)}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--set", default="small", choices=list(SETS), help="which archives (see SETS)")
    ap.add_argument("--fetch", action="store_true", help="pip download the set's archives first")
    ap.add_argument("--out", help="default: bench/data/natural (small) or bench/data/natural-large (large)")
    ap.add_argument("--archives", help="default: OUT/archives")
    args = ap.parse_args()
    out = Path(args.out or ROOT / "bench" / "data" / ("natural" if args.set == "small" else f"natural-{args.set}"))
    archives = Path(args.archives) if args.archives else out / "archives"
    if args.fetch:
        fetch(args.set, archives)
    build(archives, out)


if __name__ == "__main__":
    main()
