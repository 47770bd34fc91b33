"""The parameters of a dedupe run, validated once, and the subsets each stage's artefacts depend on."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sievekit.duplicates.banding import EXACT_MIN_CATCH, MIN_CATCH, Banding, choose_bands
from sievekit.duplicates.minhash import ENGINES
from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions

VERIFY = ("exact", "sig", "none")
KEEP = ("first", "longest", "score:FIELD")
STAGES = ("all", "sign", "bucket", "cluster", "filter")
MAX_KEY_PARTS = 4096


@dataclass(frozen=True)
class DedupeConfig:
    """What to treat as a duplicate and which copy to keep.

    Example:
        >>> DedupeConfig(threshold=0.7).banding  # exact verification affords more candidates
        Banding(bands=25, rows=5)
        >>> DedupeConfig(threshold=0.7, verify="sig").banding
        Banding(bands=21, rows=6)
    """

    threshold: float = field(default=0.8, metadata={"help": "Jaccard of word n-gram sets at which two documents "
                                                            "are near duplicates."})
    num_perm: int = field(default=128, metadata={"help": "MinHash slots per document (uint32 each)."})
    ngram: int = field(default=5, metadata={"help": "Words per shingle; a shorter document is one shingle."})
    bands: int | None = field(default=None, metadata={"help": "LSH bands (default: derived from the threshold and "
                                                              "--verify)."})
    rows: int | None = field(default=None, metadata={"help": "Slots per band (default: derived)."})
    verify: str = field(default="exact", metadata={"help": "Check candidates: exact (true Jaccard of the shingle "
                                                           "sets, which sign writes to the work directory; pairs "
                                                           "whose signatures settle it with error < 1e-6 are not "
                                                           "re-read), sig (estimated from the signatures) or none.",
                                                           "choices": VERIFY})
    keep: str = field(default="first", metadata={"help": "Survivor: first (manifest order), longest, or "
                                                         "score:FIELD (highest value of FIELD)."})
    engine: str = field(default="numpy", metadata={"help": "MinHash engine: numpy (one-permutation hashing) or "
                                                           "datasketch (K permutations, slower).", "choices": ENGINES})
    seed: int = field(default=0, metadata={"help": "Seeds every hash; same seed, same survivors."})
    key_parts: int = field(default=1, metadata={"help": "Split each band's keys into this many ranges (bounds the "
                                                        "bucket stage's memory)."})
    memory_mb: float = field(default=1024, metadata={"help": "Memory budget of the exact pass and the cluster "
                                                              "stage in MB: their per-document arrays go to the "
                                                              "work directory past it. Changes only speed, never "
                                                              "the results.",
                                                              "run": True})
    annotate: bool = field(default=False, metadata={"help": "Keep every record and add dedupe_cluster and "
                                                            "dedupe_kept fields instead of dropping."})

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0 or math.isnan(self.threshold):
            raise ConfigError(f"{option('threshold')} must be in (0, 1], got {self.threshold}")
        if not 1 <= self.num_perm <= 1 << 16:
            raise ConfigError(f"{option('num_perm')} must be in 1..65536, got {self.num_perm}")
        if self.ngram < 1:
            raise ConfigError(f"{option('ngram')} must be >= 1, got {self.ngram}")
        if self.verify not in VERIFY:
            raise ConfigError(f"{option('verify')} must be one of {', '.join(VERIFY)}, not {self.verify!r}")
        if self.engine not in ENGINES:
            raise ConfigError(f"{option('engine')} must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.keep not in ("first", "longest") and not (self.keep.startswith("score:") and len(self.keep) > 6):
            raise ConfigError(f"{option('keep')} must be one of {', '.join(KEEP)}, not {self.keep!r}",
                              hint=f"e.g. {option('keep')} score:quality to keep the best-scored copy")
        if (self.bands is None) != (self.rows is None):
            raise ConfigError(f"give both {option('bands')} and {option('rows')}, or neither (then the threshold "
                              "picks them)")
        if self.bands is not None and self.rows is not None and (self.bands < 1 or self.rows < 1
                                                                  or self.bands * self.rows > self.num_perm):
            raise ConfigError(f"{option('bands')} x {option('rows')} must be at most {option('num_perm')} "
                              f"({self.num_perm}), got "
                              f"{self.bands} x {self.rows}")
        if not self.memory_mb > 0 or math.isinf(self.memory_mb):
            raise ConfigError(f"{option('memory_mb')} must be a positive number of MB, got {self.memory_mb:g}",
                              hint=f"e.g. {option('memory_mb')} 1024")
        if not 1 <= self.key_parts <= MAX_KEY_PARTS:
            raise ConfigError(f"{option('key_parts')} must be within 1..{MAX_KEY_PARTS}, got {self.key_parts}",
                              hint="each part is one task per band; a few parts already bound the bucket memory")

    @property
    def banding(self) -> Banding:
        if self.bands is not None and self.rows is not None:
            return Banding(self.bands, self.rows)
        return choose_bands(self.threshold, self.num_perm, EXACT_MIN_CATCH if self.verify == "exact" else MIN_CATCH)

    @property
    def score_field(self) -> str | None:
        return self.keep[6:] if self.keep.startswith("score:") else None

    def as_dict(self) -> dict[str, Any]:
        """What the run's results depend on: every field but those marked ``run`` (how it goes, like
        ``RunOptions``), so that a run with another memory budget is the same run."""
        return {k: v for k, v in asdict(self).items() if not RUN_FIELDS.get(k)}

    def sign_params(self, opts: ReadOptions) -> dict[str, Any]:
        """What a shard's signatures depend on."""
        return {"num_perm": self.num_perm, "ngram": self.ngram, "seed": self.seed, "engine": self.engine,
                "text_field": opts.text_field, "id_field": opts.id_field, "score_field": self.score_field,
                "compression": opts.compression, "on_bad_record": opts.on_bad_record,
                "shingle_sets": self.verify == "exact"}

    def bucket_params(self) -> dict[str, Any]:
        b = self.banding
        return {"bands": b.bands, "rows": b.rows, "key_parts": self.key_parts}

    def cluster_params(self) -> dict[str, Any]:
        return {**self.bucket_params(), "threshold": self.threshold, "verify": self.verify, "keep": self.keep}


RUN_FIELDS = {f.name: bool(f.metadata.get("run")) for f in fields(DedupeConfig)}
