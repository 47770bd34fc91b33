"""Build the demo corpus sievekit ships, from text in CPython's own distribution (PSF License v2).

    python scripts/build_demo.py [--out sievekit/demo]

Pool (4 shards, 3 zstd JSONL + 1 Parquet): chunks of Python modules, C headers, the language reference
and library docs (pydoc topics), e-mail messages and IDLE's changelog (all from CPython), man pages and
license texts (from Debian's /usr/share, each under its package's own free license), plus a few exact
copies and lightly edited copies, as real pools have. Target: chunks of Python modules held out of the pool.
Every record: id, text, domain, source (the file it came from). Deterministic for a given Python.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

LIB = Path(sysconfig.get_paths()["stdlib"])
INCLUDE = Path(sysconfig.get_paths()["include"])
MAX_CHARS = 6000
MIN_CHARS = 300


def chunks(text: str, boundary: str) -> list[str]:
    """Split at lines matching ``boundary`` and pack the pieces into chunks of at most MAX_CHARS."""
    pieces = re.split(f"(?m)(?={boundary})", text)
    out, cur = [], ""
    for piece in pieces:
        if cur and len(cur) + len(piece) > MAX_CHARS:
            out.append(cur)
            cur = ""
        cur += piece
    if cur:
        out.append(cur)
    return [c[:MAX_CHARS] for c in out if len(c.strip()) >= MIN_CHARS]


def python_files() -> list[Path]:
    return sorted(p for p in LIB.glob("*.py") if not p.name.startswith("_"))


def gather(held_out: set[str]) -> tuple[list[dict], list[dict]]:
    pool, target = [], []
    for path in python_files():
        for text in chunks(path.read_text(encoding="utf-8", errors="replace"), r"^(?:def |class |@)"):
            rec = {"text": text, "domain": "python", "source": f"Lib/{path.name}"}
            (target if path.name in held_out else pool).append(rec)
    for path in sorted(INCLUDE.glob("*.h")):
        for text in chunks(path.read_text(encoding="utf-8", errors="replace"), r"^(?:#|/\*|PyAPI)"):
            pool.append({"text": text, "domain": "c", "source": f"Include/{path.name}"})
    from pydoc_data.topics import topics

    for name, body in sorted(topics.items()):
        for text in chunks(body, r"^\S"):
            pool.append({"text": text, "domain": "docs", "source": f"pydoc_data/topics.py:{name}"})
    for path in sorted((LIB / "test" / "test_email" / "data").glob("msg_*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) >= MIN_CHARS:
            source = f"Lib/test/test_email/data/{path.name}"
            pool.append({"text": text[:MAX_CHARS], "domain": "email", "source": source})
    for name in ("NEWS.txt", "NEWS2x.txt", "HISTORY.txt"):
        body = (LIB / "idlelib" / name).read_text(encoding="utf-8", errors="replace")
        for text in chunks(body, r"^(?:bpo-|gh-|What's New|\w+ \d)"):
            pool.append({"text": text, "domain": "changelog", "source": f"Lib/idlelib/{name}"})
    for path in sorted(Path("/usr/share/man/man1").glob("*.1.gz"))[::40]:
        import gzip

        body = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        for text in chunks(body, r"^\.SH ")[:3]:
            pool.append({"text": text, "domain": "manpage", "source": f"/usr/share/man/man1/{path.name}"})
    for path in sorted(Path("/usr/share/common-licenses").iterdir()):
        if path.is_file():
            body = path.read_text(encoding="utf-8", errors="replace")
            for text in chunks(body, r"^\s*\d+\.|^\s*[A-Z][A-Z ]+$")[:12]:
                pool.append({"text": text, "domain": "license", "source": f"/usr/share/common-licenses/{path.name}"})
    return pool, target


def edited(text: str, rng: random.Random) -> str:
    """A light edit, as a re-crawl or a re-formatting would make: a few words dropped, whitespace changed."""
    words = text.split(" ")
    for _ in range(max(1, len(words) // 50)):
        del words[rng.randrange(len(words))]
    return " ".join(words).replace("\n\n", "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="sievekit/demo")
    parser.add_argument("--max-pool", type=int, default=3000)
    args = parser.parse_args()
    rng = random.Random(20261127)
    files = [p.name for p in python_files()]
    held_out = set(rng.sample(files, len(files) // 10))
    pool, target = gather(held_out)
    rng.shuffle(pool)
    python = [r for r in pool if r["domain"] == "python"]
    pool = [r for r in pool if r["domain"] != "python"] + python[: len(python) // 2]
    rng.shuffle(pool)
    pool = pool[: args.max_pool]
    dups = [dict(rec, text=rec["text"]) for rec in rng.sample(pool, len(pool) // 50)]
    near = [dict(rec, text=edited(rec["text"], rng)) for rec in rng.sample(pool, len(pool) // 30)]
    pool = pool + dups + near
    rng.shuffle(pool)
    for i, rec in enumerate(pool):
        rec["id"] = f"pool-{i:05d}"
    target = rng.sample(target, min(150, len(target)))
    for i, rec in enumerate(target):
        rec["id"] = f"target-{i:04d}"
    out = Path(args.out)
    (out / "pool").mkdir(parents=True, exist_ok=True)
    order = ("id", "text", "domain", "source")
    rows = [{k: rec[k] for k in order} for rec in pool]
    quarter = (len(rows) + 3) // 4
    for n in range(3):
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[n * quarter:(n + 1) * quarter])
        packed = zstandard.ZstdCompressor(level=19).compress(lines.encode())
        (out / "pool" / f"part-{n:04d}.jsonl.zst").write_bytes(packed)
    pq.write_table(pa.Table.from_pylist(rows[3 * quarter:]), out / "pool" / "part-0003.parquet", compression="zstd")
    lines = "".join(json.dumps({k: r[k] for k in order}, ensure_ascii=False) + "\n" for r in target)
    (out / "target.jsonl").write_text(lines, encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["domain"]] = counts.get(r["domain"], 0) + 1
    print(f"pool: {len(rows)} docs {counts} (+{len(dups)} exact, +{len(near)} edited copies); target: {len(target)}")


if __name__ == "__main__":
    main()
