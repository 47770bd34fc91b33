"""`sievekit select`: keep the documents ranked best, across all shards, with every field intact."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sievekit import commands
from sievekit.cli import _common as c
from sievekit.cli import options as o
from sievekit.errors import ConfigError
from sievekit.rules import RULES, Rule
from sievekit.run.layout import Layout
from sievekit.scoring import MethodSpec, ScoreSource
from sievekit.scoring.source import parse_targets
from sievekit.selectors.share import share_sentence

Target = Annotated[list[str] | None, typer.Option("-t", "--target", help="Target set: file, directory or glob. "
                                                  "Several are one merged set; PATH:SHARE on each (code.jsonl:0.7) "
                                                  "selects a mixture with those proportions.")]
State = Annotated[str | None, typer.Option("--state", help="Reuse a fitted state (a state file, or the output "
                                           "directory of an earlier `sievekit score`) instead of fitting.")]
OutputCodec = o.choices("OutputCodec", ("none", "gzip", "zstd"))


@o.command(o.READ, o.SEED, o.WORKERS, o.SPLIT, o.OVERWRITE, o.COMMON, boundary=c.boundary)
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
    budget_tokens: Annotated[float | None, typer.Option(
        "--budget-tokens", min=0, help="Keep the best documents while their tokens add up to at most N (1e9 works); "
        "a document that would cross N is not kept, nor any ranked after it. Tokens are estimated unless "
        "--tokenizer is given.")] = None,
    budget_bytes: Annotated[float | None, typer.Option(
        "--budget-bytes", min=0, help="As --budget-tokens, counting the UTF-8 bytes of the text field.")] = None,
    tokenizer: Annotated[str | None, typer.Option(
        "--tokenizer", help="Count --budget-tokens exactly with this `tokenizers` JSON file (a model's "
        "tokenizer.json; pip install 'sievekit[tokens]').")] = None,
    stratify: Annotated[str | None, typer.Option("--stratify", help="Keep each stratum's share with --top-k or "
                                                 "--fraction: `length` (equal-frequency length bands) or a field "
                                                 "name (one stratum per value).")] = None,
    bins: Annotated[int, typer.Option("--bins", min=1, help="Length bands for --stratify length.")] = 10,
    annotate: Annotated[bool, typer.Option("--annotate", help="Add score and rank fields to kept records.")] = False,
    output_compression: Annotated[OutputCodec | None, typer.Option(  # type: ignore[valid-type]
        "--output-compression", help="Codec for stdout: none, gzip, zstd.")] = None,
) -> None:
    """Keep the documents ranked best across all input shards.

    Scores come from a method run now (--method, with --target for target-based methods), from the
    sidecars of an earlier `sievekit score` (--scores DIR), or from a numeric field (--score-field). Exactly
    one rule: --top-k N, --fraction F, --threshold T, --sample N, --budget-tokens N or --budget-bytes N.
    Memory holds one float per document (and its count, for a budget); kept records are written with every
    field, in input order. Re-running a finished run into the same directory does nothing.

    Example:  sievekit select pool/ --method random --fraction 0.1 --seed 1 -o picked/
    """
    cfg = c.method_config(ctx, cfg_file(ctx))
    rule = _rule(cfg)
    targets, proportions = parse_targets(cfg["target"] or [])
    if proportions is not None:  # the plan (--dry-run) shows the paths and their shares apart
        cfg["target"], cfg["target_shares"] = targets, proportions
    source = ScoreSource(methods=[MethodSpec(n, opts) for n, opts in cfg["method_options"].items()],
                         target=targets or None, state=cfg["state"], sidecars=cfg["scores"],
                         field=cfg["score_field"], proportions=proportions)
    if proportions is not None:  # before --dry-run, which would otherwise pass a rule a mixture cannot share
        rule.check_mixable()
    if cfg["dry_run"]:
        c.dry_run(cfg, methods=source.methods, budget=rule.budget(),
                  check=lambda: Layout.of_output(cfg["output"], o.plain(cfg["output_compression"])))
    with c.progress_bar("select", cfg, resumable=Layout(cfg["output"]).kind == "dir") as progress:
        result = commands.select(
            c.require_inputs(cfg), cfg["output"], rule=rule, source=source, read=o.read_options(cfg),
            run=o.run_options(cfg, progress), seed=cfg["seed"], annotate=cfg["annotate"],
            output_compression=o.plain(cfg["output_compression"]))
    c.delivered(cfg["output"])
    if result.up_to_date:
        c.note(f"select: nothing to do, {cfg['output']} already holds this run's results", cfg["quiet"])
        return
    c.note(f"select: kept {result.rows_out:,} of {result.rows_in:,} documents from {len(result.shards)} shard(s)"
           f" -> {cfg['output']}", cfg["quiet"])
    if cfg["verbose"]:
        if "target_share" in result.extra:
            c.note(f"select: {share_sentence(result.extra['target_share'])}", cfg["quiet"])
        for part in result.extra.get("mixture", []):  # a mixture: each target's estimate, by its own method
            if "target_share" in part:
                c.note(f"select: toward {part['target']}: {share_sentence(part['target_share'])}", cfg["quiet"])
        for shard in result.shards:
            c.note(f"  {shard['name']}: {shard['rows_out']:,}/{shard['rows_in']:,} kept, skipped {shard['skipped']}",
                   cfg["quiet"])


def cfg_file(ctx: typer.Context) -> Any:
    return ctx.params.get("config")


def _rule(cfg: dict[str, Any]) -> Rule:
    given = [(k, cfg[k]) for k in RULES if cfg.get(k) is not None]
    if len(given) != 1:
        names = ", ".join("--" + k.replace("_", "-") for k, _ in given) or "none"
        raise ConfigError(f"give exactly one of {', '.join('--' + k.replace('_', '-') for k in RULES)} (got {names})")
    kind, value = given[0]
    return Rule(kind, value, stratify=cfg.get("stratify"), bins=cfg.get("bins", 10), tokenizer=cfg.get("tokenizer"))
