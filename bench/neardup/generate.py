"""Build a labeled near-duplicate benchmark from real text on this machine (nothing is downloaded).

Sources: Python standard-library modules (and their tests), man pages (/usr/share/man, read through gzip),
and the shipped demo corpus, cut into documents of 150-700 words; a source that shares more than 10% of its
5-word shingles with an earlier one is skipped, so distinct clusters really are distinct. From them:

- clusters: a source plus variants of graded strength: exact copies; formatting only (case, spacing,
  punctuation); light (1-3% word edits); medium (4-8% edits plus a boilerplate header or footer, a
  truncation and a block swap); heavy (10-20% edits and a 20% truncation);
- distinct documents (singletons);
- hard negatives: groups of different documents that share the same long boilerplate block (a licence
  text from /usr/share/common-licenses).

Ground truth: every document's cluster label and kind, and the exact Jaccard of the 5-word shingle sets
(lowercased, split on non-word characters, as sievekit does) of every pair inside a cluster or a
hard-negative group. Output: bench/data/neardup-N/pool/part-XXXX.jsonl (1000 documents a shard), truth.jsonl.

Usage:  python bench/neardup/generate.py --docs 4000 [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import re
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile(r"\w+")
SHARD_DOCS = 1000
KINDS = ("exact", "format", "light", "medium", "heavy")


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)}
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def raw_texts(rng: random.Random):
    """Real texts, interleaved from the three kinds of source."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    py = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    man = sorted(p for p in Path("/usr/share/man/man1").glob("*.gz") if not p.name.startswith("gcloud"))
    man += sorted(p for p in Path("/usr/share/man").glob("man[2-8]/*.gz"))
    rng.shuffle(py)
    rng.shuffle(man)

    def py_texts():
        for p in py:
            yield p.read_text(encoding="utf-8", errors="replace")

    def man_texts():
        for p in man:
            try:
                yield gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")
            except OSError:
                continue

    def demo_texts():
        sys.path.insert(0, str(ROOT))
        from sievekit.io import ReadOptions, iter_batches, resolve_inputs

        for shard in resolve_inputs([str(ROOT / "sievekit/demo/pool")]):
            for batch in iter_batches(shard, ReadOptions(), all_columns=False):
                yield from batch.texts

    for group in itertools.zip_longest(py_texts(), man_texts(), demo_texts()):
        yield from (t for t in group if t)


