"""Benchmark pools built from real text on this machine (never downloaded): CPython's sources and man pages."""

from __future__ import annotations

import gzip
import json
import random
import sysconfig
from pathlib import Path


def documents(target_bytes: int) -> list[dict]:
    """Real text chunked into documents until ``target_bytes`` of JSONL are reached."""
    docs: list[dict] = []
    size = 0
    for doc in iter_documents(10**9):
        docs.append(doc)
        size += len(json.dumps(doc, ensure_ascii=False).encode()) + 1
        if size >= target_bytes:
            break
    return docs


def iter_documents(n_docs: int, seed: int = 0):  # noqa: ANN201 - a generator of dicts
    """``n_docs`` documents of real text, streamed (the pool is never held in memory), cycling over the
    sources with different cut points on each round."""
    rng = random.Random(seed)
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    sources += sorted(Path("/usr/share/man").rglob("*.gz"))
    made = 0
    while made < n_docs:
        for path in sources:
            try:
                raw = path.read_bytes()
                text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8", "replace")
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            pos = rng.randint(0, 200)
            while pos < len(text) and made < n_docs:
                n = rng.randint(200, 8000)
                yield {"id": f"d{made}", "text": text[pos:pos + n], "source": str(path),
                       "lang": "py" if path.suffix == ".py" else "roff"}
                made += 1
                pos += n
            if made >= n_docs:
                return
