"""`sievekit dedupe`: exact and near-duplicate removal across all shards (MinHash LSH), staged on disk."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from sievekit import pipeline
from sievekit.cli import _common as c


class Verify(str, Enum):
    sig = "sig"
    exact = "exact"
    none = "none"


class Engine(str, Enum):
    numpy = "numpy"
    datasketch = "datasketch"


class Stage(str, Enum):
    all = "all"
    sign = "sign"
    bucket = "bucket"
    cluster = "cluster"
    filter = "filter"


Threshold = Annotated[float, typer.Option("--threshold", min=0.0, max=1.0,
                                          help="Jaccard (word n-gram sets) from which documents are near duplicates; "
                                          "bands x rows are derived so a pair at exactly this Jaccard is caught "
                                          "with probability >= 0.9.")]
Keep = Annotated[str, typer.Option("--keep", help="Survivor of each cluster: first (input order), longest, or "
                                   "score:FIELD (highest FIELD, e.g. a `sievekit score` column).")]
WorkDir = Annotated[str | None, typer.Option("--work-dir", help="Keep the stages' artefacts here; a re-run resumes "
                                             "and refuses artefacts made with other parameters.")]


@c.boundary
def dedupe_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    threshold: Threshold = 0.8,
    num_perm: Annotated[int, typer.Option("--num-perm", min=1, max=65536, help="MinHash slots (uint32).")] = 128,
    ngram: Annotated[int, typer.Option("--ngram", min=1, help="Words per shingle.")] = 5,
    bands: Annotated[int | None, typer.Option("--bands", min=1, help="Override the derived bands.")] = None,
    rows: Annotated[int | None, typer.Option("--rows", min=1, help="Override the derived rows per band.")] = None,
    verify: Annotated[Verify, typer.Option("--verify", help="Check candidates by estimated Jaccard (sig), true "
                                           "Jaccard of the shingle sets (exact), or not at all (none).")] = Verify.sig,
    keep: Keep = "first",
    engine: Annotated[Engine, typer.Option("--engine", help="MinHash: numpy (one-permutation, vectorised) or "
                                           "datasketch (K permutations).")] = Engine.numpy,
    annotate: Annotated[bool, typer.Option("--annotate", help="Keep every record; add dedupe_cluster and "
                                           "dedupe_kept fields.")] = False,
    work_dir: WorkDir = None,
    stage: Annotated[Stage, typer.Option("--stage", help="Run one stage only (needs --work-dir).")] = Stage.all,
    shard: Annotated[int | None, typer.Option("--shard", min=0, help="With --stage sign|filter: only this shard "
                                              "(0-based manifest index).")] = None,
    band: Annotated[int | None, typer.Option("--band", min=0, help="With --stage bucket: only this band.")] = None,
    key_parts: Annotated[int, typer.Option("--key-parts", min=1, help="Split each band by key range (bounds the "
                                           "bucket stage's memory).")] = 1,
    against: Annotated[str | None, typer.Option("--against", help="Work dir of an earlier run: also drop documents "
                                                "that duplicate anything it saw.")] = None,
    clusters: Annotated[str | None, typer.Option("--clusters", help="Where to write the clusters file (default: "
                                                 "OUTPUT/clusters.jsonl for a directory output).")] = None,
    output_compression: Annotated[str | None, typer.Option("--output-compression",
                                                           help="Codec for stdout: none, gzip, zstd.")] = None,
    text_field: c.TextField = "text",
    id_field: c.IdField = "id",
    batch_size: c.BatchSize = 1024,
    compression: c.Compression = "infer",
    on_bad_record: c.OnBad = "fail",
    seed: c.Seed = 0,
    jobs: c.Jobs = 1,
    config: c.ConfigFile = None,
    dry_run: c.DryRun = False,
    verbose: c.Verbose = 0,
    quiet: c.Quiet = False,
) -> None:
    """Remove exact and near-duplicate documents across all shards, keeping one survivor per cluster.

    Exact copies (same normalised text) collapse first; near duplicates are found with MinHash LSH and
    verified. Writes the kept records (all fields), a clusters file and the stats in manifest.json.

    Example:  sievekit dedupe pool/ -o deduped/ --threshold 0.8 -j 2
    """
    cfg, _ = c.resolve_config(ctx, dict(ctx.params), config)
    dcfg = _dedupe_config(cfg)
    opts = c.read_options(cfg)
    if dry_run:
        c.dry_run({**cfg, "bands": dcfg.banding.bands, "rows": dcfg.banding.rows})
    result = pipeline.dedupe(
        c.require_inputs(cfg), cfg["output"], dedupe_config=dcfg, opts=opts, work_dir=cfg["work_dir"],
        stage=_value(cfg["stage"]), shard=cfg["shard"], band=cfg["band"], jobs=cfg["jobs"], against=cfg["against"],
        clusters=cfg["clusters"], output_compression=cfg["output_compression"], config=_plain(cfg),
        log=(lambda m: c.note(m, cfg["quiet"])) if cfg["verbose"] else None,
    )
    _summary(result, cfg)


def _value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _plain(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in cfg.items()}


def _dedupe_config(cfg: dict[str, Any]) -> Any:
    from sievekit.dedupe import DedupeConfig

    return DedupeConfig(threshold=cfg["threshold"], num_perm=cfg["num_perm"], ngram=cfg["ngram"], bands=cfg["bands"],
                        rows=cfg["rows"], verify=_value(cfg["verify"]), keep=cfg["keep"], engine=_value(cfg["engine"]),
                        seed=cfg["seed"], key_parts=cfg["key_parts"], annotate=cfg["annotate"])


def _summary(result: pipeline.RunResult, cfg: dict[str, Any]) -> None:
    d = result.extra["dedupe"]
    if "documents_in" not in d:
        c.note(f"dedupe: stage {d['stage']} done in {d['work_dir']}", cfg["quiet"])
        return
    if not result.shards:
        c.note(f"dedupe: clustered {d['documents_in']:,} documents; {d['dropped']:,} to drop", cfg["quiet"])
        return
    c.note(f"dedupe: kept {d['documents_out']:,} of {d['documents_in']:,} documents ({d['exact_duplicates']:,} exact "
           f"and {d['near_duplicates']:,} near duplicates dropped"
           + (f", {d['seen_before']:,} seen in earlier runs" if d["seen_before"] else "")
           + f") -> {cfg['output']}", cfg["quiet"])
    if cfg["verbose"]:
        c.note(f"  clusters: {d['clusters']:,}, sizes {d['cluster_sizes']}, clusters file {d.get('clusters_file')}",
               cfg["quiet"])
