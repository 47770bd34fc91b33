"""`sievekit select`: keep the documents a method ranks best, across all shards, with every field intact."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sievekit import pipeline
from sievekit.cli import _common as c
from sievekit.errors import ConfigError
from sievekit.scoring import MethodSpec

Method = Annotated[str, typer.Option("-m", "--method", help="Scoring method (its own options may follow, e.g. "
                                     "--level 3). Methods: random, length, and those built in this version.")]
Target = Annotated[list[str] | None, typer.Option("-t", "--target", help="Target set: file, directory or glob.")]


@c.boundary
def select_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    method: Method = "random",
    target: Target = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=0, help="Keep the N best documents.")] = None,
    fraction: Annotated[float | None, typer.Option("--fraction", min=0.0, max=1.0,
                                                   help="Keep the best share F of all documents.")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Keep documents scoring >= T.")] = None,
    sample: Annotated[int | None, typer.Option("--sample", min=0, help="Importance-resample N documents (Gumbel "
                                               "top-k on the scores as log weights, seeded).")] = None,
    annotate: Annotated[bool, typer.Option("--annotate", help="Add score and rank fields to kept records.")] = False,
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
    """Keep the documents a method ranks best across all input shards.

    Exactly one rule: --top-k N, --fraction F, --threshold T or --sample N. Scores are computed on the fly
    (one float per document in memory); kept records are written with every field, in input order.

    Example:  sievekit select pool/ --method random --fraction 0.1 --seed 1 -o picked/
    """
    cfg = c.method_config(ctx, config)
    rule = _rule(cfg)
    if dry_run:
        c.dry_run(cfg)
    spec = MethodSpec(cfg["method"], cfg["method_options"])
    with c.progress_bar("scoring", not cfg["quiet"]) as progress:
        result = pipeline.select(
            c.require_inputs(cfg), cfg["output"], method=spec, rule=rule, target=cfg["target"],
            opts=c.read_options(cfg), seed=cfg["seed"], jobs=cfg["jobs"], annotate=cfg["annotate"],
            output_compression=cfg["output_compression"], config=cfg, progress=progress,
        )
    c.note(f"select: kept {result.rows_out:,} of {result.rows_in:,} documents from {len(result.shards)} shard(s)"
           f" -> {cfg['output']}", cfg["quiet"])
    if cfg["verbose"]:
        for shard in result.shards:
            c.note(f"  {shard['name']}: {shard['rows_out']:,}/{shard['rows_in']:,} kept, skipped {shard['skipped']}",
                   cfg["quiet"])


def _rule(cfg: dict[str, Any]) -> pipeline.Rule:
    given = [(k, cfg[k]) for k in ("top_k", "fraction", "threshold", "sample") if cfg.get(k) is not None]
    if len(given) != 1:
        names = ", ".join("--" + k.replace("_", "-") for k, _ in given) or "none"
        raise ConfigError(f"give exactly one of --top-k, --fraction, --threshold, --sample (got {names})")
    kind, value = given[0]
    return pipeline.Rule(kind, float(value))


