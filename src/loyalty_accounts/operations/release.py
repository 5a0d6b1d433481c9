"""Release: pending points whose chargeback window has passed become spendable (template ``release``).

Earned points wait in ``customers:{c}:pending:{release}:{expiry}``; from the
release date on, what the account holds moves to the bucket of the same
expiry and kind of point, so release never changes when points expire. A run as of *S* moves
an explicit amount: the lowest balance the account has at any instant from
*S* on (:mod:`.timeline`), so a run dated in the past never takes points the
account received later, nor points a later refund takes back; when that is
0 there is nothing to plan. One plan per due pending account; the reference
carries the as-of instant, because a late order can put points into an
already-released pending account and a later run must be able to release
those too.

Worked example, release run as of 2026-03-15T02:00Z, customer c42 with
pending 20260315:20270301 holding 95 and 20260320:20270306 holding 40::

    customers:c42:pending:20260315:20270301  -95 → customers:c42:points:20270301  +95 (PTS 95 explicitly)
    (20260320 is not due yet: no plan)

    reference "release:20260315T020000Z:c42:20260315:20270301"
"""

from __future__ import annotations

from datetime import date
from typing import Mapping, Sequence

from ..chart import BASE, Chart, PointKind, date_segment, expiry_segment, parse_date_segment, parse_expiry_segment
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.frozen import Value
from ..vocabulary.instants import iso_day
from .base import SweepCommand, kind_metadata, plan_sweep
from .entry import Sweep, Writes
from .fifo import fifo_key
from .reading import Reading
from .timeline import Timeline

TEMPLATE = "release"


class ReleaseCommand(SweepCommand):
    """Release every pending account of a customer that is due on ``as_of``."""

    operation = "release"


class PendingBalance(Value):
    """A pending account as read from the ledger: its dates and its points timeline."""

    release: date
    expiry: date | None
    timeline: Timeline
    kind: PointKind = BASE


def plan(
    command: ReleaseCommand, chart: Chart, catalogue: Catalogue, pending: Sequence[PendingBalance]
) -> tuple[TransactionPlan, ...]:
    """One plan per pending account whose release date has come and that holds points from ``as_of`` on, oldest first."""

    today = chart.local_date(command.as_of)
    due = sorted((p for p in pending if p.release <= today), key=lambda p: (p.release, fifo_key(p.expiry, p.kind)))
    customer = command.customer
    return tuple(
        plan_sweep(
            command,
            chart,
            catalogue,
            template=TEMPLATE,
            values={
                "points": monetary(chart.points_asset, points),
                "pending": chart.pending(customer, p.release, p.expiry, p.kind),
                "bucket": chart.bucket(customer, p.expiry, p.kind),
            },
            segments={"release": date_segment(p.release), "expiry": expiry_segment(p.expiry, p.kind)},
            metadata={"release_at": p.release.isoformat(), "expires_at": iso_day(p.expiry), **kind_metadata(p.kind)},
        )
        for p in due
        if (points := p.timeline.lowest_from(command.as_of)) > 0
    )


def read(reading: Reading, customer: str | None) -> dict[str, list[PendingBalance]]:
    """The pending accounts holding points, per customer (one customer, or all for None), with their timelines.

    Each timeline starts no later than the account's release day, so the plan
    can tell what it holds as of any run instant at which it is due.
    """

    found = reading.due_timelines(reading.chart.pending_filter(customer), "customer_pending", _release_on)
    return {
        owner: [
            PendingBalance(release=_release_on(values), expiry=expiry, kind=kind, timeline=line)
            for values, line in accounts
            for expiry, kind in (parse_expiry_segment(values["expiry"]),)
        ]
        for owner, accounts in found.items()
    }


def _release_on(values: Mapping[str, str]) -> date:
    release_on = parse_date_segment(values["release"])
    assert release_on is not None  # the chart's pattern admits dates only
    return release_on


OPERATION: Sweep[ReleaseCommand, list[PendingBalance]] = Sweep(
    command=ReleaseCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "release_at", "expires_at", "as_of"}), optional=frozenset({"point_kind"})),
)
