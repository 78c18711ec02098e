"""Run a function over many items in worker processes, surviving a worker that dies.

``multiprocessing.Pool`` waits forever for the task of a worker that segfaulted or was killed
for memory. ``process_map`` uses ``concurrent.futures`` instead, which notices: the unfinished
items are tried again in a fresh pool, and if that one dies too, each is run in a process of
its own, so the item that kills its process is known and handed to ``on_crash``; all others
finish.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Sequence, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


def process_map(fn: Callable[[T], R], items: Sequence[T], jobs: int,
                on_crash: Callable[[T], R]) -> Iterator[tuple[int, R]]:
    """(index, fn(item)) for every item, in completion order, from ``jobs`` forked processes
    (in this process when ``jobs`` <= 1); (index, on_crash(item)) for an item whose process died."""
    if jobs <= 1 or len(items) < 2:
        yield from ((i, fn(item)) for i, item in enumerate(items))
        return
    left = list(range(len(items)))
    for _ in range(2):
        done: set[int] = set()
        try:
            yield from _pool_round(fn, items, left, jobs, done)
            return
        except BrokenProcessPool:
            left = [i for i in left if i not in done]
            log.warning("a worker process died; %d items left, trying them again", len(left))
    for i in left:  # one process per item: the item that kills its process is known
        try:
            yield from _pool_round(fn, items, [i], 1, set())
        except BrokenProcessPool:
            log.warning("item %d killed its worker process", i)
            yield i, on_crash(items[i])


def _pool_round(fn, items, indices: list[int], workers: int, done: set[int]) -> Iterator[tuple[int, R]]:
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(fn, items[i]): i for i in indices}
        try:
            for f in as_completed(futures):
                i = futures[f]
                result = f.result()  # BrokenProcessPool when a worker died; fn's own error as it was
                done.add(i)
                yield i, result
        except BaseException:  # an error, or the caller stopped: the items not started are dropped
            pool.shutdown(wait=False, cancel_futures=True)
            raise
