"""Load the realistic benchmark built by build.py: pool texts, lengths, task labels and target sets."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import zstandard

from sievekit.selectors.classifier import ClassifierSelector, Features


def read_shard(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    data = path.read_bytes()
    if path.name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return [json.loads(line) for line in data.decode().split("\n") if line]


@dataclass
class Benchmark:
    texts: list[str]
    lengths: np.ndarray
    labels: dict[str, np.ndarray]
    targets: dict[str, list[str]]
    kinds: np.ndarray
    _features: dict[tuple[int, int, bool], Features] = field(default_factory=dict, repr=False)
    featurize_cpu_s: dict[str, float] = field(default_factory=dict)

    def relevant(self, task: str) -> np.ndarray:
        return self.labels[task]

    def pool_features(self, sel: ClassifierSelector) -> Features:
        """The pool featurised as ``sel`` featurises (computed once per feature setting)."""
        f = sel.featurizer
        key = (f.buckets, f.order, f.lowercase)
        if key not in self._features:
            t0 = time.process_time()
            self._features[key] = sel.featurize(self.texts)
            self.featurize_cpu_s[repr(key)] = time.process_time() - t0
        return self._features[key]


def load_benchmark(data: Path) -> Benchmark:
    meta = json.loads((data / "meta.json").read_text())
    records = [r for name in meta["shards"] for r in read_shard(data / "pool" / name)]
    texts = [r["text"] for r in records]
    labels = {t: np.array([t in r["tasks"] for r in records]) for t in meta["tasks"]}
    targets = {t: [json.loads(line)["text"] for line in (data / "targets" / f"{t}.jsonl").read_text().split("\n")
                   if line] for t in meta["tasks"]}
    lengths = np.array([len(t.encode("utf-8", "surrogatepass")) for t in texts], dtype=np.float64)
    return Benchmark(texts, lengths, labels, targets, np.array([r["kind"] for r in records]))
