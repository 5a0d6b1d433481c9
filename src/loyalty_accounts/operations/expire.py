"""Expire: a bucket's expiry date has come; what is left in it is breakage (template ``expire``).

One plan per due bucket: the whole balance (``[PTS *]``, whatever the ledger
holds when it runs) moves to ``program:points:expired``. The reference
carries the as-of instant: a bucket can be refilled after it expired (a
capture returning points to it), and a later run must expire that too.

Worked example, expiry run as of 2026-09-30T03:00Z, customer c42 with buckets
20260930: 12, 20270331: 40::

    customers:c42:points:20260930  -12 → program:points:expired  +12

    reference "expire:20260930T030000Z:c42:20260930"; metadata customer=c42,
    expires_at=2026-09-30, as_of=2026-09-30T03:00:00Z
"""

from __future__ import annotations

from typing import Sequence

from ..chart import Chart, date_segment
from ..numscript import Catalogue
from ..types import TransactionPlan
from ..vocabulary.instants import iso_day
from .base import SweepCommand, plan_sweep
from .entry import Sweep, Writes
from .fifo import BucketBalance, due
from .reading import Reading, bucket_balance

TEMPLATE = "expire"


class ExpireCommand(SweepCommand):
    """Expire every bucket of a customer that is due on ``as_of``."""

    operation = "expire"


def plan(
    command: ExpireCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]
) -> tuple[TransactionPlan, ...]:
    """One plan per non-empty bucket whose expiry date is on or before the as-of date."""

    return tuple(
        plan_sweep(
            command,
            chart,
            catalogue,
            template=TEMPLATE,
            values={
                "asset": chart.points_asset,
                "bucket": chart.bucket(command.customer, bucket.expiry),
                "expired": chart.expired(),
            },
            segments={"expiry": date_segment(bucket.expiry)},
            metadata={"expires_at": iso_day(bucket.expiry)},
        )
        for bucket in due(buckets, chart.local_date(command.as_of))
    )


def read(reading: Reading, customer: str | None) -> dict[str, list[BucketBalance]]:
    """The buckets holding points, per customer (one customer, or all for None), on the current balances."""

    return reading.holding_by_customer(reading.chart.buckets_filter(customer), "customer_points", bucket_balance)


OPERATION: Sweep[ExpireCommand, list[BucketBalance]] = Sweep(
    command=ExpireCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "expires_at", "as_of"})),
)
