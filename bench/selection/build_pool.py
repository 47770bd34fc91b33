"""Build the labeled multi-domain selection benchmark from real text on this machine (nothing is downloaded).

Two pools, each with held-out target sets:
  files/   whole files (300 B to 32 KB) as documents
  chunks/  the same kinds of files cut at line breaks into 300 B to 8 KB pieces (log-uniform sizes)

Domains: python (stdlib and installed packages), c (C headers), shell (scripts), perl, javascript, man
(troff sources), markup (Markdown and reStructuredText docs), license (license and copyright texts), pydoc
(the Python help topics). Files are grouped by a key (their path inside the stdlib or site-packages, or
their name) and whole groups are held out, so a target's source file, or another copy or version of it,
never appears in the pool. Exact duplicate texts are dropped first.

Tasks (one target set each): python, c, shell, man, markup, and the hard sub-style task numpydoc (Python
with numpydoc docstring sections among all Python; relevant = Python documents holding such a section).

Output under bench/data/selection/<pool>/: pool/part-000N.jsonl.zst (records: id, text, domain, source,
numpydoc), targets/<task>.jsonl, and meta.json (counts, sizes, seed).

Usage: python bench/selection/build_pool.py [--seed 0] [--out bench/data/selection] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import math
import os
import random
import re
import site
import sys
import sysconfig
from collections import defaultdict
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parents[2]
NUMPYDOC = re.compile(r"^[ \t]*(Parameters|Returns|Yields|Raises|See Also|Notes|Examples|Attributes|Methods|"
                      r"Other Parameters|References|Warns)[ \t]*\n[ \t]*-{3,}[ \t]*$", re.M)
MAX_READ = 256 * 1024
SHELL = re.compile(rb"^#![^\n]*\b(ba|da|z|k)?sh\b")
POOL_QUOTA = {"python": 1200, "c": 450, "shell": 160, "perl": 300, "javascript": 300, "man": 450, "markup": 300,
              "license": 150, "pydoc": 60}
TASKS = ("python", "c", "shell", "man", "markup", "numpydoc")
TARGETS_PER_TASK = 200
HELD_OUT_SHARE = 0.25


def site_dirs() -> list[str]:
    dirs = set(site.getsitepackages()) | {sysconfig.get_paths()["purelib"]}
    base = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    dirs.add(str(base))
    return sorted(d for d in dirs if os.path.isdir(d))


def group_key(path: str) -> str:
    """Copies and versions of one file share a key, so they land on the same side of the split."""
    for marker in ("site-packages/", "node_modules/"):
        if marker in path:
            return path.split(marker, 1)[1]
    stdlib = sysconfig.get_paths()["stdlib"] + "/"
    if path.startswith(stdlib):
        return path[len(stdlib):]
    return os.path.basename(path)


def walk(roots: list[str], suffixes: tuple[str, ...]) -> list[str]:
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
            out.extend(os.path.join(dirpath, f) for f in filenames if f.endswith(suffixes))
    return sorted(set(out))


def sources() -> dict[str, list[str]]:
    """Candidate files per domain (sorted paths)."""
    stdlib = sysconfig.get_paths()["stdlib"]
    py = [p for p in walk([stdlib], (".py",)) if "site-packages" not in p] + walk(site_dirs(), (".py",))
    c = walk(["/usr/include", sysconfig.get_paths()["include"]], (".h",))
    shell_candidates = walk(["/usr/lib", "/usr/share", "/etc"], (".sh", ".bash"))
    shell_candidates += [p for d in ("/usr/bin", "/usr/sbin") for p in sorted(glob.glob(d + "/*"))]
    shell = [p for p in sorted(set(shell_candidates)) if _is_shell(p)]
    arch = "/usr/lib/x86_64-linux-gnu"
    perl = walk(["/usr/share/perl", "/usr/share/perl5", f"{arch}/perl", f"{arch}/perl5", f"{arch}/perl-base"],
                (".pm", ".pl"))
    js = walk(["/usr/lib/node_modules", "/usr/share/nodejs"], (".js",))
    man = sorted(glob.glob("/usr/share/man/man[1-8]/*.gz"))
    doc_roots = ["/usr/share/doc", "/usr/lib/node_modules", *sorted(glob.glob("/usr/share/cmake*/Help"))]
    markup = walk(site_dirs() + doc_roots, (".md", ".rst"))
    lic = sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(glob.glob("/usr/share/doc/*/copyright"))
    lic += [p for d in site_dirs() for p in sorted(glob.glob(d + "/*.dist-info/LICENSE*"))]
    return {"python": py, "c": c, "shell": shell, "perl": perl, "javascript": js, "man": man, "markup": markup,
            "license": lic, "pydoc": ["pydoc_data"]}


def _is_shell(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return bool(SHELL.match(fh.read(128)))
    except OSError:
        return False


def read_texts(domain: str, path: str) -> list[tuple[str, str]]:
    """(source, text) pairs from one path; pydoc yields one pair per help topic."""
    if domain == "pydoc":
        from pydoc_data.topics import topics

        return [(f"pydoc_data/topics.py#{k}", v) for k, v in sorted(topics.items())]
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                raw = fh.read(MAX_READ)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_READ)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return []
    if "\x00" in text or (domain == "javascript" and _minified(text)):
        return []
    return [(path, text)]


def _minified(text: str) -> bool:
    lines = text.count("\n") + 1
    return len(text) / lines > 200


def split_groups(domain_files: dict[str, list[tuple[str, str]]], seed: int) -> dict[str, dict[str, list]]:
    """Per domain: the (source, text) items of held-out groups and of pool groups, each in seeded order."""
    seen: set[bytes] = set()
    out: dict[str, dict[str, list]] = {}
    for domain, items in domain_files.items():
        groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for source, text in items:
            digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if digest in seen or not text.strip():
                continue
            seen.add(digest)
            groups[group_key(source)].append((source, text))
        keys = sorted(groups)
        random.Random(f"{seed}-{domain}").shuffle(keys)
        cut = max(1, int(len(keys) * HELD_OUT_SHARE))
        out[domain] = {"held": [it for k in keys[:cut] for it in groups[k]],
                       "pool": [it for k in keys[cut:] for it in groups[k]]}
    return out


def chunks(text: str, rng: random.Random, lo: int = 300, hi: int = 8000) -> list[str]:
    """Cut at line breaks into pieces of log-uniform target size in [lo, hi] bytes (a short tail is dropped)."""
    out, start = [], 0
    while start < len(text):
        size = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        piece = text[start:end]
        if lo <= len(piece.encode("utf-8", "surrogatepass")) <= hi * 1.5:
            out.append(piece)
        start = end
    return out


def documents(items: list[tuple[str, str]], kind: str, rng: random.Random, per_file: int) -> list[tuple[str, str]]:
    docs = []
    for source, text in items:
        if kind == "files":
            if 300 <= len(text.encode("utf-8", "surrogatepass")) <= 32 * 1024:
                docs.append((source, text))
        else:
            pieces = chunks(text, rng)
            rng.shuffle(pieces)
            docs.extend((source, p) for p in pieces[:per_file])
    return docs


def build(kind: str, split: dict[str, dict[str, list]], seed: int, scale: float, out: Path) -> dict:
    rng = random.Random(f"{seed}-{kind}")
    pool: list[dict] = []
    held: dict[str, list[tuple[str, str]]] = {}
    for domain in sorted(split):
        docs = documents(split[domain]["pool"], kind, rng, per_file=3)
        rng.shuffle(docs)
        for source, text in docs[: int(POOL_QUOTA[domain] * scale)]:
            pool.append({"text": text, "domain": domain, "source": source,
                         "numpydoc": bool(domain == "python" and NUMPYDOC.search(text))})
        held[domain] = documents(split[domain]["held"], kind, rng, per_file=2)
        rng.shuffle(held[domain])
    rng.shuffle(pool)
    for i, rec in enumerate(pool):
        rec["id"] = f"{kind}-{i:05d}"
    targets = {task: _targets(task, held) for task in TASKS}
    _write(out / kind, pool, targets)
    sources_in_pool = {r["source"] for r in pool}
    for task, docs in targets.items():  # the hold-out rule, checked rather than assumed
        assert not sources_in_pool & {d["source"] for d in docs}, f"{kind}/{task}: a target source is in the pool"
    return _meta(kind, pool, targets, seed)


def _targets(task: str, held: dict[str, list[tuple[str, str]]]) -> list[dict]:
    items = [(s, t) for s, t in held["python"] if NUMPYDOC.search(t)] if task == "numpydoc" else held[task]
    return [{"id": f"t-{task}-{i:04d}", "text": t, "source": s} for i, (s, t) in enumerate(items[:TARGETS_PER_TASK])]


def _write(out: Path, pool: list[dict], targets: dict[str, list[dict]], shards: int = 4) -> None:
    (out / "pool").mkdir(parents=True, exist_ok=True)
    (out / "targets").mkdir(exist_ok=True)
    cctx = zstandard.ZstdCompressor(level=3)
    for s in range(shards):
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pool[s::shards])
        (out / "pool" / f"part-{s:04d}.jsonl.zst").write_bytes(cctx.compress(lines.encode("utf-8", "surrogatepass")))
    for task, docs in targets.items():
        (out / "targets" / f"{task}.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))


def _meta(kind: str, pool: list[dict], targets: dict[str, list[dict]], seed: int) -> dict:
    domains: dict[str, int] = defaultdict(int)
    for r in pool:
        domains[r["domain"]] += 1
    sizes = sorted(len(r["text"].encode("utf-8", "surrogatepass")) for r in pool)
    return {"kind": kind, "seed": seed, "docs": len(pool), "bytes": sum(sizes), "median_bytes": sizes[len(sizes) // 2],
            "domains": dict(sorted(domains.items())), "numpydoc_docs": sum(r["numpydoc"] for r in pool),
            "targets": {t: len(d) for t, d in targets.items()},
            "target_bytes": {t: sum(len(x["text"].encode("utf-8", "surrogatepass")) for x in d)
                             for t, d in targets.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "selection")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every domain's pool quota")
    args = ap.parse_args()
    found = sources()
    domain_files = {d: [it for p in paths for it in read_texts(d, p)] for d, paths in found.items()}
    split = split_groups(domain_files, args.seed)
    metas = [build(kind, split, args.seed, args.scale, args.out) for kind in ("files", "chunks")]
    for meta in metas:
        (args.out / meta["kind"] / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
