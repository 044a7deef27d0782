"""Ordered, memory-bounded map over worker processes (image decoding is CPU-bound and holds the GIL
in parts, so threads do not scale; processes do)."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """All cores this process may use (cgroup/affinity aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None, in_flight: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` in worker processes, yielding results in input order.

    At most ``in_flight`` items (default 2 x workers) are submitted and not yet consumed, so memory
    stays bounded however long ``items`` is. ``workers`` <= 1 runs in this process (no start-up
    cost; what tests and tiny inputs want). ``fn`` must be a module-level function (picklable).
    Workers are forked (cheap, and scripts need no ``if __name__ == "__main__"`` guard) unless
    torch is loaded here: its thread pools make 'fork' unsafe, so then they are spawned, which
    re-imports the calling script (scripts must then guard their entry point).
    """
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        yield from map(fn, items)
        return
    in_flight = in_flight or 2 * workers
    ctx = multiprocessing.get_context("spawn" if "torch" in sys.modules or sys.platform != "linux" else "fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] covering range(n) in pieces of ``size``."""
    return [(s, min(s + size, n)) for s in range(0, n, size)]
