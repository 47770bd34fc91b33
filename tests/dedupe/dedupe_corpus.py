"""Helpers for the dedupe tests: documents built from the words of the test pool (seeded, so always the same)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

DATA = Path(__file__).parent.parent / "data"


def vocabulary() -> list[str]:
    text = (DATA / "pool.jsonl").read_text(encoding="utf-8")
    return sorted({w for w in re.findall(r"[a-z]{3,}", text.lower())})


def make_doc(rng: random.Random, words: int) -> str:
    vocab = vocabulary()
    return " ".join(rng.choice(vocab) for _ in range(words))


def edit(text: str, share: float, rng: random.Random) -> str:
    """Replace about ``share`` of the words by other words."""
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, round(share * len(words)))):
        words[i] = "zz" + words[i]
    return " ".join(words)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


EXPECTED_KEPT = ["d0", "d1", "d2", "d5", "d6", "d7"]


def read_records(path: Path) -> list[dict]:
    """Every record of the shards under ``path`` (any format), in manifest order."""
    from sievekit.io import ReadOptions, iter_batches, resolve_inputs

    out: list[dict] = []
    for shard in resolve_inputs([str(path)]):
        if shard.name in ("manifest.json", "clusters.jsonl"):
            continue
        for batch in iter_batches(shard, ReadOptions()):
            out.extend(batch.records())
    return out


def graded_pairs_pool(folder: Path, seed: int, length_step: int, edit_step: float, shards: int = 3) -> list[str]:
    """40 documents, 20 pairs of a text and its edit by ``edit_step * (k % 10)``, dealt round-robin into
    ``shards`` JSONL shards under ``folder`` (ids are positions); returns the texts in pool order."""
    rng = random.Random(seed)
    texts: list[str] = []
    for k in range(20):
        base = make_doc(rng, 200 + length_step * k)
        texts += [base, edit(base, edit_step * (k % 10), rng)]
    folder.mkdir()
    for s in range(shards):
        write_jsonl(folder / f"p{s}.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts) if i % shards == s])
    return texts
