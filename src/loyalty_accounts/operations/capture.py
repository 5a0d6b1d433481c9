"""Capture: settle a hold (template ``capture``).

The captured points go from the hold account to ``program:points:redeemed``;
whatever the hold reserved beyond that goes back to the buckets the hold drew
from, latest expiry first (the part kept is the part that would have expired
soonest), one send per bucket with an explicit amount. The service passes the
postings of the original hold transaction, which say which buckets gave what.
A capture of every held point returns nothing; capturing none is a void (a
revert of the hold), not a capture. A point returned to a bucket whose date
has meanwhile passed is swept by the next expiry run.

A capture is dated at or after its hold (InvalidCommand otherwise), and takes
from the hold account only what it holds at the capture's instant and at
every later one (OperationRefused otherwise).

Worked example, hold h-9 took 50 from 20260930 and 20 from 20270331; capture
of 55::

    customers:c42:holds:h-9  -55 → program:points:redeemed        +55
                             -15 → customers:c42:points:20270331  +15

    reference "capture:h-9"; metadata customer=c42, hold_id=h-9, points=55,
    returned=15
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Sequence

from ..chart import Chart, PointKind
from ..errors import InvalidCommand, OperationRefused, UnknownEntity
from ..numscript import Catalogue, monetary
from ..types import Posting, TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import CustomerId, HoldId
from ..vocabulary.instants import Instant, iso_instant
from .base import Command, keyed_reference, plan_command
from .entry import Operation, Writes
from .fifo import Allocation, give_back
from .hold import find_hold, hold_expiry, is_voided
from .reading import Reading

TEMPLATE = "capture"


class CaptureCommand(Command):
    """Capture ``points`` of hold ``hold_id``; the rest of the hold is released."""

    operation = "capture"
    key_field = "hold_id"
    customer: CustomerId
    hold_id: HoldId
    points: Points
    at: Instant


def held_by_bucket(command: CaptureCommand, chart: Chart, hold_postings: Sequence[Posting]) -> tuple[Allocation, ...]:
    """What the hold transaction took from each of the customer's buckets."""

    hold = chart.hold(command.customer, command.hold_id)
    taken: dict[tuple[date | None, PointKind], int] = {}
    for posting in hold_postings:
        if posting.destination != hold or posting.asset != chart.points_asset or posting.amount == 0:
            continue
        owner, expiry, kind = chart.bucket_of(posting.source)
        if owner != command.customer:
            raise InvalidCommand(f"hold {command.hold_id} drew from {posting.source}, not a bucket of {command.customer}")
        taken[expiry, kind] = taken.get((expiry, kind), 0) + posting.amount
    if not taken:
        raise UnknownEntity(f"no hold {command.hold_id!r} for customer {command.customer}")
    return tuple(Allocation(expiry=e, points=p, kind=k) for (e, k), p in taken.items())


def plan(
    command: CaptureCommand,
    chart: Chart,
    catalogue: Catalogue,
    hold_postings: Sequence[Posting],
    *,
    hold_expires_at: datetime | None = None,
    hold_placed_at: datetime | None = None,
    hold_available: int | None = None,
) -> TransactionPlan:
    """The capture of a hold placed at ``hold_placed_at`` whose account can give ``hold_available`` at ``command.at``.

    InvalidCommand when capturing more than held or dated before the hold;
    OperationRefused after the hold lapsed, or when the hold account does not
    hold every reserved point from the capture's instant on.
    """

    if hold_placed_at is not None and command.at < hold_placed_at:
        raise InvalidCommand(
            f"capture of hold {command.hold_id} is dated {iso_instant(command.at)}, "
            f"before the hold ({iso_instant(hold_placed_at)})"
        )
    if hold_expires_at is not None and command.at >= hold_expires_at:
        raise OperationRefused(
            f"hold {command.hold_id} lapsed at {iso_instant(hold_expires_at)}; it can only be voided"
        )
    legs = held_by_bucket(command, chart, hold_postings)
    held = sum(a.points for a in legs)
    if command.points > held:
        raise InvalidCommand(f"hold {command.hold_id} reserved {held} points; cannot capture {command.points}")
    if hold_available is not None and hold_available < held:
        raise OperationRefused(
            f"hold {command.hold_id} holds {hold_available} of its {held} points from {iso_instant(command.at)} on; "
            "it cannot be captured then"
        )
    returns = give_back(legs, held - command.points)
    customer, asset = command.customer, chart.points_asset
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "captured": monetary(asset, command.points),
            "hold": chart.hold(customer, command.hold_id),
            "redeemed": chart.redeemed(),
            "returned": [monetary(asset, a.points) for a in returns],
            "return_to": [chart.bucket(customer, a.expiry, a.kind) for a in returns],
        },
        metadata={
            "customer": customer,
            "hold_id": command.hold_id,
            "points": str(command.points),
            "returned": str(held - command.points),
        },
        timestamp=command.at,
    )


def capture_reference(hold_id: str) -> str:
    """The reference of the capture of hold ``hold_id`` (what :meth:`CaptureCommand.reference` gives)."""

    return keyed_reference(CaptureCommand.operation, hold_id)


def is_captured(reading: Reading, hold_id: str) -> bool:
    """Whether hold ``hold_id`` has been captured (its capture's reference is taken)."""

    return reading.ledger.find_by_reference(capture_reference(hold_id)) is not None


class Held(Frozen):
    """What a capture reads: the hold transaction's postings, when it was placed and lapses, what its account can give."""

    postings: tuple[Posting, ...]
    expires_at: datetime | None
    placed_at: datetime | None = None
    available: int | None = None


def read(command: CaptureCommand, reading: Reading) -> Held:
    """The customer's hold, and what its account can give at the capture's instant; OperationRefused when voided."""

    hold_tx = find_hold(reading, command.customer, command.hold_id)
    if is_voided(reading, hold_tx):
        raise OperationRefused(f"hold {command.hold_id} was voided; it cannot be captured")
    hold = reading.chart.hold(command.customer, command.hold_id)
    available = reading.at(max(command.at, hold_tx.timestamp)).available(command.customer, hold)
    return Held(postings=hold_tx.postings, expires_at=hold_expiry(hold_tx), placed_at=hold_tx.timestamp, available=available)


OPERATION: Operation[CaptureCommand, Held] = Operation(
    command=CaptureCommand,
    templates=(TEMPLATE,),
    read=read,
    watch=lambda command, chart: (chart.hold(command.customer, command.hold_id),),
    plan=lambda command, chart, catalogue, held: plan(
        command,
        chart,
        catalogue,
        held.postings,
        hold_expires_at=held.expires_at,
        hold_placed_at=held.placed_at,
        hold_available=held.available,
    ),
    writes=Writes(required=frozenset({"customer", "hold_id", "points", "returned"}), business_key="hold_id"),
)
