"""Release: pending points whose chargeback window has passed become spendable (template ``release``).

Earned points wait in ``customers:{c}:pending:{release}:{expiry}``; from the
release date on, the whole account moves (``[PTS *]``) to the bucket of the
same expiry, so release never changes when points expire. One plan per due
pending account; the reference carries the as-of instant, because a late
order can put points into an already-released pending account and a later
run must be able to release those too.

Worked example, release run as of 2026-03-15T02:00Z, customer c42 with
pending 20260315:20270301 holding 95 and 20260320:20270306 holding 40::

    customers:c42:pending:20260315:20270301  -95 → customers:c42:points:20270301  +95
    (20260320 is not due yet: no plan)

    reference "release:20260315T020000Z:c42:20260315:20270301"
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Mapping, Sequence

from pydantic import Field

from ..chart import Chart, date_segment, parse_date_segment
from ..numscript import Catalogue
from ..types import TransactionPlan
from ..vocabulary.frozen import Value
from ..vocabulary.instants import iso_day
from .base import SweepCommand, plan_sweep
from .entry import Sweep, Writes
from .fifo import fifo_key
from .reading import Reading

TEMPLATE = "release"


class ReleaseCommand(SweepCommand):
    """Release every pending account of a customer that is due on ``as_of``."""

    operation = "release"


class PendingBalance(Value):
    """A pending account as read from the ledger."""

    release: date
    expiry: date | None
    points: Annotated[int, Field(ge=0, strict=True)]


def plan(
    command: ReleaseCommand, chart: Chart, catalogue: Catalogue, pending: Sequence[PendingBalance]
) -> tuple[TransactionPlan, ...]:
    """One plan per non-empty pending account whose release date has come, oldest first."""

    today = chart.local_date(command.as_of)
    due = sorted(
        (p for p in pending if p.points > 0 and p.release <= today),
        key=lambda p: (p.release, fifo_key(p.expiry)),
    )
    customer = command.customer
    return tuple(
        plan_sweep(
            command,
            chart,
            catalogue,
            template=TEMPLATE,
            values={
                "asset": chart.points_asset,
                "pending": chart.pending(customer, p.release, p.expiry),
                "bucket": chart.bucket(customer, p.expiry),
            },
            segments={"release": date_segment(p.release), "expiry": date_segment(p.expiry)},
            metadata={"release_at": p.release.isoformat(), "expires_at": iso_day(p.expiry)},
        )
        for p in due
    )


def read(reading: Reading, customer: str | None) -> dict[str, list[PendingBalance]]:
    """The pending accounts holding points, per customer (one customer, or all for None).

    Read on the current balances (no ``pit``), the ones the ledger checks the
    postings against, even for a past as-of instant.
    """

    return reading.holding_by_customer(reading.chart.pending_filter(customer), "customer_pending", _pending)


def _pending(values: Mapping[str, str], points: int) -> PendingBalance:
    release_on = parse_date_segment(values["release"])
    assert release_on is not None  # the chart's pattern admits dates only
    return PendingBalance(release=release_on, expiry=parse_date_segment(values["expiry"]), points=points)


OPERATION: Sweep[ReleaseCommand, list[PendingBalance]] = Sweep(
    command=ReleaseCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "release_at", "expires_at", "as_of"})),
)
