"""Threads of one process take turns per customer before they read and post (:class:`Turns`)."""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from threading import RLock
from typing import Iterator, Sequence

TURN_STRIPES = 256
"""Locks a process's threads take turns on, each customer hashed to one of them (see :class:`Turns`)."""


class Turns:
    """Threads of one process take turns per customer before they read and post.

    The ledger already makes a customer's operations take effect one at a
    time (the guard's sequence leg), but it does so by refusing the stale
    plan of every racer but one, which then reads and posts again: eight
    threads on one customer cost several round trips each. Taking turns in
    the process first leaves the ledger's check for other processes only.
    Customers are striped over :data:`TURN_STRIPES` locks (taken in stripe
    order, so two customers' operations cannot deadlock), which bounds the
    memory whatever the number of customers. The locks are re-entrant: an
    operation its own thread runs while holding a turn (a ledger hook, a
    nested call) takes it again instead of waiting for itself.
    """

    def __init__(self, stripes: int = TURN_STRIPES) -> None:
        self._locks = tuple(RLock() for _ in range(stripes))

    @contextmanager
    def of(self, customers: Sequence[str]) -> Iterator[None]:
        """Hold the turn of every customer in ``customers`` for the ``with`` block."""

        stripes = sorted({zlib.crc32(c.encode()) % len(self._locks) for c in customers})
        held = [self._locks[i] for i in stripes]
        for lock in held:
            lock.acquire()
        try:
            yield
        finally:
            for lock in reversed(held):
                lock.release()
