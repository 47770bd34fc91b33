"""zstd-ml scoring speed per CPU-second: the batched compression path against one ``compress()`` call per document.

    nice .venv/bin/python bench/zstd_ml_speed.py                  # the realistic pool's first 20,000 documents
    nice .venv/bin/python bench/zstd_ml_speed.py --docs 50000 --repeat 5
    nice .venv/bin/python bench/zstd_ml_speed.py --configs background_draws=1 level=1,background_draws=1

Fits ``zstd-ml`` with its defaults (level 3, raw-content dictionaries, two background draws) toward the
realistic ``python`` target, then scores the documents in batches of 1024 (the read batch) several ways in the
same run, each timed in CPU seconds of this process, the least of ``--repeat`` rounds in which the variants
take turns (a shared machine only adds). Rows marked "same scores" are checked bit for bit against the
per-document path; the others are reference points that change code lengths (the count of changed scores is
printed), not what the method runs. MB means the documents' UTF-8 bytes. ``--configs`` adds a table of the
whole ``score_batch`` (fit on the same documents) for other ``ZstdMLConfig`` settings, against the defaults,
timed the same way: what a change of method saves per document.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sievekit.selectors.compress_zstd import ZstdMLConfig, ZstdMLSelector, lengths  # noqa: E402

REALISTIC = ROOT / "bench" / "data" / "realistic"
BATCH = 1024
Scorer = Callable[[Sequence[str]], npt.NDArray[np.float64]]


def read_texts(pool: Path, limit: int) -> list[str]:
    out: list[str] = []
    for path in sorted(pool.iterdir()):
        if path.suffix == ".parquet":
            out += pq.read_table(path, columns=["text"]).column("text").to_pylist()
        else:
            with open(path, "rb") as fh:
                raw = (zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True).read()
                       if path.suffix == ".zst" else fh.read())
            out += [orjson.loads(line)["text"] for line in raw.splitlines() if line.strip()]
        if len(out) >= limit:
            break
    return out[:limit]


def one_by_one(comp: zstandard.ZstdCompressor, docs: Sequence[bytes]) -> npt.NDArray[np.float64]:
    return np.fromiter((len(comp.compress(d)) for d in docs), dtype=np.float64, count=len(docs))


def formula(sel: ZstdMLSelector, compress: Callable[[zstandard.ZstdCompressor, Sequence[bytes]],
                                                     npt.NDArray[np.float64]],
            target: zstandard.ZstdCompressor | None = None,
            backgrounds: Sequence[zstandard.ZstdCompressor] | None = None) -> Scorer:
    """zstd-ml's score as the code before the batched path computed it (the min_bytes rule, then the formula)."""
    tgt = target or sel._target
    bgs = backgrounds or sel._background

    def score(texts: Sequence[str]) -> npt.NDArray[np.float64]:
        data = [t.encode("utf-8", "surrogatepass") for t in texts]
        n = np.fromiter((len(d) for d in data), dtype=np.float64, count=len(data))
        ok = n >= max(sel.config.min_bytes, 1)
        out = np.full(len(texts), -np.inf, dtype=np.float64)
        if ok.any():
            docs = [d for d, keep in zip(data, ok) if keep]
            background = np.mean([compress(c, docs) for c in bgs], axis=0, dtype=np.float64)
            out[ok] = (background - compress(tgt, docs)) / n[ok]
        return out
    return score


def copy_mode(sel: ZstdMLSelector) -> tuple[zstandard.ZstdCompressor, list[zstandard.ZstdCompressor]]:
    """The same level and dictionaries with zstd's forceMaxWindow, which makes it copy a dictionary's tables
    into the context for every document instead of attaching them (attached: documents up to 8 KiB at level 3)."""
    params = zstandard.ZstdCompressionParameters(compression_level=sel.config.level, force_max_window=1,
                                                 write_content_size=0, write_checksum=0, write_dict_id=0)
    comps = [zstandard.ZstdCompressor(dict_data=d, compression_params=params) for d in sel._dicts]
    return comps[0], comps[1:]


def interleaved(fns: Sequence[Callable[[], npt.NDArray[np.float64]]], repeat: int) -> list[tuple[float, Any]]:
    """Each function's least CPU seconds over ``repeat`` rounds, the functions taking turns within a round (a load
    that comes and goes on a shared machine then hits them alike), and its last result."""
    best: list[float] = [float("inf")] * len(fns)
    last: list[Any] = [None] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            start = time.process_time()
            last[k] = fn()
            best[k] = min(best[k], time.process_time() - start)
    return list(zip(best, last))


