"""Exact and near-duplicate removal across all shards: MinHash LSH, staged and resumable on disk.

Modules, in the order data flows through them:

- ``normalize``: lowercase, Unicode non-word characters as separators, seeded word hashes, exact keys;
- ``shingles``: word n-gram hashes combined from the word hashes;
- ``minhash``: one-permutation MinHash with densification (or datasketch's MinHash as an engine);
- ``banding``: the bands x rows rule, band keys, and LSH groups by sorting;
- ``exact``: the exact pass (each document's first exact copy), within ``--memory-mb``;
- ``verify`` and ``cluster``: candidate checks, peeling LSH groups into edges, in-memory components;
  ``preads`` (positional reads of the work files) and ``pairmemo`` (each pair's sets read once) under them;
- ``components``, ``spill`` and ``cluster_files``: the whole pool's components over edge shards on disk,
  within ``--memory-mb``, and the cluster stage's outputs streamed from them;
- ``workdir``, ``sources``, ``stages``, ``runner``: the on-disk stages and the run that drives them;
- ``deduper``: ``MinHashDeduper.keep_mask(batch)``, the in-memory streaming form.

``sievekit.commands.pipeline.dedupe`` is the library entry point; ``sievekit dedupe`` the command.
"""

from sievekit.duplicates.banding import Banding, catch_probability, choose_bands
from sievekit.duplicates.deduper import MinHashDeduper
from sievekit.duplicates.minhash import Signer, jaccard_estimate
from sievekit.duplicates.options import DedupeConfig

__all__ = ["Banding", "DedupeConfig", "MinHashDeduper", "Signer", "catch_probability", "choose_bands",
           "jaccard_estimate"]
