"""Running per-shard tasks: in this process, or in a pool of worker processes, failing fast.

A task is a picklable function and its arguments; results come back in task order, so what a run
writes does not depend on how many workers ran it. The first task that raises cancels the tasks not yet
started and its error (a ``SievekitError`` keeps its type and message across processes) ends the run.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


def run_tasks(fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]], jobs: int = 1) -> Iterator[R]:
    """Yield ``fn(*task)`` for every task, in order; ``jobs > 1`` runs them in worker processes.

    Example:
        >>> list(run_tasks(pow, [(2, 3), (3, 2)]))
        [8, 9]
    """
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(*task)
        return
    # spawn, not fork: the parent may hold Arrow's thread pools, which do not survive a fork.
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"))
    futures: list[Future[R]] = [pool.submit(fn, *task) for task in tasks]
    try:
        for future in futures:
            yield future.result()
    finally:
        # On an error (or the consumer stopping early) drop the tasks not yet started; running ones finish,
        # and whatever they write is atomic, so nothing partial is left under a final name.
        pool.shutdown(wait=True, cancel_futures=True)
