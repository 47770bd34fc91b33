"""``select``: keep the documents ranked best across all shards, with every field intact.

Data flow: resolve the inputs into a manifest of shards; get one score per document (fit a selector and
score on the fly, or read the sidecars of an earlier ``score`` run, or a numeric field of the records); the
rule picks the kept indices (one float per document in memory, never the text); a second pass re-reads every
shard with all its fields and writes the kept records through ``run.writeback``; ``manifest.json`` last.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from typing import Any, overload

import numpy as np

from sievekit.allocator import tune_allocator
from sievekit.commands.jobs import inputs_job, manifest, path_job, read_job
from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, memory, notices, resolve_inputs
from sievekit.io.shards import require_documents
from sievekit.io.spool import readable_twice, scratch_dir
from sievekit.rules import Rule, mixture, stratify
from sievekit.run import RunOptions, contract, layout
from sievekit.run.executor import Executor
from sievekit.run.layout import Layout
from sievekit.run.progress import tracker
from sievekit.run.writeback import RunResult, write_kept
from sievekit.scoring.methods import (
    describe_selectors,
    fit_all,
    load_states,
    make_selectors,
    read_target,
    shard_pool,
)
from sievekit.scoring.passes import COUNTS, method_keys, score_shards
from sievekit.scoring.sidecars import field_scores, read_sidecars
from sievekit.scoring.source import ScoreSource
from sievekit.selectors import Selector
from sievekit.selectors.ngrams import NgramFeaturizer
from sievekit.selectors.share import SELECTORS, share_summary

RESULT_KEYS = ("selector", "scores_from", "method", "score_field", "target_share")
# What local workers load once, in the fork server (by name: importing them here would warm this process too).
WARM, WARM_NGRAMS = "sievekit.scoring.warm", "sievekit.scoring.warm_ngrams"


@overload
def select(inputs: Any, output: str, *, rule: Rule, source: ScoreSource, read: ReadOptions = ...,
           run: RunOptions = ..., seed: int = ..., annotate: bool = ...,
           output_compression: str | None = ...) -> RunResult: ...


@overload
def select(inputs: Any, output: None, *, rule: Rule, source: ScoreSource, read: ReadOptions = ...,
           run: RunOptions = ..., seed: int = ..., annotate: bool = ...,
           output_compression: str | None = ...) -> Any: ...


def select(inputs: Any, output: str | None, *, rule: Rule, source: ScoreSource, read: ReadOptions = ReadOptions(),
           run: RunOptions = RunOptions(), seed: int = 0, annotate: bool = False,
           output_compression: str | None = None) -> Any:
    """Keep the documents ranked best across all shards; write them with every field intact.

    ``inputs`` are paths (files, directories, globs, ``-``) or records held in memory: an iterable of dicts, a
    pyarrow Table or a ``datasets.Dataset`` (``source.target`` too, or each target of a mixture). Those are
    spooled to a temporary shard first (a run's identity holds their content hash, not the temporary path).

    ``output`` is a directory (one output shard per input, with ``manifest.json``), one ``.jsonl[.gz|.zst]``
    file, or ``-`` for stdout. Into a directory, the same job again does nothing, a changed job is refused
    (unless ``run.overwrite``), and a killed job resumes. ``output=None`` returns the kept records instead of
    a ``RunResult``: a pyarrow Table for a Table, a ``datasets.Dataset`` for a Dataset, else a list of dicts.

    Example:
        >>> select(["pool/"], "picked/", rule=Rule("top_k", 100),
        ...        source=ScoreSource(methods=[MethodSpec("length", {})]))  # doctest: +SKIP
        >>> select([{"text": "a b"}, {"text": "c"}], None, rule=Rule("top_k", 1),
        ...        source=ScoreSource(methods=[MethodSpec("length", {})]))  # doctest: +SKIP
        [{'text': 'a b'}]
    """
    targets = _target_items(source.target)
    if output is not None and memory.kind_of(inputs) is None and all(memory.kind_of(t) is None for t in targets):
        return _select(inputs, output, rule=rule, source=source, read=read, run=run, seed=seed, annotate=annotate,
                       output_compression=output_compression)
    with ExitStack() as stack:
        pool, kind = stack.enter_context(memory.spooled(inputs, "records"))
        spooled = {pool[0]: memory.LABELS[kind]} if kind else {}
        paths = []
        for i, target in enumerate(targets):
            found, target_kind = stack.enter_context(memory.spooled(target, f"target-{i}"))
            spooled.update({found[0]: memory.LABELS[target_kind]} if target_kind else {})
            paths.extend(found)
        if targets:
            source = dataclasses.replace(source, target=paths)
        into = output if output is not None else fs.join(stack.enter_context(scratch_dir()), "selected")
        result = _select(pool, into, rule=rule, source=source, read=read, run=run, seed=seed, annotate=annotate,
                         output_compression=output_compression, spooled=spooled)
        return result if output is not None else memory.read_back(result.outputs, kind, read)


def _target_items(target: Any) -> list[Any]:
    """The target as a list of items, each a path or records held in memory."""
    if target is None:
        return []
    if memory.kind_of(target) is not None or isinstance(target, str):
        return [target]
    return list(target)


def _select(inputs: Sequence[str], output: str, *, rule: Rule, source: ScoreSource, read: ReadOptions,
            run: RunOptions, seed: int, annotate: bool, output_compression: str | None,
            spooled: Mapping[str, str] | None = None) -> RunResult:
    """``select`` over paths; ``spooled`` names the temporary files that hold in-memory records (by their label)."""
    tune_allocator()
    if source.proportions is not None:
        rule.check_mixable()
    if source.sidecars and not fs.isdir(source.sidecars):
        raise ConfigError(f"{option('sidecars')} {source.sidecars}: no such directory (pass the output directory "
                          "of `sievekit score`)")
    out = Layout.of_output(output, output_compression)
    selectors = _selectors(source, rule, seed)
    with readable_twice(inputs, read) as found, Executor(run.jobs, run.executor, run.ray_address,
                                                        _warm(selectors)) as ex:
        spooled = spooled or {}
        shards = [dataclasses.replace(s, origin=spooled[s.path]) if s.path in spooled else s for s in found]
        job = {"command": "select", "inputs": _describe(shards, spooled), "rule": dataclasses.asdict(rule),
               "source": _source_job(source, selectors, shards, spooled), "read": read_job(read), "seed": seed,
               "annotate": annotate, "output_compression": output_compression}
        if rule.tokenizer:
            job["tokenizer"] = path_job(rule.tokenizer)
        writes = out.outputs(shards) + out.record()
        reads = layout.reads_of(shards) + _source_reads(source) + ([("the tokenizer", rule.tokenizer)]
                                                                   if rule.tokenizer else [])
        layout.check(writes, reads, layout.input_dirs(inputs), out.place)
        require_documents(shards, read, "select from")
        with out.claimed(job, run.overwrite, out.outputs(shards)) as status:
            if status == "done":
                return RunResult.from_manifest(out.load_manifest() or {}, RESULT_KEYS)
            scored = _collect_scores(source, selectors, shards, read, ex, run, rule)
            per_shard, stats, digests, extra = scored.per_shard, scored.stats, scored.digests, scored.extra
            rows = [len(next(iter(s.values()))) for s in per_shard]
            kept, columns = _pick(rule, source, per_shard, seed, shards, read, extra, annotate, scored.state)
            for entry in extra.get("mixture", []):  # a target spooled from memory by its label, not its temp path
                entry["target"] = spooled.get(entry["target"], entry["target"])
            keep = np.zeros(sum(rows), dtype=bool)
            keep[kept] = True
            result = write_kept(shards, rows, keep, columns, out, read, output_compression, stats, digests,
                                resume=status == "resume", executor=ex, progress=tracker(run.progress))
            result.extra.update(extra)
            out.finish(job, manifest("select", shards, result))
            return result


def _warm(selectors: Sequence[Selector]) -> list[str]:
    """What the fork server preloads: the task code, and the n-gram featurizer's kernels for a method that
    featurises (loading them costs most of a CPU-second, which a random or compression run would wait for)."""
    featurises = any(isinstance(getattr(s, "featurizer", None), NgramFeaturizer) for s in selectors)
    return [WARM_NGRAMS if featurises else WARM]


def _selectors(source: ScoreSource, rule: Rule, seed: int) -> list[Selector]:
    """The selectors to score with, built (not yet fitted) or loaded from a state."""
    if source.sidecars or source.field:
        return []
    if source.state:
        return load_states(source.state, [m.name for m in source.methods] or None)
    if source.shares is not None:  # one selector per target, each told its own share of the selection
        quota = mixture.quotas(source.shares, int(rule.value)) if rule.kind == "top_k" else None
        return [s for k, share in enumerate(source.shares)
                for s in make_selectors(source.methods, seed, {"budget_docs": quota[k]} if quota else
                                        {"budget_fraction": rule.value * share} if rule.kind == "fraction" else {})]
    return make_selectors(source.methods, seed, rule.budget())


def _describe(shards: Sequence[Shard], spooled: Mapping[str, str]) -> list[dict[str, Any]]:
    """Inputs for the job: records spooled from memory by their content, as stdin is (their path is temporary)."""
    return [{"name": s.name, "path": spooled[s.path], "sha256": fs.sha256(s.path)} if s.path in spooled
            else contract.describe_inputs([s])[0] for s in shards]


def _targets_job(specs: Sequence[str] | None, spooled: Mapping[str, str]) -> list[dict[str, Any]] | None:
    if not specs:
        return None
    return [entry for spec in specs for entry in (_describe(resolve_inputs([spec]), spooled) if spec in spooled
                                                  else inputs_job([spec]) or [])]


def _source_job(source: ScoreSource, selectors: Sequence[Selector], shards: Sequence[Shard],
                spooled: Mapping[str, str]) -> dict[str, Any]:
    if source.field:
        return {"field": source.field}
    if source.sidecars:
        sidecars = Layout(source.sidecars)
        return {"sidecars": [path_job(sidecars.sidecar(s)) for s in shards],
                "column": source.methods[0].name if source.methods else None}
    if source.state:
        return {"state": path_job(source.state), "methods": [s.name for s in selectors]}
    if source.shares is not None:
        return {"methods": describe_selectors(selectors), "targets": [
            {"target": _targets_job([t], spooled), "share": share}
            for t, share in zip(source.target or [], source.shares)]}
    if spooled:
        return {"methods": describe_selectors(selectors), "target": _targets_job(source.target, spooled)}
    return {"methods": describe_selectors(selectors), "target": inputs_job(source.target)}


def _source_reads(source: ScoreSource) -> list[tuple[str, str]]:
    reads = [("the target " + s.label, s.path) for s in resolve_inputs(list(source.target))] if source.target else []
    if source.state:
        reads.append(("the state", source.state))
    return reads


SCORES = "<scores>"  # a shard's scores among its arrays (``passes.COUNTS`` holds its counts)


@dataclasses.dataclass
class Scored:
    """The scores ``select`` ranks by, and what it knows of them.

    Attributes:
        per_shard: each shard's arrays: scores under ``SCORES`` (``SCORES`` + k per target of a mixture), and
            for a budget, counts under ``passes.COUNTS``.
        stats: each shard's reader counters (empty where the scores came from sidecars).
        digests: each shard's sidecar id digest, to check against the shard when writing (else None).
        extra: what the manifest records of the source (``selector``, ``scores_from``, ``method``, ...).
        state: the fitted state whose estimate of the target-like share applies to the scores: the selector
            fitted now, or the state a ``score`` run saved beside its sidecars (which never enters the
            manifest's ``selector``: that means a method fitted in this run).
    """

    per_shard: list[dict[str, np.ndarray]]
    stats: list[ShardStats]
    digests: list[str | None]
    extra: dict[str, Any]
    state: dict[str, Any] | None = None


def _collect_scores(source: ScoreSource, selectors: list[Selector], shards: Sequence[Shard], opts: ReadOptions,
                    ex: Executor, run: RunOptions, rule: Rule) -> Scored:
    """Each shard's scores (under ``SCORES``) and, for a budget, its documents' counts (under ``COUNTS``): made
    in the scoring pass when a method scores now; from sidecars or a field, counting is one more read."""
    progress = tracker(run.progress)
    saved = None
    if source.field or source.sidecars:
        if source.field:
            progress.phase_of("score", shards)
            per_shard, stats = field_scores(shards, source.field, opts)
            progress.complete()
            digests: list[str | None] = [None] * len(shards)
            extra: dict[str, Any] = {"score_field": source.field}
        else:
            column = source.methods[0].name if source.methods else None
            read = read_sidecars(source.sidecars or "", shards, column)
            per_shard, stats, digests = [r[1] for r in read], [ShardStats() for _ in shards], [r[2] for r in read]
            extra = {"scores_from": source.sidecars, "method": read[0][0] if read else column}
            saved = _saved_state(source.sidecars or "", extra["method"])  # it scored them: its estimate applies
        arrays = [{SCORES: s} for s in per_shard]
        if rule.counting:
            counted, _ = score_shards([], shards, opts, ex, run.progress, span_bytes=run.span_bytes,
                                      counting=rule.counting)
            for a, c in zip(arrays, counted):
                a[COUNTS] = c[COUNTS]
        return Scored(arrays, stats, digests, extra, saved)
    if not source.state:
        progress.phase_of("fit", resolve_inputs(list(source.target)) if source.target else [])
        pool = shard_pool(shards, opts, ex)  # one pool for every fit: its rows are counted once
        if source.shares is not None:
            for target, selector in zip(source.target or [], selectors):
                fit_all([selector], read_target([target], opts), pool, opts)
        else:
            fit_all(selectors, read_target(source.target, opts) if source.target else None, pool, opts)
        progress.complete()
    per_method, stats = score_shards(selectors, shards, opts, ex, run.progress, span_bytes=run.span_bytes,
                                     counting=rule.counting)
    keys = method_keys(selectors)
    names = [SCORES] if source.shares is None else [f"{SCORES}{k}" for k in range(len(keys))]
    extra = {"selector": selectors[0].state_dict()}
    if source.shares is not None:
        extra["selectors"] = [s.state_dict() for s in selectors]
    return Scored([{**{name: s[key] for name, key in zip(names, keys)}, **({COUNTS: s[COUNTS]} if COUNTS in s
                                                                          else {})} for s in per_method],
                  stats, [None] * len(shards), extra, extra["selector"])


def _saved_state(scores_dir: str, method: str | None) -> dict[str, Any] | None:
    """The fitted state a ``score`` run saved beside its sidecars, if it is there and whole (it only informs the
    summary, so a missing or damaged one is no error)."""
    if method not in SELECTORS:  # only these record an estimate: no other state is worth loading
        return None
    try:
        return load_states(scores_dir, [method])[0].state_dict()
    except ConfigError:
        return None


def _pick(rule: Rule, source: ScoreSource, per_shard: Sequence[dict[str, np.ndarray]], seed: int,
          shards: Sequence[Shard], opts: ReadOptions, extra: dict[str, Any], annotate: bool,
          state: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """The kept indices and the columns ``annotate`` adds; the budget's and the mixture's figures go to ``extra``;
    ``state`` is the fitted state whose estimate of the target-like share applies (``Scored.state``)."""
    counts = _counts(per_shard) if rule.counting else None
    if source.shares is None:
        scores = _joined(per_shard, SCORES)
        kept = rule.pick(scores, seed, _strata(rule, shards, opts) if rule.stratify else None, counts)
        _warn_shortfall(rule, scores, kept, state)
        columns = _annotations(scores, kept) if annotate else None
        share = share_summary(state, scores, kept)
        if share is not None:  # the classifier's estimate of the pool's target-like share beside the selection
            extra["target_share"] = share
    else:
        per_target = [_joined(per_shard, f"{SCORES}{k}") for k in range(len(source.shares))]
        kept, owner = rule.mix(per_target, source.shares, counts)
        extra["mixture"] = _mixture_extra(source, owner, counts, extra.pop("selectors"),
                                           rule.counting.unit if rule.counting else None, per_target)
        columns = _mixture_annotations(per_target, owner) if annotate else None
    if counts is not None:
        extra["budget"] = _budget_extra(rule, counts, kept)
    return kept, columns


def _warn_shortfall(rule: Rule, scores: np.ndarray, kept: np.ndarray, state: Mapping[str, Any] | None) -> None:
    """Say why a selection holds fewer documents than asked, when documents that score ``-inf`` (never selected:
    below the method's minimum length) are the reason; e.g. DSIR's ``--min-length 100`` on short documents."""
    asked = int(rule.value) if rule.kind in ("top_k", "sample") else \
        int(rule.value * len(scores)) if rule.kind == "fraction" else 0
    never = int(np.count_nonzero(np.isneginf(scores)))
    if len(kept) >= min(asked, len(scores)) or not never:
        return
    config = (state or {}).get("config") or {}
    name = (state or {}).get("name", "the method")
    flag, unit = next(((f"--{field.replace('_', '-')}", unit) for field, unit in (("min_length", "tokens"),
                                                                                ("min_bytes", "bytes"))
                       if field in config), (None, ""))
    why = f"shorter than {flag} {config[flag[2:].replace('-', '_')]} {unit}; lower {flag} to rank them" if flag \
        else "the method gives them no score"
    message = (f"kept {len(kept):,} of the {asked:,} documents asked for: {never:,} of {len(scores):,} score -inf "
               f"and are never selected ({name}: {why})")
    notices.warn_once(f"shortfall:{message}", message)


def _joined(per_shard: Sequence[dict[str, np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([s[key] for s in per_shard]) if per_shard else np.empty(0)


def _mixture_extra(source: ScoreSource, owner: np.ndarray, counts: np.ndarray | None,
                   states: list[dict[str, Any]], unit: str | None,
                   per_target: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """Each target of a mixture: its share asked and got (of the documents, or of the counted budget), and
    beside the documents it got, its method's estimate of the pool's share like that target (the classifier's:
    ``target_share``), counted on the pool by that target's scores."""
    kept = owner >= 0
    out = []
    for k, (target, share) in enumerate(zip(source.target or [], source.shares or [])):
        mine = owner == k
        entry: dict[str, Any] = {"target": target, "share": share, "documents": int(mine.sum()),
                                 "documents_share": float(mine.sum() / max(int(kept.sum()), 1))}
        if counts is not None:
            entry[str(unit)] = int(counts[mine].sum())
            entry[f"{unit}_share"] = float(counts[mine].sum() / max(int(counts[kept].sum()), 1))
        entry["selector"] = states[k]
        estimate = share_summary(states[k], per_target[k], np.flatnonzero(mine))
        if estimate is not None:
            entry["target_share"] = estimate
        out.append(entry)
    return out


def _mixture_annotations(per_target: Sequence[np.ndarray], owner: np.ndarray) -> dict[str, np.ndarray]:
    """A kept document's score and rank by its own target's method, and that target's number (from 0)."""
    score = np.full(len(owner), np.nan)
    rank = np.zeros(len(owner), dtype=np.int64)
    for k, scores in enumerate(per_target):
        mine = np.flatnonzero(owner == k)
        score[mine] = scores[mine]
        rank += _annotations(scores, mine)["rank"]
    return {"score": score, "rank": rank, "target": owner}


def _counts(per_shard: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
    parts = [s[COUNTS] for s in per_shard]
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)


def _budget_extra(rule: Rule, counts: np.ndarray, kept: np.ndarray) -> dict[str, Any]:
    """What the manifest tells of a budget: its unit, how counts were made, and the counts in and out."""
    counting = rule.counting
    assert counting is not None
    return {"unit": counting.unit, "counter": counting.counter, "tokenizer": rule.tokenizer,
            "limit": int(rule.value), "in": int(counts.sum()), "out": int(counts[kept].sum())}


def _strata(rule: Rule, shards: Sequence[Shard], opts: ReadOptions) -> np.ndarray:
    """A stratum number per document: its equal-frequency length band, or the code of a field's value.

    This is one more read of the pool (texts only for length, that field for Parquet)."""
    if rule.stratify == "length":
        lengths = [np.fromiter(map(len, b.texts), dtype=np.int64, count=len(b))
                   for s in shards for b in iter_batches(s, opts, all_columns=False)]
        flat = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int64)
        return stratify.length_bins(flat, min(rule.bins, max(len(flat), 1)))
    name = rule.stratify or ""
    values: list[Any] = []
    fields: Counter[str] = Counter()
    for shard in shards:
        for batch in iter_batches(shard, opts, all_columns=True):
            values.extend(batch.column(name))
            fields.update(batch.field_counts())
    if values and name not in fields:
        raise ConfigError(f"no record has a field {name!r} for {option('stratify')}",
                          hint=f"use length, or one of the fields: {', '.join(sorted(fields)[:20])}")
    return stratify.group_codes(values)


def _annotations(scores: np.ndarray, kept: np.ndarray) -> dict[str, np.ndarray]:
    rank = np.zeros(len(scores), dtype=np.int64)
    order = kept[np.argsort(-scores[kept], kind="stable")]
    rank[order] = np.arange(1, len(order) + 1)
    return {"score": scores, "rank": rank}