def batched(fn: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> Callable[[], npt.NDArray[np.float64]]:
    def run() -> npt.NDArray[np.float64]:
        return np.concatenate([fn(items[i:i + BATCH]) for i in range(0, len(items), BATCH)])
    return run


def config(spec: str) -> ZstdMLConfig:
    """``key=value,key=value`` as a ``ZstdMLConfig`` (ints as ints), e.g. ``level=1,background_draws=1``."""
    hints = typing.get_type_hints(ZstdMLConfig)
    values: dict[str, Any] = {}
    for kv in filter(None, spec.split(",")):
        key, raw = kv.split("=", 1)
        values[key] = int(raw) if hints[key] is int else raw
    return ZstdMLConfig(**values)


def compare_configs(specs: Sequence[str], texts: list[str], target: list[str], mb: float, repeat: int) -> None:
    """Each config's whole scoring per CPU-second beside the defaults', interleaved in one run."""
    cfgs = [ZstdMLConfig(), *(config(s) for s in specs)]
    sels = [ZstdMLSelector(c).fit(target, iter(texts)) for c in cfgs]
    timings = interleaved([batched(sel.score_batch, texts) for sel in sels], repeat)
    defaults = {f.name: f.default for f in dataclasses.fields(ZstdMLConfig)}
    print("| zstd-ml config (score_batch) | compressions per document | CPU s | MB per CPU-s | vs the defaults |")
    print("|---|---|---|---|---|")
    for cfg, (cpu, _) in zip(cfgs, timings):
        changed = ",".join(f"{k}={v}" for k, v in dataclasses.asdict(cfg).items() if v != defaults[k]) or "defaults"
        print(f"| {changed} | {1 + cfg.background_draws} | {cpu:.2f} | {mb / cpu:.1f} | {timings[0][0] / cpu:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=Path, default=REALISTIC / "pool")
    parser.add_argument("--target", type=Path, default=REALISTIC / "targets" / "python.jsonl")
    parser.add_argument("--docs", type=int, default=20_000, help="documents from the pool's first shards")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configs", nargs="*", default=[],
                        help="ZstdMLConfig settings (key=value,...) to time against the defaults")
    args = parser.parse_args()
    texts = read_texts(args.pool, args.docs)
    target = [orjson.loads(line)["text"] for line in args.target.read_bytes().splitlines() if line.strip()]
    sel = ZstdMLSelector(ZstdMLConfig()).fit(target, iter(texts))
    mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    print(f"{len(texts):,} documents, {mb:.1f} MB (UTF-8) from {args.pool}; target {args.target.name} "
          f"({sum(len(t.encode()) for t in target) / 1e6:.2f} MB); dictionaries "
          f"{', '.join(f'{len(d.as_bytes()) / 1e6:.2f}' for d in sel._dicts)} MB; level {sel.config.level}; "
          f"batches of {BATCH}; CPU s, the least of {args.repeat}")
    tgt_copy, bgs_copy = copy_mode(sel)
    rows: list[tuple[str, Scorer, bool]] = [
        ("one compress() per document (before)", formula(sel, one_by_one), True),
        ("batched: multi_compress_to_buffer (sievekit now)", sel.score_batch, True),
        ("copy mode: forceMaxWindow (changes lengths)", formula(sel, one_by_one, tgt_copy, bgs_copy), False),
    ]
    timings = interleaved([batched(score, texts) for _, score, _ in rows], args.repeat)
    (base_cpu, base) = timings[0]
    print("| scoring | CPU s | docs per CPU-s | MB per CPU-s | vs before | scores |")
    print("|---|---|---|---|---|---|")
    for (name, _, same), (cpu, got) in zip(rows, timings):
        if same:
            verdict = "same scores" if np.array_equal(got, base) else "DIFFERENT SCORES"
        else:
            verdict = f"{int(np.sum(got != base)):,} of {len(got):,} scores differ"
        print(f"| {name} | {cpu:.2f} | {len(texts) / cpu:,.0f} | {mb / cpu:.1f} | {base_cpu / cpu:.2f}x | {verdict} |")
    # Where the time goes: the compressions alone, and zstd at the same level without a dictionary.
    docs = [t.encode("utf-8", "surrogatepass") for t in texts]
    bare = zstandard.ZstdCompressor(level=sel.config.level, write_checksum=False, write_content_size=False,
                                    write_dict_id=False)
    parts: list[tuple[str, Callable[[Sequence[bytes]], npt.NDArray[np.float64]]]] = [
        ("target dictionary, one by one", lambda b: one_by_one(sel._target, b)),
        ("target dictionary, batched", lambda b: lengths(sel._target, b)),
        ("no dictionary, batched (for scale)", lambda b: lengths(bare, b))]
    timings = interleaved([batched(fn, docs) for _, fn in parts], args.repeat)
    print("| compressions alone (every document, one compressor) | CPU s | MB per CPU-s | vs one by one |")
    print("|---|---|---|---|")
    for (name, _), (cpu, _) in zip(parts, timings):
        print(f"| {name} | {cpu:.2f} | {mb / cpu:.1f} | {timings[0][0] / cpu:.2f}x |")
    if args.configs:
        compare_configs(args.configs, texts, target, mb, args.repeat)


if __name__ == "__main__":
    main()
