"""Is the fast hash's KL reduction below parity's more than a different hash function would make it?

    python bench/dsir_hash_spread.py [--data bench/data/dsir] [--k 5000] [--salts 5]

Uses the pool and target `bench/dsir_vs_reference.py` builds. Selects the top k with DSIR in parity mode
(sha256 buckets) and with the fast hash under several salts (each salt XORed into the hash before its
final mix: a different, equally good hash function; a benchmark-only patch, not a sievekit option), and
prints each selection's KL reduction in the reference's 10,000-bucket sha256 space (where parity's own
buckets are the yardstick) and in a neutral 2**20-bucket sha256 space.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np

import sievekit.selectors.ngrams as ngrams
from sievekit.rules import sampling
from sievekit.selectors.dsir import DsirConfig, DsirSelector
from sievekit.selectors.kl import hashed_counts, kl_reduction

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(HERE / "data" / "dsir"))
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--salts", type=int, default=5)
    args = parser.parse_args()
    pool = [json.loads(line)["text"] for f in sorted(glob.glob(f"{args.data}/pool/*.jsonl"))
            for line in Path(f).read_text().splitlines()]
    target = [json.loads(line)["text"] for line in Path(f"{args.data}/target.jsonl").read_text().splitlines()]
    spaces = {name: ngrams.NgramFeaturizer(buckets=b, order=2, hash="sha256")
              for name, b in (("10k", 10000), ("2^20", 1 << 20))}
    base = {name: (hashed_counts(target, f), hashed_counts(pool, f)) for name, f in spaces.items()}
    original = ngrams._mix64
    print(f"{'selection':<14} {'KL reduction 10k':>17} {'KL reduction 2^20':>18}")
    for salt in [None, *range(1, args.salts + 1)]:
        if salt is not None:
            key = np.uint64((0x9E3779B97F4A7C15 * salt) & ((1 << 64) - 1))
            ngrams._mix64 = lambda x, key=key: original(x ^ key)  # another member of the same hash family
        selector = DsirSelector(DsirConfig(hash="sha256" if salt is None else "fast")).fit(target, iter(pool))
        scores = np.concatenate([selector.score_batch(pool[i:i + 2048]) for i in range(0, len(pool), 2048)])
        chosen = [pool[i] for i in sampling.top_k(scores, args.k)]
        kl = {name: kl_reduction(*base[name], hashed_counts(chosen, f)) for name, f in spaces.items()}
        label = "sha256 (parity)" if salt is None else f"fast, salt {salt}"
        print(f"{label:<14} {kl['10k']:>17.4f} {kl['2^20']:>18.4f}")
        ngrams._mix64 = original


if __name__ == "__main__":
    main()
