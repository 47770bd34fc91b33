"""``dedupe``: remove exact and near duplicates across all shards; the stages are in ``sievekit.duplicates``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

from sievekit.allocator import tune_allocator
from sievekit.commands.jobs import manifest, path_job, read_job
from sievekit.duplicates.options import DedupeConfig
from sievekit.duplicates.runner import run as run_stages
from sievekit.errors import ConfigError, option
from sievekit.io import ReadOptions, fs
from sievekit.io.locks import locked
from sievekit.io.shards import require_documents
from sievekit.io.spool import readable_twice
from sievekit.run import RunOptions, contract, layout
from sievekit.run.layout import Layout
from sievekit.run.writeback import RunResult

RESULT_KEYS = ("dedupe",)


def _task(stage: str, shard: int | None, band: int | None) -> str | None:
    """The name of one task of a staged run (None for a whole run): tasks share directories, runs do not."""
    if stage == "all" and shard is None and band is None:
        return None
    return f"{stage}-" + ("all" if shard is None and band is None else f"shard{shard}" if shard is not None
                          else f"band{band}")


def dedupe(inputs: Sequence[str], output: str, *, config: DedupeConfig = DedupeConfig(),
           read: ReadOptions = ReadOptions(), run: RunOptions = RunOptions(), work_dir: str | None = None,
           stage: str = "all", shard: int | None = None, band: int | None = None, against: str | None = None,
           clusters: str | None = None, output_compression: str | None = None,
           log: Callable[[str], None] | None = None) -> RunResult:
    """Remove exact and near duplicates across all shards, keeping one survivor per cluster.

    ``config`` says what a duplicate is and which copy survives. With a ``work_dir`` the stages keep their
    artefacts there and a re-run resumes; ``stage`` runs one of them (``shard``/``band``: one task of it).
    Into a directory or a single file ``output`` the run contract holds as for ``select``: the same job again
    does nothing, a changed one (or an output file no run wrote) is refused unless ``run.overwrite``. An
    empty pool is an ``InputError``. Returns the written shards; ``extra["dedupe"]`` holds the
    counts, the cluster-size histogram and the clusters file's path.
    """
    tune_allocator()
    out = Layout.of_output(output, output_compression)
    writes_output = stage in ("all", "filter")
    with readable_twice(inputs, read) as shards:
        job = {"command": "dedupe", "inputs": contract.describe_inputs(shards), "config": config.as_dict(),
               "read": read_job(read), "against": path_job(against), "output_compression": output_compression,
               "clusters": fs.realpath(clusters) if clusters else None}
        writes = [("the work directory", work_dir)] if work_dir else []
        guard = out.outputs(shards) + [("the clusters file", out.clusters(clusters) or "")] if writes_output else []
        if writes_output:
            writes += guard + out.record() + ([("the output directory", output)] if out.kind == "dir" else [])
        reads = layout.reads_of(shards) + [("the input directory " + d, d) for d in layout.input_dirs(inputs)]
        layout.check(writes, reads + ([("the earlier run", against)] if against else []),
                     layout.input_dirs(inputs), out.place if writes_output else None)
        if clusters and writes_output:  # a clusters file among the inputs would be read as a shard next time
            layout.check([], [], layout.input_dirs(inputs), clusters, named="the clusters file", flag="clusters")
        if work_dir and writes_output and out.kind == "dir":
            _check_work_dir_outside(work_dir, output)
        if shard is not None and writes_output and out.kind == "file":
            raise ConfigError(f"{option('stage')} filter {option('shard')} {shard} writes one shard's survivors, but "
                              f"{output} is one file for all shards",
                              hint=f"give {option('output')} a directory, or run {option('stage')} filter without "
                              f"{option('shard')}")
        if stage in ("all", "sign"):
            require_documents(shards, read, "deduplicate")
        task = _task(stage, shard, band)
        with out.claimed(job, run.overwrite, guard, task=task) if writes_output else nullcontext("new") as status, \
                locked(work_dir, shared=task is not None) if work_dir else nullcontext(), \
                locked(work_dir, f".sievekit-{task}.lock") if work_dir and task else nullcontext():
            if status == "done":
                return RunResult.from_manifest(out.load_manifest() or {}, RESULT_KEYS)
            entries, summary = run_stages(shards, out, config, read, work_dir=work_dir, stage=stage, shard=shard,
                                          band=band, run_opts=run, against=against, clusters=clusters,
                                          output_compression=output_compression, log=log)
            result = RunResult(shards=entries, outputs=list(dict.fromkeys(e["output"] for e in entries)),
                               extra={"dedupe": summary})
            if writes_output and len(entries) == len(shards):
                files = [summary["clusters_file"]] if summary.get("clusters_file") and clusters is None else []
                out.finish(job, manifest("dedupe", shards, result, files=files))
            return result


def _check_work_dir_outside(work_dir: str, output: str) -> None:
    """Refuse a work directory inside the output directory: the next step of a pipeline reads the output
    directory as its input and would read the work files (band parts, ids) as shards."""
    wd, od = fs.realpath(work_dir), fs.realpath(output)
    if wd.startswith(od.rstrip("/") + "/"):
        raise ConfigError(f"the work directory {work_dir} is inside the output directory {output}",
                          hint=f"choose a {option('work_dir')} outside {output}; a later run reading {output} "
                          "would read the work files as shards")