def sources(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct documents of 150-700 words cut from real texts."""
    seen: set[int] = set()
    out: list[str] = []
    for text in raw_texts(rng):
        lines = text.splitlines(keepends=True)
        i = 0
        while i < len(lines) and len(out) < count:
            want = rng.randint(150, 700)
            j, words = i, 0
            while j < len(lines) and words < want:
                words += len(lines[j].split())
                j += 1
            chunk = "".join(lines[i:j])
            i = j
            if words < 100:
                continue
            keys = {hash(s) for s in shingles(chunk)}
            if len(keys & seen) > 0.1 * len(keys):
                continue
            seen |= keys
            out.append(chunk)
        if len(out) >= count:
            return out
    raise SystemExit(f"only {len(out)} distinct sources found on this machine (asked for {count})")


def edit_words(text: str, rate: float, rng: random.Random, vocab: list[str]) -> str:
    """Substitute, delete or insert about ``rate`` of the words (whitespace-separated), keeping the layout."""
    parts = re.split(r"(\s+)", text)
    idx = [i for i in range(0, len(parts), 2) if parts[i]]
    for i in rng.sample(idx, min(len(idx), max(1, round(rate * len(idx))))):
        op = rng.random()
        if op < 0.5:
            parts[i] = rng.choice(vocab)
        elif op < 0.75:
            parts[i] = ""
        else:
            parts[i] = parts[i] + " " + rng.choice(vocab)
    return "".join(parts)


def reformat(text: str, rng: random.Random) -> str:
    words = text.split()
    out = []
    for w in words:
        r = rng.random()
        out.append(w.upper() if r < 0.05 else w.capitalize() if r < 0.1 else w)
        out.append(rng.choice([" ", " ", "  ", "\n", ", ", " - "]))
    return "".join(out)


def block_swap(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    if len(words) < 20:
        return text
    a, b = sorted(rng.sample(range(1, len(words)), 2))
    return " ".join(words[b:] + words[a:b] + words[:a])


BOILER = ["Copyright (c) {y} {o}. All rights reserved. Redistribution is permitted under the terms of the licence.",
          "This page was generated automatically from the {o} documentation sources on {y}; do not edit by hand.",
          "Subscribe to the {o} newsletter for updates. Privacy policy. Terms of use. Contact us. Site map. {y}"]


def variant(src: str, kind: str, rng: random.Random, vocab: list[str]) -> str:
    if kind == "exact":
        return src
    if kind == "format":
        return reformat(src, rng)
    if kind == "light":
        return edit_words(src, rng.uniform(0.01, 0.03), rng, vocab)
    if kind == "medium":
        text = edit_words(src, rng.uniform(0.04, 0.08), rng, vocab)
        text = block_swap(text[: int(len(text) * rng.uniform(0.9, 1.0))], rng)
        boiler = rng.choice(BOILER).format(y=rng.randint(1990, 2025), o=rng.choice(["Acme", "Initech", "Globex"]))
        return boiler + "\n" + text if rng.random() < 0.5 else text + "\n" + boiler
    text = edit_words(src, rng.uniform(0.10, 0.20), rng, vocab)
    return text[: int(len(text) * 0.8)]


def licence_blocks(rng: random.Random) -> list[str]:
    paths = sorted(Path("/usr/share/common-licenses").glob("*"))
    texts = [p.read_text(errors="replace") for p in paths if p.is_file()]
    blocks = []
    for t in texts:
        words = t.split()
        for i in range(0, max(1, len(words) - 300), 400):
            blocks.append(" ".join(words[i:i + rng.randint(150, 300)]))
    return blocks


def build(n_docs: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    n_src = int(n_docs * 0.55)
    srcs = sources(n_src, rng)
    vocab = sorted({w for s in srcs[:200] for w in s.split() if w.isalpha()})
    licences = licence_blocks(rng)
    docs: list[dict] = []
    truth: list[dict] = []
    s = 0
    while len(docs) < n_docs and s < len(srcs):
        r = rng.random()
        label = f"c{s}"
        if r < 0.45:  # a cluster of 2-6: the source and graded variants
            members = [("source", srcs[s])] + [(k, variant(srcs[s], k, rng, vocab)) for k in
                                               rng.choices(KINDS, weights=[1, 2, 4, 3, 2], k=rng.randint(1, 5))]
            s += 1
        elif r < 0.55 and s + 3 < len(srcs):  # hard negatives: different documents, one shared licence block
            block = rng.choice(licences)
            n = rng.randint(2, 4)
            members = [("hardneg", block + "\n" + srcs[s + i][: max(200, len(srcs[s + i]) // 2)]) for i in range(n)]
            label = None
            s += n
        else:
            members = [("distinct", srcs[s])]
            s += 1
        start = len(docs)
        for i, (kind, text) in enumerate(members):
            docs.append({"id": f"d{len(docs):06d}", "text": text, "label": label or f"h{start}-{i}", "kind": kind})
        sets = [shingles(t) for _, t in members]
        for i, j in itertools.combinations(range(len(members)), 2):
            truth.append({"a": docs[start + i]["id"], "b": docs[start + j]["id"],
                          "j": round(jaccard(sets[i], sets[j]), 4), "same": label is not None,
                          "kinds": [members[i][0], members[j][0]]})
    # shuffle so clusters spread across shards (a fixed permutation, seeded)
    order = list(range(len(docs)))
    rng.shuffle(order)
    return [docs[i] for i in order], truth


def write_pool(out: Path, records: list[dict], truth: list[dict], shard_docs: int = SHARD_DOCS) -> None:
    """The pool as JSONL shards of ``shard_docs`` records under ``out/pool`` (replacing any before), and the
    ground truth as ``out/truth.jsonl``."""
    pool = out / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    for old in pool.glob("*.jsonl"):
        old.unlink()
    for k in range(0, len(records), shard_docs):
        with open(pool / f"part-{k // shard_docs:04d}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in records[k:k + shard_docs])
    with open(out / "truth.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(t) + "\n" for t in truth)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "data"))
    args = ap.parse_args(argv)
    docs, truth = build(args.docs, args.seed)
    out = Path(args.out) / f"neardup-{args.docs}"
    write_pool(out, docs, truth)
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    kinds: dict[str, int] = {}
    for d in docs:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    print(f"{out}: {len(docs)} documents ({mb:.1f} MB of text), {len(truth)} labeled pairs, kinds {kinds}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
