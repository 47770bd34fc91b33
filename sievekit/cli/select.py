"""`sievekit select`: keep the documents ranked best, across all shards, with every field intact."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sievekit import pipeline
from sievekit.cli import _common as c
from sievekit.errors import ConfigError
from sievekit.scoring import MethodSpec

Target = Annotated[list[str] | None, typer.Option("-t", "--target", help="Target set: file, directory or glob.")]
State = Annotated[str | None, typer.Option("--state", help="Reuse a fitted state (a state file, or the output "
                                           "directory of an earlier `sievekit score`) instead of fitting.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the results of a different earlier run in "
                                         "the output directory.")]


@c.boundary
def select_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    method: Annotated[str | None, typer.Option("-m", "--method", help="Score on the fly with this method (its "
                                               "options may follow, e.g. --level 3).")] = None,
    target: Target = None,
    state: State = None,
    scores: Annotated[str | None, typer.Option("--scores", help="Read scores from the sidecars of an earlier "
                                               "`sievekit score -o DIR` (with --method to pick a column).")] = None,
    score_field: Annotated[str | None, typer.Option("--score-field", help="Read scores from this numeric field "
                                                    "of the records.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=0, help="Keep the N best documents.")] = None,
    fraction: Annotated[float | None, typer.Option("--fraction", min=0.0, max=1.0,
                                                   help="Keep the best share F of all documents.")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Keep documents scoring >= T.")] = None,
    sample: Annotated[int | None, typer.Option("--sample", min=0, help="Importance-resample N documents (Gumbel "
                                               "top-k on the scores as log weights, seeded).")] = None,
    stratify: Annotated[str | None, typer.Option("--stratify", help="Keep each stratum's share with --top-k or "
                                                 "--fraction: `length` (equal-frequency length bands) or a field "
                                                 "name (one stratum per value).")] = None,
    bins: Annotated[int, typer.Option("--bins", min=1, help="Length bands for --stratify length.")] = 10,
    annotate: Annotated[bool, typer.Option("--annotate", help="Add score and rank fields to kept records.")] = False,
    output_compression: Annotated[str | None, typer.Option("--output-compression",
                                                           help="Codec for stdout: none, gzip, zstd.")] = None,
    overwrite: Overwrite = False,
    text_field: c.TextField = "text",
    id_field: c.IdField = "id",
    batch_size: c.BatchSize = 1024,
    compression: c.Compression = "infer",
    on_bad_record: c.OnBad = "fail",
    seed: c.Seed = 0,
    jobs: c.Jobs = 1,
    executor: c.ExecutorKind = "local",
    ray_address: c.RayAddress = None,
    split_mb: c.SplitMB = 256,
    config: c.ConfigFile = None,
    dry_run: c.DryRun = False,
    verbose: c.Verbose = 0,
    quiet: c.Quiet = False,
) -> None:
    """Keep the documents ranked best across all input shards.

    Scores come from a method run now (--method, with --target for target-based methods), from the
    sidecars of an earlier `sievekit score` (--scores DIR), or from a numeric field (--score-field). Exactly
    one rule: --top-k N, --fraction F, --threshold T or --sample N. Memory holds one float per document;
    kept records are written with every field, in input order. Re-running a finished run into the same
    directory does nothing.

    Example:  sievekit select pool/ --method random --fraction 0.1 --seed 1 -o picked/
    """
    cfg = c.method_config(ctx, config)
    rule = _rule(cfg)
    source = pipeline.ScoreSource(
        methods=[MethodSpec(n, o) for n, o in cfg["method_options"].items()], target=cfg["target"] or None,
        state=cfg["state"], sidecars=cfg["scores"], field=cfg["score_field"])
    if dry_run:
        c.dry_run(cfg)
    with c.progress_bar("scoring", not cfg["quiet"]) as progress:
        result = pipeline.select(
            c.require_inputs(cfg), cfg["output"], rule=rule, source=source, opts=c.read_options(cfg),
            seed=cfg["seed"], jobs=cfg["jobs"], annotate=cfg["annotate"], overwrite=cfg["overwrite"],
            executor=cfg["executor"], ray_address=cfg["ray_address"], split_mb=cfg["split_mb"],
            output_compression=cfg["output_compression"], config=cfg, progress=progress,
        )
    if result.up_to_date:
        c.note(f"select: nothing to do, {cfg['output']} already holds this run's results", cfg["quiet"])
        return
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
    return pipeline.Rule(kind, float(value), stratify=cfg.get("stratify"), bins=cfg.get("bins", 10))
