"""Markdown tables from run.py's results: the pool, the tasks, every method per task, the drop-share sweep,
the classifier's variants, and the zipfit subsample."""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tasks import SUB_STYLES  # noqa: E402

DEFAULT = "classifier:hard_negative_weight=3"  # the default since bc7e206 (with the 1.5 multiple)
PREVIOUS = "classifier:pu_budget_multiple=1.5"  # the default from 465111f to bc7e206 (hard_negative_weight 1)
SWEEP_PREFIX = "classifier:pu_top_fraction="
HNW_SWEEP_PREFIX = "classifier:hard_negative_weight=3,pu_top_fraction="


def _group(results: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        out[(r["method"], r["task"])].append(r)
    return out


def _stat(runs: list[dict[str, Any]], key: str) -> tuple[float, float]:
    vals = [r[key] for r in runs if key in r and r[key] is not None and not math.isnan(r[key])]
    return (float(np.mean(vals)), float(np.std(vals))) if vals else (float("nan"), float("nan"))


def _cell(runs: list[dict[str, Any]], key: str, sd: bool = True) -> str:
    mean, dev = _stat(runs, key)
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f} ± {dev:.3f}" if sd and len(runs) > 1 else f"{mean:.3f}"


def pool_section(meta: dict[str, Any]) -> list[str]:
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(meta["kinds"].items(), key=lambda kv: -kv[1]))
    lines = [f"Pool: **{meta['pool_docs']:,} documents, {meta['pool_bytes'] / 1e6:.1f} MB** of UTF-8 text, "
             f"{len(meta['kinds'])} kinds ({kinds}), in {len(meta['shards'])} shards "
             f"({', '.join(meta['shards'])}). Exact duplicates dropped: {meta['stats'].get('exact_duplicates', 0):,}; "
             f"held-out documents dropped by the leak check: {meta['stats'].get('heldout_leaks_dropped', 0):,}.",
             "", "| task | rule | R (relevant in pool) | share | targets | target packages (held out) |",
             "|---|---|---|---|---|---|"]
    for task, t in meta["tasks"].items():
        pk = ", ".join(f"{p} {n}" for p, n in t["target_packages"].items())
        style = " (sub-style)" if task in SUB_STYLES else ""
        lines.append(f"| {task}{style} | {t['rule']} | {t['relevant']:,} | {100 * t['share']:.2f}% | {t['targets']} "
                     f"| {pk} |")
    return lines


