"""Hold: reserve points for an authorisation (template ``hold``).

The points leave the customer's spendable buckets, soonest-expiring first,
for an account of the hold's own, ``customers:{c}:holds:{hold_id}``. Nothing
is spent yet: a capture moves them on to redeemed (returning any part not
captured), and a *void* is a revert of this very transaction, so every point
goes back to the bucket it came from with its expiry intact. The hold lapses
``hold_ttl_minutes`` after it was placed (metadata ``expires_at``); the
service voids lapsed holds.

Worked example, on 2026-06-01 at 10:00Z, TTL 30 minutes, buckets 20260930: 50
and 20270331: 40, hold h-9 of 70 points::

    customers:c42:points:20260930  -50 → customers:c42:holds:h-9  +70
    customers:c42:points:20270331  -20 ↗

    reference "hold:h-9"; metadata customer=c42, hold_id=h-9, points=70,
    expires_at=2026-06-01T10:30:00Z
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from pydantic import field_validator

from ..chart import Chart
from ..errors import InvalidCommand, UnknownEntity
from ..numscript import Catalogue
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.ids import CustomerId, HoldId
from ..vocabulary.instants import Instant, iso_instant, parse_instant
from .base import Command, keyed_reference, metadata_filter, plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
from .reading import Reading, buckets_watched, customer_buckets
from .spend import spend_vars

TEMPLATE = "hold"


class HoldCommand(Command):
    """Reserve ``points`` of a customer under ``hold_id`` at ``at``."""

    operation = "hold"
    key_field = "hold_id"
    customer: CustomerId
    hold_id: HoldId
    points: Points
    at: Instant

    @field_validator("hold_id")
    @classmethod
    def _not_a_review_hold(cls, value: str) -> str:
        # rv-{id} and rvh-{digest} name the holds of redemptions held for review (operations.redeem_review):
        # an authorisation hold of that name would share their account.
        if value.startswith(("rv-", "rvh-")):
            raise ValueError("hold ids starting with 'rv-' or 'rvh-' are kept for redemptions held for review")
        return value


def plan(command: HoldCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]) -> TransactionPlan:
    """The hold transaction; InsufficientPoints when the spendable buckets hold too little."""

    customer = command.customer
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            **spend_vars(chart, buckets, customer=customer, points=command.points, at=command.at),
            "hold": chart.hold(customer, command.hold_id),
        },
        metadata={
            "customer": customer,
            "hold_id": command.hold_id,
            "points": str(command.points),
            "expires_at": iso_instant(command.at + chart.hold_ttl),
        },
        timestamp=command.at,
    )


def hold_reference(hold_id: str) -> str:
    """The reference of hold ``hold_id``'s transaction (what :meth:`HoldCommand.reference` gives)."""

    return keyed_reference(HoldCommand.operation, hold_id)


def all_holds() -> dict[str, str]:
    """The metadata query finding every hold transaction."""

    return metadata_filter(HoldCommand.operation)


def find_hold(reading: Reading, customer: str, hold_id: str) -> PostedTransaction:
    """Hold ``hold_id``'s transaction; UnknownEntity if there is none, InvalidCommand if it is another customer's."""

    tx = reading.ledger.find_by_reference(hold_reference(hold_id))
    if tx is None:
        raise UnknownEntity(f"hold {hold_id} does not exist")
    if tx.metadata.get("customer") != customer:
        raise InvalidCommand(f"hold {hold_id} belongs to another customer, not {customer}")
    return tx


def is_voided(reading: Reading, hold_tx: PostedTransaction) -> bool:
    """Whether the hold of ``hold_tx`` has been voided: by a ``void`` transaction, or reverted (how voids were made before)."""

    return hold_tx.reverted or reading.ledger.find_by_reference(keyed_reference("void", hold_tx.metadata["hold_id"])) is not None


def hold_expiry(hold_tx: PostedTransaction) -> datetime | None:
    """When the hold lapses, as its transaction recorded it (``expires_at``, UTC with a Z); None if not recorded."""

    text = hold_tx.metadata.get("expires_at")
    return parse_instant(text, timezone.utc, what="the hold's expires_at") if text else None


OPERATION: Operation[HoldCommand, list[BucketBalance]] = Operation(
    command=HoldCommand,
    templates=(TEMPLATE,),
    read=customer_buckets,
    watch=buckets_watched,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "hold_id", "points", "expires_at"}), business_key="hold_id"),
)
