"""`sievekit dedupe`: exact and near-duplicate removal across all shards (MinHash LSH), staged on disk.

Its duplicate options are made from ``DedupeConfig``'s fields (type, default, help, choices), so the
library and the command cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from sievekit import commands
from sievekit.cli import _common as c
from sievekit.cli import options as o
from sievekit.cli.select import cfg_file
from sievekit.duplicates.options import STAGES, DedupeConfig
from sievekit.run.layout import Layout
from sievekit.run.writeback import RunResult

Stage = o.choices("Stage", STAGES)
OutputCodec = o.choices("OutputCodec", ("none", "gzip", "zstd"))
DEDUPE = o.config_group(DedupeConfig, skip=("seed",))  # the run's --seed seeds the hashes


@o.command(DEDUPE, o.READ, o.SEED, o.WORKERS, o.OVERWRITE, o.COMMON, boundary=c.boundary)
def dedupe_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    work_dir: Annotated[str | None, typer.Option("--work-dir", help="Keep the stages' artefacts here; a re-run "
                                                 "resumes and refuses artefacts made with other parameters.")] = None,
    stage: Annotated[Stage, typer.Option("--stage", help="Run one stage only (needs --work-dir).")] = "all",  # type: ignore[valid-type]
    shard: Annotated[int | None, typer.Option("--shard", min=0, help="With --stage sign|filter: only this shard "
                                              "(0-based manifest index).")] = None,
    band: Annotated[int | None, typer.Option("--band", min=0, help="With --stage bucket: only this band.")] = None,
    against: Annotated[str | None, typer.Option("--against", help="Work dir of an earlier run: also drop documents "
                                                "that duplicate anything it saw.")] = None,
    clusters: Annotated[str | None, typer.Option("--clusters", help="Where to write the clusters file (default: "
                                                 "OUTPUT/clusters.jsonl for a directory output).")] = None,
    output_compression: Annotated[OutputCodec | None, typer.Option(  # type: ignore[valid-type]
        "--output-compression", help="Codec for stdout: none, gzip, zstd.")] = None,
) -> None:
    """Remove exact and near-duplicate documents across all shards, keeping one survivor per cluster.

    Exact copies (same normalised text) collapse first; near duplicates are found with MinHash LSH and
    verified. Writes the kept records (all fields), a clusters file and the stats in manifest.json.
    Re-running a finished run into the same directory does nothing.

    Example:  sievekit dedupe pool/ -o deduped/ --threshold 0.8 -j 2
    """
    cfg, _ = c.resolve_config(ctx, dict(ctx.params), cfg_file(ctx))
    dcfg = DedupeConfig(**{f.name: o.plain(cfg[f.name]) for f in dataclasses.fields(DedupeConfig)})
    if cfg["dry_run"]:
        def check() -> None:  # the output's name and the clusters file's, as the run would check them
            if cfg["output"]:
                Layout.of_output(cfg["output"], o.plain(cfg["output_compression"])).clusters(cfg["clusters"])

        c.dry_run(cfg, derived={"bands": dcfg.banding.bands, "rows": dcfg.banding.rows}, check=check)
    with c.progress_bar("dedupe", cfg, resumable=bool(cfg["work_dir"])) as progress:  # its stages resume there
        result = commands.dedupe(
            c.require_inputs(cfg), cfg["output"], config=dcfg, read=o.read_options(cfg),
            run=o.run_options(cfg, progress), work_dir=cfg["work_dir"], stage=o.plain(cfg["stage"]),
            shard=cfg["shard"], band=cfg["band"], against=cfg["against"], clusters=cfg["clusters"],
            output_compression=o.plain(cfg["output_compression"]),
            log=(lambda m: c.note(m, cfg["quiet"])) if cfg["verbose"] else None,
        )
    _summary(result, cfg)


def _summary(result: RunResult, cfg: dict[str, Any]) -> None:
    c.delivered(cfg["output"])
    if result.up_to_date:
        c.note(f"dedupe: nothing to do, {cfg['output']} already holds this run's results", cfg["quiet"])
        return
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