def methods_section(groups: dict, tasks: list[str], methods: list[str]) -> list[str]:
    lines = ["| task | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(_cell(groups.get((m, task), []), "p_at_r") for m in methods) + " |")
    means = [np.mean([_stat(groups.get((m, t), []), "p_at_r")[0] for t in tasks]) for m in methods]
    subs = [np.mean([_stat(groups.get((m, t), []), "p_at_r")[0] for t in tasks if t in SUB_STYLES]) for m in methods]
    for label, vals in (("mean", means), ("mean, sub-styles", subs)):
        lines.append(f"| **{label}** | " + " | ".join("–" if math.isnan(v) else f"**{v:.3f}**" for v in vals) + " |")
    lines += ["", "ROC-AUC / Spearman(score, length) / CPU-s per run (fit + scoring the whole pool), means:", "",
              "| task | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for task in tasks:
        cells = []
        for m in methods:
            runs = groups.get((m, task), [])
            auc, rho, cpu = (_stat(runs, k)[0] for k in ("auc", "spearman_len", "cpu_s"))
            cells.append("–" if not runs else f"{auc:.4f} / {rho:+.2f} / {cpu:.1f}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def sweep_section(groups: dict, tasks: list[str], prefix: str = SWEEP_PREFIX, default_method: str = PREVIOUS
                  ) -> list[str]:
    """Fixed drop shares (``prefix`` + share) against ``default_method``, which drops 1.5x the budget's share."""
    shares = sorted({m[len(prefix):] for m, _ in groups if m.startswith(prefix)}, key=float)
    if not shares:
        return []
    head = ["| task | default drop share | " + " | ".join(shares)
            + " | best fixed | default (1.5 x budget) | default − best | no budget (estimate) |",
            "|---|---|" + "---|" * (len(shares) + 4)]
    for task in tasks:
        vals = [_stat(groups.get((prefix + s, task), []), "p_at_r")[0] for s in shares]
        if all(math.isnan(v) for v in vals):
            continue
        best = np.nanmax(vals)
        default = _stat(groups.get((default_method, task), []), "p_at_r")[0]
        share = _stat(groups.get((default_method, task), []), "pu_share")[0]
        none = groups.get((prefix.replace("pu_top_fraction=", "budget=none"), task), [])
        head.append(f"| {task} | {share:.4f} | " + " | ".join("–" if math.isnan(v) else f"{v:.3f}" for v in vals)
                    + f" | {best:.3f} | {default:.3f} | {default - best:+.3f} | "
                    + (f"{_cell(none, 'p_at_r', sd=False)} (drop {_stat(none, 'pu_share')[0]:.4f}) |" if none
                       else "– |"))
    return head


def zipfit_section(groups: dict, tasks: list[str], methods: list[str], n: int) -> list[str]:
    lines = [f"precision@R on the seeded {n:,}-document subsample (R = its relevant documents; every method's "
             "scores are the ones it gave on the whole pool, except zipfit, which scored the subsample only):", "",
             "| task | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(_cell(groups.get((m, task), []), "sub_p_at_r") for m in methods)
                     + " |")
    return lines


def share_section(groups: dict, tasks: list[str], meta: dict[str, Any]) -> list[str]:
    """The default's recorded estimate of the pool's target-like share (select --top-k R) beside the truth."""
    lines = ["| task | true share | estimate (mean ± sd over seeds) | documents above the boundary / R |",
             "|---|---|---|---|"]
    method = DEFAULT if any(r.get("target_share") is not None for t in tasks for r in groups.get((DEFAULT, t), [])) \
        else PREVIOUS
    lines.insert(0, f"{method}:")
    lines.insert(1, "")
    for task in tasks:
        runs = [r for r in groups.get((method, task), []) if r.get("target_share") is not None]
        if not runs:
            return []
        mean, dev = _stat(runs, "target_share")
        true = meta["tasks"][task]["share"]
        lines.append(f"| {task} | {true:.4f} | {mean:.4f} ± {dev:.4f} | {mean / true:.2f} |")
    return lines


def screen_section(groups: dict, tasks: list[str], methods: list[str]) -> list[str]:
    """Seed 0 only: each screened variant's precision@R minus the default's (seed 0), per task."""
    def p0(method: str, task: str) -> float:
        runs = [r for r in groups.get((method, task), []) if r["seed"] == 0]
        return runs[0]["p_at_r"] if runs else float("nan")

    lines = ["| variant (seed 0) | " + " | ".join(tasks) + " | mean Δ, sub-styles | worst Δ |",
             "|---|" + "---|" * (len(tasks) + 2)]
    base = {t: p0(PREVIOUS, t) for t in tasks}
    lines.append(f"| {PREVIOUS} (precision@R) | " + " | ".join(f"{base[t]:.3f}" for t in tasks) + " | | |")
    for m in methods:
        deltas = {t: p0(m, t) - base[t] for t in tasks}
        ok = [d for d in deltas.values() if not math.isnan(d)]
        subs = [deltas[t] for t in tasks if t in SUB_STYLES and not math.isnan(deltas[t])]
        lines.append(f"| {m} | " + " | ".join("–" if math.isnan(deltas[t]) else f"{deltas[t]:+.3f}" for t in tasks)
                     + f" | {np.mean(subs) if subs else float('nan'):+.3f} | {min(ok) if ok else float('nan'):+.3f} |")
    return lines


def write_report(results: list[dict[str, Any]], data: Path, out: Path, header: str = "",
                 screened: list[dict[str, Any]] | None = None) -> None:
    meta = json.loads((data / "meta.json").read_text())
    groups = _group(results)
    tasks = list(meta["tasks"])
    all_methods = list(dict.fromkeys(r["method"] for r in results))
    others = [m for m in all_methods if not m.startswith("classifier")]
    variants = [DEFAULT, PREVIOUS] + [m for m in all_methods if m.startswith("classifier") and m not in (
        DEFAULT, PREVIOUS) and not m.startswith((SWEEP_PREFIX, HNW_SWEEP_PREFIX))]
    zipdocs = next((r["docs"] for r in results if r["method"] == "zipfit"), 0)
    lines = [header, "## Pool and tasks", "", *pool_section(meta), "",
             "## Every target-aware method (precision@R, mean ± sd over seeds 0, 1, 2; "
             "methods without a seed: one run)",
             "", *methods_section(groups, tasks, [DEFAULT, PREVIOUS] + [m for m in others if m != "zipfit"]), "",
             "## The classifier's re-fit: drop share (precision@R, mean over 3 seeds)", "",
             f"Against {PREVIOUS} (hard_negative_weight 1), the default before this one:", "",
             *sweep_section(groups, tasks), "",
             "With hard_negative_weight 3 (the default now), on the three tasks where the default was furthest "
             "from the best fixed share:", "", *sweep_section(groups, tasks, HNW_SWEEP_PREFIX, DEFAULT), "",
             "## The classifier's variants (precision@R, mean ± sd over 3 seeds)", "",
             *methods_section(groups, tasks, variants), ""]
    shares = share_section(groups, tasks, meta)
    if shares:
        lines += ["## The estimate of the pool's target-like share (select -v, report)", "",
                  "Recorded by the default classifier run as `select --top-k R` runs it; the documents above its "
                  "boundary are the estimate times the pool (within the sample's rounding).", "", *shares, ""]
    if screened:
        sgroups = _group(screened + [r for r in results if r["method"] == PREVIOUS])
        smethods = list(dict.fromkeys(r["method"] for r in screened if r["method"] != PREVIOUS))
        lines += [f"## Screened variants (one seed: precision@R minus {PREVIOUS}'s, seed 0)", "",
                  *screen_section(sgroups, tasks, smethods), ""]
    if zipdocs:
        lines += ["## zipfit, on a subsample", "", *zipfit_section(groups, tasks, [PREVIOUS] + others, zipdocs), ""]
    feat = [r["pool_featurize_cpu_s"] for r in results if r.get("pool_featurize_cpu_s")]
    if feat:
        lines += [f"The classifier featurised the pool once per process: {min(feat):.1f}–{max(feat):.1f} CPU-s "
                  f"({meta['pool_bytes'] / 1e6 / max(feat):.1f}–{meta['pool_bytes'] / 1e6 / min(feat):.1f} MB per "
                  "CPU-s); its CPU-s above exclude it.", ""]
    out.write_text("\n".join(lines))
