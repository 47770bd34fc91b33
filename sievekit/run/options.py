"""``RunOptions``: how a run goes (workers, executor, split size, overwrite, progress), never what it writes.

Nothing here enters a run's fingerprint: the same job run with one worker or eight, locally or on Ray,
writes the same bytes and is the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sievekit.errors import ConfigError, option
from sievekit.run.progress import ProgressLike

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RunOptions:
    """How a run goes.

    Attributes:
        jobs: worker processes (or Ray tasks at once); shards and spans run in parallel.
        executor: ``local`` (a pool of worker processes) or ``ray``.
        ray_address: the Ray cluster to join (default: ``$RAY_ADDRESS``, else a local Ray).
        split_mb: score a shard larger than this as several tasks (0: one task per shard).
        overwrite: replace the results of a different earlier run in the output directory.
        progress: told how the run goes: a ``sievekit.run.progress.Progress`` (phases with their byte and
            shard totals, then work as it is done), or a plain callable called with the number of
            documents done. Default: nobody.
    """

    jobs: int = 1
    executor: str = "local"
    ray_address: str | None = None
    split_mb: float = 256
    overwrite: bool = False
    progress: ProgressLike = None

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ConfigError(f"{option('jobs')} must be >= 1, got {self.jobs}")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"{option('executor')} must be one of {', '.join(EXECUTORS)}, not {self.executor!r}")
        if not self.split_mb >= 0:
            raise ConfigError(f"{option('split_mb')} must be >= 0, got {self.split_mb}")

    @property
    def span_bytes(self) -> int | None:
        return int(self.split_mb * 1e6) if self.split_mb > 0 else None
