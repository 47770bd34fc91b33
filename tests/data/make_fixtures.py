"""Rebuild the small test corpus from the shipped demo: ``python tests/data/make_fixtures.py``.

pool.*: 20 documents (several domains, one with non-ASCII text and nested fields) as .jsonl, .jsonl.gz,
a two-frame .jsonl.zst and .parquet; target.jsonl: 5 Python documents.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

HERE = Path(__file__).parent
DEMO = HERE.parent.parent / "sievekit" / "demo"


def main() -> None:
    docs = []
    packed = (DEMO / "pool" / "part-0000.jsonl.zst").read_bytes()
    for line in zstandard.ZstdDecompressor().decompressobj().decompress(packed).splitlines():
        rec = json.loads(line)
        if len([d for d in docs if d["domain"] == rec["domain"]]) < 4:
            docs.append({**rec, "text": rec["text"][:400]})
        if len(docs) == 19:
            break
    text = "Ünïcödé ✓ naïve café — 日本語のテキスト 🙂 \\ \"quoted\""
    docs.append({"id": "unicode-1", "text": text, "domain": "prose",
                 "source": "hand-made", "meta": {"tags": ["a", "b"], "score": 0.5, "flag": True, "none": None}})
    for i, d in enumerate(docs):
        d.setdefault("meta", {"n": i})
    body = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()
    (HERE / "pool.jsonl").write_bytes(body)
    (HERE / "pool.jsonl.gz").write_bytes(gzip.compress(body, mtime=0))
    half = body.index(b"\n", len(body) // 2) + 1
    cctx = zstandard.ZstdCompressor(level=3)
    (HERE / "pool.jsonl.zst").write_bytes(cctx.compress(body[:half]) + cctx.compress(body[half:]))
    table = pa.Table.from_pylist([{k: d[k] for k in ("id", "text", "domain", "source")} for d in docs])
    pq.write_table(table, HERE / "pool.parquet", row_group_size=7)
    target = []
    for line in (DEMO / "target.jsonl").read_text().splitlines()[:5]:
        rec = json.loads(line)
        target.append({**rec, "text": rec["text"][:400]})
    (HERE / "target.jsonl").write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in target))


if __name__ == "__main__":
    main()
