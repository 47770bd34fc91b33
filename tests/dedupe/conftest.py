"""Fixtures for the dedupe tests: a small pool with known exact and near duplicates."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from dedupe_corpus import edit, make_doc, write_jsonl


@pytest.fixture
def dup_pool(tmp_path: Path) -> Path:
    """Two shards: d3 is d0 reformatted (exact), d4 is d1 with 1% of words edited (near), d8 is d7 with
    punctuation (exact, both shorter than a shingle); d6 shares 60% of d0's words (not a duplicate)."""
    rng = random.Random(7)
    d0, d1, d2, d5 = (make_doc(rng, 300) for _ in range(4))
    docs = {
        "d0": d0, "d1": d1, "d2": d2, "d3": "  " + d0.upper().replace(" ", ",  "), "d4": edit(d1, 0.01, rng),
        "d5": d5, "d6": edit(d0, 0.4, rng), "d7": "hello world", "d8": "Hello, World!",
    }
    pool = tmp_path / "pool"
    pool.mkdir()
    a = [{"id": k, "text": docs[k], "n": i} for i, k in enumerate(["d0", "d1", "d2", "d3"])]
    b = [{"id": k, "text": docs[k], "n": 4 + i} for i, k in enumerate(["d4", "d5", "d6", "d7", "d8"])]
    write_jsonl(pool / "a.jsonl", a)
    write_jsonl(pool / "b.jsonl", b)
    return pool

