"""`sievekit score`: one score per document, written as sidecar lines aligned with the input shards."""

from __future__ import annotations

import typer

from sievekit import pipeline
from sievekit.cli import _common as c
from sievekit.cli.select import Method, Target
from sievekit.scoring import MethodSpec


@c.boundary
def score_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    method: Method = "random",
    target: Target = None,
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
    """Score every document of the input shards with a method.

    Writes one line per record, {"shard", "row", "id", <method>: score}, to stdout or, with -o DIR, to one
    sidecar shard per input (<name>.scores.jsonl[.gz|.zst]) plus the fitted state (state.json) and
    manifest.json. A null score means the method never selects that document.

    Example:  sievekit score pool/ --method length -o scores/
    """
    cfg = c.method_config(ctx, config)
    if dry_run:
        c.dry_run(cfg)
    spec = MethodSpec(cfg["method"], cfg["method_options"])
    with c.progress_bar("scoring", not cfg["quiet"]) as progress:
        result = pipeline.score(
            c.require_inputs(cfg), cfg["output"], method=spec, target=cfg["target"], opts=c.read_options(cfg),
            seed=cfg["seed"], jobs=cfg["jobs"], config=cfg, progress=progress,
        )
    c.note(f"score: {result.rows_in:,} documents in {len(result.shards)} shard(s) scored with {spec.name}"
           f" -> {cfg['output']}", cfg["quiet"])
