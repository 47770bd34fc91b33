"""One dedupe run: all stages in order, or one stage (``--stage sign --shard 3``) for a scheduler to spread.

``-j N`` runs the per-shard and per-band tasks in N spawned worker processes; every task's result depends
only on its inputs and the parameters, so the survivors are byte-identical for any N.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sievekit.duplicates.exact import exact_pass
from sievekit.duplicates.options import STAGES, DedupeConfig
from sievekit.duplicates.sources import Source, against_chain, plan_sources, record_run
from sievekit.duplicates.stages import (
    bucket_band,
    cluster_stage,
    filter_marker,
    filter_params,
    sign_shard,
    verify_band,
)
from sievekit.duplicates.workdir import EPHEMERAL, WorkDir, digest, read_json
from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions, Shard, ShardStats, fs, tempdirs
from sievekit.io.streams import STDIO, copy_file
from sievekit.run.executor import Executor
from sievekit.run.layout import Layout
from sievekit.run.options import RunOptions
from sievekit.run.progress import Tracker, tracker
from sievekit.run.writeback import write_kept

Log = Callable[[str], None]


def run(shards: Sequence[Shard], out: Layout, cfg: DedupeConfig, opts: ReadOptions, *, work_dir: str | None = None,
        stage: str = "all", shard: int | None = None, band: int | None = None, run_opts: RunOptions = RunOptions(),
        against: str | None = None, clusters: str | None = None, output_compression: str | None = None,
        log: Log | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the stages; returns the filter stage's per-shard entries and the run's ``dedupe`` summary.

    Raises:
        ConfigError: a bad stage selection, or artefacts made with other parameters.
    """
    say = log or (lambda _msg: None)
    progress = tracker(run_opts.progress)
    _check_stage(stage, shard, band, work_dir, shards, cfg)
    tmp = None if work_dir else tempdirs.make("sievekit-dedupe-")
    if tmp:
        open(os.path.join(tmp, EPHEMERAL), "w").close()
    root = str(work_dir or tmp)
    workers = Executor(run_opts.jobs, run_opts.executor, run_opts.ray_address)
    try:
        work = WorkDir(root)
        sign = cfg.sign_params(opts)
        chain = against_chain(against, sign)
        record_run(work, shards, sign, opts, against)
        todo = [s for s in shards if shard is None or s.index == shard]
        if stage in ("all", "sign"):
            say(f"sign: {len(todo)} shard(s), {cfg.num_perm} slots, {cfg.ngram}-word shingles ({cfg.engine})")
            _sign(workers, root, todo, cfg, opts, progress)
            if stage == "sign":
                return [], {"stage": "sign", "work_dir": root}
        sources = plan_sources(root, shards, chain)
        _check_score_field(work, cfg, shards)
        eparams = {**sign, "sources": digest([(s.work, s.shard.name, s.rows) for s in sources])}
        params = {**eparams, **cfg.bucket_params()}
        if stage in ("all", "bucket"):
            progress.phase("bucket", 0, (1 if band is not None else cfg.banding.bands) * cfg.key_parts,
                           "bands" if cfg.key_parts == 1 else "band parts")
            exact_pass(root, sources, eparams, cfg.memory_mb)
            b = cfg.banding
            say(f"bucket: {b.bands} bands x {b.rows} rows "
                f"(P(catch) at J={cfg.threshold}: {b.catch(cfg.threshold):.3f})")
            bands = [band] if band is not None else list(range(b.bands))
            for _ in workers.imap(bucket_band, [(root, sources, cfg, i, p, params) for i in bands
                                                for p in range(cfg.key_parts)]):
                progress.shard_done()
            if stage == "bucket":
                return [], {"stage": "bucket", "work_dir": root}
        cparams = {**params, **cfg.cluster_params()}
        say(f"cluster: verify {cfg.verify}, keep {cfg.keep}, within {cfg.memory_mb:g} MB")
        parts = [(b, p) for b in range(cfg.banding.bands) for p in range(cfg.key_parts)]
        progress.phase("cluster", 0, len(parts) + 1, "steps")
        for _ in workers.imap(verify_band, [(root, sources, cfg, b, p, cparams) for b, p in parts]):
            progress.shard_done()
        summary = {"config": cfg.as_dict(), "work_dir": root if work_dir else None, "against": chain,
                   **cluster_stage(root, sources, cfg, cparams)}
        progress.shard_done()
        if stage == "cluster":
            return [], summary
        entries = _filter(root, sources, shards if shard is None else todo, out, cfg, opts, cparams,
                          output_compression, workers, progress)
        _place_clusters(work, out, clusters, summary)
        if summary["clusters_file"] is None:
            say("clusters: not kept (the output is stdout and there is no --work-dir); pass --clusters FILE")
        return entries, summary
    finally:
        workers.close(failed=sys.exc_info()[0] is not None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _check_stage(stage: str, shard: int | None, band: int | None, work_dir: str | None, shards: Sequence[Shard],
                 cfg: DedupeConfig) -> None:
    if stage not in STAGES:
        raise ConfigError(f"{option('stage')} must be one of {', '.join(STAGES)}, not {stage!r}")
    if stage != "all" and not work_dir:
        raise ConfigError(f"{option('stage')} {stage} needs {option('work_dir')} (the stages share their "
                          "artefacts there)",
                          hint=f"pass {option('work_dir')} DIR to every stage of the run")
    if stage != "all" and shards and shards[0].path == STDIO:
        raise ConfigError("stages cannot be run one at a time on stdin", hint="write the input to a file first")
    if shard is not None and stage not in ("sign", "filter"):
        raise ConfigError(f"{option('shard')} goes with {option('stage')} sign or {option('stage')} filter")
    if shard is not None and not 0 <= shard < len(shards):
        raise ConfigError(f"{option('shard')} {shard} is out of range: the inputs have shards 0..{len(shards) - 1}")
    if band is not None and stage != "bucket":
        raise ConfigError(f"{option('band')} goes with {option('stage')} bucket")
    if band is not None and not 0 <= band < cfg.banding.bands:
        raise ConfigError(f"{option('band')} {band} is out of range: this run has bands 0..{cfg.banding.bands - 1}")


def _check_score_field(work: WorkDir, cfg: DedupeConfig, shards: Sequence[Shard]) -> None:
    """``--keep score:FIELD`` naming a field no record has is a misspelling, not a pool without scores."""
    if not cfg.score_field:
        return
    seen: Counter[str] = Counter()
    for shard in shards:
        seen.update(read_json(work.sign_base(shard.index).with_suffix(".json")).get("fields", {}))
    if seen and cfg.score_field not in seen:
        raise ConfigError(f"no record has a field {cfg.score_field!r} for {option('keep')} score:FIELD",
                          hint=f"fields found: {', '.join(sorted(seen)[:20])}")


def _sign(workers: Executor, root: str, shards: Sequence[Shard], cfg: DedupeConfig, opts: ReadOptions,
          progress: Tracker) -> None:
    """Sign every shard; in this process each shard reports as it is read, from workers as each one ends."""
    sizes = progress.phase_of("sign", shards)
    if workers.kind == "local" and (workers.jobs <= 1 or len(shards) <= 1):
        for s, size in zip(shards, sizes):
            meter = progress.meter(s, opts, size)
            meter.close(sign_shard(root, s, cfg, opts, meter)["rows"])
            progress.shard_done()
        return
    for s, size, info in zip(shards, sizes, workers.imap(sign_shard, [(root, s, cfg, opts) for s in shards])):
        progress.meter(s, opts, size).close(info["rows"])
        progress.shard_done()


def _filter(root: str, sources: Sequence[Source], shards: Sequence[Shard], out: Layout, cfg: DedupeConfig,
            opts: ReadOptions, params: Mapping[str, Any], output_compression: str | None,
            workers: Executor, progress: Tracker) -> list[dict[str, Any]]:
    fresh = {s.shard.index: s for s in sources if not s.seen}
    start = min((s.offset for s in fresh.values()), default=0)
    fparams = filter_params(dict(params), out.output, cfg.annotate)
    calls = [(root, [s], [fresh[s.index].offset - start], [fresh[s.index].rows], out, cfg.annotate, opts,
              output_compression, fparams) for s in shards]
    sizes = progress.phase_of("filter", shards)
    if out.single:  # stdout or one file: one writer, shards in order
        entries = filter_shards(root, list(shards), [c[2][0] for c in calls], [c[3][0] for c in calls], out,
                                cfg.annotate, opts, output_compression, None)
        progress.complete()  # the one writer reports only when it ends
        return entries
    parts = []
    for part, size in zip(workers.imap(filter_shards, calls), sizes):
        parts.append(part)
        progress.advance(sum(e["rows_in"] for e in part), size)
        progress.shard_done()
    return [e for part in parts for e in part]


def filter_shards(root: str, shards: list[Shard], starts: list[int], rows: list[int], out: Layout, annotate: bool,
                  opts: ReadOptions, output_compression: str | None,
                  params: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Write the kept records of the given shards (or all, annotated), each output atomically."""
    work = WorkDir(root)
    if params is not None:
        info = work.done(filter_marker(work, out.output, shards[0]), params)
        if info is not None and fs.exists(info["entry"]["output"]):  # an output deleted since is rewritten
            return [info["entry"]]
    keep = np.asarray(work.load(work.path("cluster", "keep.npy")))
    cluster = np.asarray(work.load(work.path("cluster", "cluster.npy")))
    sel = np.concatenate([np.arange(a, a + r) for a, r in zip(starts, rows, strict=True)])
    extra = {"dedupe_cluster": cluster[sel], "dedupe_kept": keep[sel]} if annotate else None
    mask = np.ones(len(sel), dtype=bool) if annotate else keep[sel]
    stats = [_shard_stats(work, s) for s in shards]
    result = write_kept(shards, rows, mask, extra, out, opts, output_compression, stats)
    if params is not None:
        work.mark(filter_marker(work, out.output, shards[0]), params, entry=result.shards[0])
    return result.shards


def _shard_stats(work: WorkDir, shard: Shard) -> ShardStats:
    st = read_json(work.sign_base(shard.index).with_suffix(".json"))["stats"]
    return ShardStats(st["rows"], st["bytes"], st["text_bytes"], Counter(st["skipped"]))


def _place_clusters(work: WorkDir, out: Layout, clusters: str | None, summary: dict[str, Any]) -> None:
    """Copy the clusters file where the layout puts it: where asked, beside the shards of a directory, or
    beside a single output file (``FILE.jsonl`` -> ``FILE.clusters.jsonl``); stdout output keeps it only in
    the ``--work-dir``."""
    dest = out.clusters(clusters)
    if dest is None:
        summary["clusters_file"] = str(work.path("cluster", "clusters.jsonl")) if summary.get("work_dir") else None
        return
    copy_file(str(work.path("cluster", "clusters.jsonl")), dest)
    summary["clusters_file"] = dest
