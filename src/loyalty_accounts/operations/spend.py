"""The spend step the spending operations share: points taken FIFO from a customer's spendable buckets.

Hold, redeem, convert, exchange out and an adjustment's debit send points
from the customer's buckets, soonest-expiring first, as one ordered source
(``$points`` from ``$buckets``); a transfer sends each bucket's share on its
own. All of them plan from the buckets the operation's read gave
(:func:`~.reading.customer_buckets`: what each bucket can give at the
command's instant, the lowest balance it has from then on), offering only
those spendable on the programme day of the command's instant
(:func:`~.fifo.spendable`), and are refused with
:class:`~loyalty_accounts.errors.InsufficientPoints` when those hold too
little (:func:`~.fifo.allocate`). Each listed bucket gives at most what the
plan takes from it (``max $taken from $buckets``): a bucket holding more
today than it can give at a back-dated instant is never over-drawn then.

Worked example, on 2026-06-01 with buckets 20260930: 50 and noexpiry: 40,
spending 70 of c42's points::

    take → 20260930: 50, noexpiry: 20
    spend_vars → points "PTS 70", taken ["PTS 50", "PTS 20"],
                 buckets ["customers:c42:points:20260930", "customers:c42:points:noexpiry"]
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from ..chart import Chart
from ..numscript import VarValue, monetary
from .fifo import Allocation, BucketBalance, allocate, spendable


def take(
    chart: Chart, buckets: Sequence[BucketBalance], *, customer: str, points: int, at: datetime
) -> tuple[Allocation, ...]:
    """What ``points`` take from each of the customer's buckets spendable on ``at``'s programme day, FIFO.

    Raises InsufficientPoints when those buckets together hold less.
    """

    return allocate(spendable(buckets, chart.local_date(at)), points, customer=customer)


def spend_vars(
    chart: Chart, buckets: Sequence[BucketBalance], *, customer: str, points: int, at: datetime
) -> dict[str, VarValue]:
    """The template vars of a spend of ``points`` from the customer's buckets: ``$points``, ``$taken``, ``$buckets``.

    ``$buckets`` lists, soonest-expiring first, the buckets :func:`take` needs
    and ``$taken`` what it takes from each (the ledger's ordered source takes
    at most that, and refuses the post if a bucket no longer holds it).
    Raises InsufficientPoints when the spendable buckets hold too little.
    """

    taken = take(chart, buckets, customer=customer, points=points, at=at)
    return {
        "points": monetary(chart.points_asset, points),
        "taken": [monetary(chart.points_asset, a.points) for a in taken],
        "buckets": [chart.bucket(customer, a.expiry, a.kind) for a in taken],
    }
