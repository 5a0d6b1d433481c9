"""Expire: a bucket's expiry date has come; what is left in it is breakage (template ``expire``).

One plan per due bucket: what the bucket holds as of the run's instant *S*
and at every instant after it (the lowest balance from *S* on, see
:mod:`.timeline`) moves to ``program:points:expired``, as an explicit amount.
A run dated in the past therefore expires what the bucket held then, never
points it received later (a void or a capture returning points after *S*:
a later run expires those), and never leaves it negative at any instant;
when that amount is 0 (nothing left, or an overlapping run took it) there is
nothing to plan. The reference carries the as-of instant: a bucket can be
refilled after it expired, and a later run must expire that too.

Worked example, expiry run as of 2026-09-30T03:00Z, customer c42 with buckets
20260930: 12, 20260930-bonus: 5, 20270331: 40 (a bucket of each kind of point
is its own account; the same date expires them all)::

    customers:c42:points:20260930-bonus  -5 → program:points:expired  +5
    customers:c42:points:20260930       -12 → program:points:expired  +12

    reference "expire:20260930T030000Z:c42:20260930"; metadata customer=c42,
    expires_at=2026-09-30, as_of=2026-09-30T03:00:00Z
"""

from __future__ import annotations

from datetime import date
from typing import Mapping, Sequence

from ..chart import BASE, Chart, PointKind, expiry_of, expiry_segment, parse_expiry_segment
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.frozen import Value
from ..vocabulary.instants import iso_day
from .base import SweepCommand, kind_metadata, plan_sweep
from .entry import Sweep, Writes
from .fifo import fifo_key, is_spendable
from .reading import Reading
from .timeline import Timeline

TEMPLATE = "expire"


class ExpireCommand(SweepCommand):
    """Expire every bucket of a customer that is due on ``as_of``."""

    operation = "expire"


class DatedBucket(Value):
    """A bucket that falls due some day, as read from the ledger: its expiry date, kind of point and points timeline."""

    expiry: date
    timeline: Timeline
    kind: PointKind = BASE


def plan(
    command: ExpireCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[DatedBucket]
) -> tuple[TransactionPlan, ...]:
    """One plan per bucket whose expiry date is on or before the as-of date and that holds points from then on."""

    today = chart.local_date(command.as_of)
    due = (b for b in sorted(buckets, key=lambda b: fifo_key(b.expiry, b.kind)) if not is_spendable(b.expiry, today))
    return tuple(
        plan_sweep(
            command,
            chart,
            catalogue,
            template=TEMPLATE,
            values={
                "points": monetary(chart.points_asset, points),
                "bucket": chart.bucket(command.customer, bucket.expiry, bucket.kind),
                "expired": chart.expired(),
            },
            segments={"expiry": expiry_segment(bucket.expiry, bucket.kind)},
            metadata={"expires_at": iso_day(bucket.expiry), **kind_metadata(bucket.kind)},
        )
        for bucket in due
        if (points := bucket.timeline.lowest_from(command.as_of)) > 0
    )


def read(reading: Reading, customer: str | None) -> dict[str, list[DatedBucket]]:
    """The dated buckets holding points, per customer (one customer, or all for None), with their timelines.

    Each timeline starts no later than the bucket's expiry day, so the plan
    can tell what it holds as of any run instant at which it is due.
    """

    found = reading.due_timelines(reading.chart.buckets_filter(customer), "customer_points", _expiry)
    return {
        owner: [DatedBucket(expiry=_due(values), timeline=line, kind=parse_expiry_segment(values["expiry"])[1]) for values, line in accounts]
        for owner, accounts in found.items()
    }


def _expiry(values: Mapping[str, str]) -> date | None:
    """The day a bucket falls due (None: ``noexpiry``, never)."""

    return expiry_of(values["expiry"])


def _due(values: Mapping[str, str]) -> date:
    expiry = _expiry(values)
    assert expiry is not None  # due_timelines lists only the buckets that fall due
    return expiry


OPERATION: Sweep[ExpireCommand, list[DatedBucket]] = Sweep(
    command=ExpireCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "expires_at", "as_of"}), optional=frozenset({"point_kind"})),
)
