"""`sievekit score`: one score per document and method, as sidecars aligned with the input shards."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sievekit import commands
from sievekit.cli import _common as c
from sievekit.cli import options as o
from sievekit.cli.select import State, Target, cfg_file
from sievekit.errors import ConfigError
from sievekit.run.layout import Layout
from sievekit.scoring import MethodSpec


@o.command(o.READ, o.SEED, o.WORKERS, o.SPLIT, o.OVERWRITE, o.COMMON, boundary=c.boundary)
def score_cmd(
    ctx: typer.Context,
    inputs: c.Inputs = None,
    output: c.Output = "-",
    method: Annotated[list[str] | None, typer.Option("-m", "--method", help="A method to score with (repeat for "
                                                     "several; their options may follow).")] = None,
    target: Target = None,
    state: State = None,
    inline: Annotated[bool, typer.Option("--inline", help="Write the records with one score column per method, "
                                         "instead of sidecars.")] = False,
    shard_index: Annotated[int | None, typer.Option("--shard-index", min=0, help="This array task's number: with "
                                                    "--num-shards N, score every N-th shard from the I-th.")] = None,
    num_shards: Annotated[int | None, typer.Option("--num-shards", min=1, help="How many array tasks share the "
                                                   "shards (Slurm arrays, xargs -P; no engine needed).")] = None,
) -> None:
    """Score every document of the input shards with one or more methods.

    Writes one line per record, {"shard", "row", "id", <method>: score, ...}, to stdout or, with -o DIR, one
    sidecar shard per input (<name>.scores.jsonl[.gz|.zst]), the fitted states (state/<method>.json, reusable
    with --state on new shards) and manifest.json. With --inline the records themselves are written, with a
    score column per method. A null score means the method never selects that document.

    Example:  sievekit score pool/ --method length --method random -o scores/
    """
    cfg = c.method_config(ctx, cfg_file(ctx))
    if not cfg["method"] and not cfg["state"]:
        raise ConfigError("no method given", hint="pass --method NAME (or --state from an earlier run)")
    methods = [MethodSpec(n, opts) for n, opts in cfg["method_options"].items()]
    if cfg["dry_run"]:
        c.dry_run(cfg, methods=methods, check=lambda: Layout.of_output(cfg["output"], single=False))
    with c.progress_bar("score", cfg, resumable=Layout(cfg["output"]).kind == "dir") as progress:
        result = commands.score(
            c.require_inputs(cfg), cfg["output"], methods=methods, target=cfg["target"] or None, state=cfg["state"],
            inline=cfg["inline"], read=o.read_options(cfg), run=o.run_options(cfg, progress), seed=cfg["seed"],
            part=_part(cfg))
    c.delivered(cfg["output"])
    if result.up_to_date:
        c.note(f"score: nothing to do, {cfg['output']} already holds this run's results", cfg["quiet"])
        return
    c.note(f"score: {result.rows_in:,} documents in {len(result.shards)} shard(s) scored with "
           f"{', '.join(result.extra['methods'])} -> {cfg['output']}", cfg["quiet"])


def _part(cfg: dict[str, Any]) -> tuple[int, int] | None:
    if (cfg["shard_index"] is None) != (cfg["num_shards"] is None):
        raise ConfigError("give --shard-index and --num-shards together")
    return None if cfg["num_shards"] is None else (cfg["shard_index"], cfg["num_shards"])
