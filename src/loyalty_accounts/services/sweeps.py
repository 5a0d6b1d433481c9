"""Sweeps: programme-wide runs as of an instant (release, expire, void of lapsed holds, usage catch-up).

A run as of an instant moves from each due account what it holds at that
instant and at every later one (the operations' sweep reads give each
account's timeline), so a run dated in the past never leaves an account
negative at any instant; each of its transactions carries its own reference,
so running it again posts nothing new.
"""

from __future__ import annotations

from datetime import datetime

from ..operations.capture import is_captured
from ..operations.hold import all_holds, hold_expiry, is_voided
from ..vocabulary import ids
from .executor import Executor, Progress
from .results import BatchResult, batch_of
from .reviews import ReviewService
from .spending import SpendingService


class SweepService:
    """Release, expire and void lapsed holds over the executor's ledger (one customer, or all)."""

    def __init__(self, executor: Executor, spending: SpendingService) -> None:
        self._executor = executor
        self._spending = spending

    def release(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Move pending points whose release date has come into their buckets (what each holds from ``as_of`` on)."""

        return self._executor.sweep("release", as_of, _customer_or_all(customer), progress)

    def expire(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Drain every bucket whose expiry date has come into the expired account.

        One transaction per bucket, referenced by bucket and as-of instant,
        moving what the bucket holds from ``as_of`` on: a second run finds
        nothing left and posts nothing new.
        """

        return self._executor.sweep("expire", as_of, _customer_or_all(customer), progress)

    def catch_up_usage(self, as_of: datetime, *, customer: str | None = None, progress: Progress | None = None) -> BatchResult:
        """Credit each capped campaign's usage account with what earns charged it and it does not hold yet
        (earns posted before usage accounts existed; see :mod:`~loyalty_accounts.operations.usage_catch_up`),
        dated ``as_of``. A second run posts nothing."""

        return self._executor.sweep("usage_catch_up", as_of, _customer_or_all(customer), progress)

    def void_lapsed(self, as_of: datetime, *, progress: Progress | None = None) -> BatchResult:
        """Void every hold whose TTL has passed by ``as_of`` and that is neither captured nor voided now,
        and lapse every redemption held for review past its deadline without a decision.

        Reads the current state (no ``pit``): a hold captured or voided after
        ``as_of`` is settled and must not be voided again.
        """

        reading = self._executor.reading
        lapsed = [
            tx
            for tx in reading.ledger.transactions(metadata=all_holds())
            if (lapses := hold_expiry(tx)) is not None
            and lapses <= as_of
            and not is_voided(reading, tx)
            and not is_captured(reading, tx.metadata["hold_id"])
        ]
        results = []
        for done, tx in enumerate(lapsed, start=1):
            results.append(self._spending.void(tx.metadata["customer"], tx.metadata["hold_id"]))
            if progress:
                progress(done, len(lapsed))
        # Redemptions held for review past their deadline lapse too (decision ``lapsed``, on the ledger).
        results.extend(ReviewService(self._executor).lapse(as_of).results)
        return batch_of("void", as_of, results)


def _customer_or_all(customer: str | None) -> str | None:
    """A run's customer, checked (an empty id is refused, not read as "every customer"); None: all."""

    return None if customer is None else ids.customer_id(customer)
