"""``score``: one score per document and method, as sidecars aligned with the input shards (or inline)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sievekit.allocator import tune_allocator
from sievekit.commands.jobs import inputs_job, manifest, path_job, read_job
from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions, Shard, ShardStats, fs, iter_batches, resolve_inputs
from sievekit.io.shards import require_documents
from sievekit.io.spool import copy_to_stdout, readable_twice, scratch_dir
from sievekit.run import RunOptions, contract, layout
from sievekit.run.executor import Executor
from sievekit.run.layout import Layout
from sievekit.run.progress import tracker
from sievekit.run.writeback import RunResult, stat_fields
from sievekit.scoring.methods import (
    MethodSpec,
    check_target,
    describe_selectors,
    fit_all,
    load_states,
    make_selectors,
    read_target,
    save_states,
)
from sievekit.scoring.passes import Sinks, score_shards


def score(inputs: Sequence[str], output: str, *, methods: Sequence[MethodSpec] = (),
          target: Sequence[str] | None = None,
          state: str | None = None, inline: bool = False, read: ReadOptions = ReadOptions(),
          run: RunOptions = RunOptions(), seed: int = 0, part: tuple[int, int] | None = None) -> RunResult:
    """Score every document with one or more methods.

    ``output`` is a directory or ``-`` (stdout). Writes sidecar lines ``{"shard", "row", "id", <method>: score,
    ...}`` per shard (``inline``: the records themselves with one column per method); a non-finite score (never
    select) is written as null. Into a directory the fitted states go to ``state/<method>.json`` (reusable with
    ``state=``). ``part`` (I, N) scores every N-th shard from the I-th, with its own manifest. The run contract
    holds as for ``select`` (a sidecar no run of the directory wrote is not replaced without ``run.overwrite``);
    an empty pool is an ``InputError``.
    """
    tune_allocator()
    out = Layout.of_output(output, single=False)
    if out.kind == "file":
        raise ConfigError(f"score writes one output per input shard: {option('output')} must be a directory or "
                          f"- (stdout), not the file name {output}", hint=f"e.g. {option('output')} scores/")
    check_target(target)
    if not methods and not state:
        raise ConfigError(f"no method given: pass {option('methods')} (or {option('state')} from an earlier run)")
    with readable_twice(inputs, read) as all_shards, scratch_dir("sievekit-score-") as tmp, \
            Executor(run.jobs, run.executor, run.ray_address) as ex:
        shards = part_of(all_shards, part)
        name = contract.part_name(part)
        selectors = load_states(state, [m.name for m in methods] or None) if state else make_selectors(methods, seed)
        job = {"command": "score", "inputs": contract.describe_inputs(shards), "part": part,
               "methods": [s.name for s in selectors] if state else describe_selectors(selectors),
               "state": path_job(state), "target": inputs_job(target), "inline": inline, "read": read_job(read),
               "seed": seed}
        dests = [_dest(out, tmp, shard, inline) for shard in shards]
        states = [out.state(s.name) for s in selectors] if out.kind == "dir" else []
        sidecars = [(f"the scores of {s.label}", d) for s, d in zip(shards, dests)] if out.kind == "dir" else []
        saved = [(f"the state of {os.path.basename(p)[:-5]}", p) for p in states]
        if out.kind == "dir":
            reads = layout.reads_of(shards) + [(f"the target {s.label}", s.path)
                                               for s in (resolve_inputs(list(target)) if target else [])]
            layout.check(sidecars + saved + out.record(name), reads + ([("the state", state)] if state else []),
                         layout.input_dirs(inputs), output)
        require_documents(all_shards, read, "score")
        # the tasks of an array run (``part``) each save the same states: only their own sidecars are guarded
        with out.claimed(job, run.overwrite, sidecars + (saved if part is None else []), name) as status:
            if status == "done":
                return RunResult.from_manifest(out.load_manifest(name) or {}, ("methods",))
            if status == "resume" and not state and all(fs.exists(p) for p in states):
                selectors = load_states(output, [s.name for s in selectors])  # the fit the killed run saved
            elif not state:
                fitting = tracker(run.progress)
                fitting.phase_of("fit", resolve_inputs(list(target)) if target else [])
                fit_all(selectors, read_target(target, read) if target else None, shards, read, ex)
                fitting.complete()
            if out.kind == "dir":
                save_states(selectors, output)
            todo = [i for i, d in enumerate(dests) if not (status == "resume" and fs.exists(d))]
            sinks = [Sinks(inline=dests[i]) if inline else Sinks(sidecar=dests[i]) for i in todo]
            per_shard, stats = score_shards(selectors, [shards[i] for i in todo], read, ex, run.progress, sinks,
                                            run.span_bytes)
            if out.kind == "stdout":
                copy_to_stdout(dests)
            result = RunResult(outputs=[output] if out.kind == "stdout" else dests)
            done = dict(zip(todo, zip(per_shard, stats)))
            for i, shard in enumerate(shards):
                rows, st = (len(next(iter(done[i][0].values()))), done[i][1]) if i in done else \
                    _reread(shard, read)
                result.shards.append({"name": shard.name, "input": shard.label, "rows_in": rows,
                                      "output": output if out.kind == "stdout" else dests[i], **stat_fields(st)})
            result.extra["methods"] = [s.name for s in selectors]
            out.finish(job, manifest("score", shards, result, files=states), name)
            return result


def _reread(shard: Shard, read: ReadOptions) -> tuple[int, ShardStats]:
    """The counters of a shard a killed run already scored (its sidecar is whole; its stats were lost)."""
    stats = ShardStats()
    for _ in iter_batches(shard, read, stats, all_columns=False):
        pass
    return stats.rows, stats


def _dest(out: Layout, tmp: str, shard: Shard, inline: bool) -> str:
    if out.kind == "stdout":  # each shard goes to a temporary file first; they are concatenated in order
        return os.path.join(tmp, f"{shard.index:06d}.jsonl")
    return out.shard_output(shard) if inline else out.sidecar(shard)


def part_of(shards: list[Shard], part: tuple[int, int] | None) -> list[Shard]:
    """The shards of array task ``I`` of ``N`` (every N-th shard from the I-th), for Slurm arrays or xargs -P."""
    if part is None:
        return shards
    index, count = part
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"{option('shard_index')} must be within [0, {count - 1}] for {option('num_shards')} "
                          f"{count}, got {index}")
    mine = [s for s in shards if s.index % count == index]
    if not mine:
        raise ConfigError(f"array task {index} of {count} has no shard (there are {len(shards)})",
                          hint="use at most as many array tasks as shards")
    return mine
