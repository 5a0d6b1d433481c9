"""Posting an import's chunks two at a time.

A chunk's bulk post is one database transaction after another on the
server, so one chunk at a time leaves the server's other core idle; two
chunks posted side by side roughly double what the server takes in (raw
replays of the same bulk requests on v2.4.12: 39 orders a second one at a
time, 74 two at a time, on this project's two-core machine).

Two chunks may be in flight together only when they share no customer:
:func:`~loyalty_accounts.services.import_chunks.chunks_for_lanes` cuts the
file so that each chunk shares none with the one before it (or says it
does), and :func:`run_in_lanes` starts a chunk only once the one two places
before it has finished, so a customer's next order is always read and priced
after their previous one is on the ledger, as in a single-lane import.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ..operations import EarnCommand

__all__ = ["LANES", "run_in_lanes"]

LANES = 2
"""Chunks posted side by side at most (the chunking guarantees two; more would need more)."""

T = TypeVar("T")


def run_in_lanes(
    chunks: Iterable[tuple[list[EarnCommand], bool]],
    job: Callable[[list[EarnCommand]], T],
    finished: Callable[[T], None],
) -> None:
    """Run ``job`` on each chunk, at most :data:`LANES` side by side; ``finished`` gets each job's
    result on the caller's thread, in chunk order.

    A chunk marked as not independent (it shares customers with the chunk
    before) starts only once every earlier chunk has finished. The first
    error (of a job or of ``finished``) is raised after the jobs already
    started have finished; later chunks are not started.
    """

    with ThreadPoolExecutor(max_workers=LANES, thread_name_prefix="import-lane") as pool:
        running: deque[Future[T]] = deque()
        try:
            for chunk, independent in chunks:
                while running and (not independent or len(running) >= LANES):
                    finished(running.popleft().result())
                running.append(pool.submit(job, chunk))
            while running:
                finished(running.popleft().result())
        finally:
            for future in running:
                future.cancel()
