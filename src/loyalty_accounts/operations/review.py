"""A review's decision: approve (capture the held redemption) or reject / lapse (void it).

A redemption held for review (:mod:`.redeem_review`) is settled by exactly one
decision transaction, reference ``review:{redemption_id}`` (one per
redemption, whatever the decision: the database refuses a second), on the
ledger with who decided and why:

- ``approved``: template ``capture``: every held point goes on to
  ``program:points:redeemed``, so the redemption ends as a redemption; a
  physical reward's hold (which holds its unit of stock too) is settled by
  ``capture_reward``, the unit going on to ``catalogue:{sku}:delivered``.
  Refused at or after the review's deadline.
- ``rejected`` / ``lapsed``: template ``void``: each posting into the hold
  account is mirrored back to where it came from, so every point returns to
  the bucket it left, with its expiry, and a held unit to the reward's stock. ``lapsed`` is what the lapse sweep
  records once the deadline has passed (operator ``system``, reason
  ``deadline_passed``), and is refused before it.

Both read the hold account's balance at the decision's instant and on: a hold
emptied (another decision got there first) is refused. The customer's
sequence leg guards the transaction like any other.

Worked example, review hold rv-r-9 of 12,000 points (8,000 from 20260930,
4,000 from 20270331), rejected by operator ops-7 for suspected_fraud::

    customers:c42:holds:rv-r-9  -8000 → customers:c42:points:20260930  +8000
                                -4000 → customers:c42:points:20270331  +4000

    reference "review:r-9"; template void; metadata customer=c42,
    redemption_id=r-9, hold_id=rv-r-9, points=12000, decision=rejected,
    operator=ops-7, reason=suspected_fraud, decided_at=2026-06-02T09:00:00Z

Operator ids and reason codes are codes, screened for personal data like
every command field (the executor refuses a value that looks like an email,
a phone number or a member's name before anything is read).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ..chart import Chart
from ..errors import InvalidCommand, OperationRefused
from ..numscript import Catalogue, monetary
from ..types import Posting, PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import BusinessKey, CustomerId, HoldId, OperatorId, ReasonCode
from ..vocabulary.instants import Instant, iso_instant
from .base import Command, keyed_reference, metadata_filter, plan_command
from .entry import Operation, Writes
from .reading import Reading
from .redeem_review import find_review, review_deadline, review_hold_id

Decision = Literal["approved", "rejected", "lapsed"]

CAPTURE_REWARD_TEMPLATE = "capture_reward"
"""An approval of a physical reward's hold: the points to redeemed, the unit to the reward's delivered account."""
LAPSE_OPERATOR = "system"
"""The operator a lapse records."""


class ReviewCommand(Command):
    """Decide redemption ``redemption_id`` of ``customer`` (held for review), at ``at``."""

    operation = "review"
    key_field = "redemption_id"
    customer: CustomerId
    redemption_id: BusinessKey
    decision: Decision
    operator: OperatorId
    reason: ReasonCode
    at: Instant


def decision_reference(redemption_id: str) -> str:
    """The reference of the decision on redemption ``redemption_id``'s review."""

    return keyed_reference(ReviewCommand.operation, redemption_id)


def all_decisions() -> dict[str, str]:
    """The metadata query finding every review decision."""

    return metadata_filter(ReviewCommand.operation)


class Held(Frozen):
    """What a decision reads: the review hold, its account's postings in and what the account can give."""

    hold_id: HoldId
    postings: tuple[Posting, ...]
    placed_at: datetime
    deadline: datetime
    available: dict[str, int]
    metadata: dict[str, str]


def held_postings_of(chart: Chart, tx: PostedTransaction, hold_id: str) -> list[Posting]:
    """The postings of ``tx`` into hold ``hold_id``'s account, of any asset (what a void mirrors)."""

    return [p for p in tx.postings if p.destination == chart.hold(tx.metadata["customer"], hold_id) and p.amount > 0]


def read(command: ReviewCommand, reading: Reading) -> Held:
    """The review hold; UnknownEntity (no such redemption), OperationRefused (not held for review), InvalidCommand
    (another customer's)."""

    tx = find_review(reading, command.redemption_id)
    if tx.metadata.get("customer") != command.customer:
        raise InvalidCommand(f"redemption {command.redemption_id} belongs to another customer, not {command.customer}")
    hold_id = tx.metadata["hold_id"]
    postings = tuple(held_postings_of(reading.chart, tx, hold_id))
    hold = reading.chart.hold(command.customer, hold_id)
    available = reading.at(max(command.at, tx.timestamp)).available(command.customer, hold)
    return Held(
        hold_id=hold_id,
        postings=postings,
        placed_at=tx.timestamp,
        deadline=review_deadline(tx),
        available={reading.chart.points_asset: available},
        metadata={k: v for k, v in tx.metadata.items() if k in ("reward", "reward_type")},
    )


def plan(command: ReviewCommand, chart: Chart, catalogue: Catalogue, held: Held) -> TransactionPlan:
    """The decision's capture or void.

    InvalidCommand when dated before the hold; OperationRefused for an
    approval at or after the deadline, a lapse before it, or a hold that no
    longer holds its points (already decided).
    """

    rid = command.redemption_id
    if command.at < held.placed_at:
        raise InvalidCommand(f"the review of {rid} is dated {iso_instant(command.at)}, before the redemption ({iso_instant(held.placed_at)})")
    if command.decision == "approved" and command.at >= held.deadline:
        raise OperationRefused(f"the review of {rid} lapsed at {iso_instant(held.deadline)}: it can no longer be approved")
    if command.decision == "lapsed" and command.at < held.deadline:
        raise OperationRefused(f"the review of {rid} is open until {iso_instant(held.deadline)}: it has not lapsed")
    asset = chart.points_asset
    points = sum(p.amount for p in held.postings if p.asset == asset)
    if held.available.get(asset, 0) < points:
        raise OperationRefused(f"the review of {rid} was already decided: its hold no longer holds its {points} points")
    hold = chart.hold(command.customer, held.hold_id)
    metadata = {
        "customer": command.customer,
        "redemption_id": rid,
        "hold_id": held.hold_id,
        "points": str(points),
        **held.metadata,
        "decision": command.decision,
        "operator": command.operator,
        "reason": command.reason,
        "decided_at": iso_instant(command.at),
    }
    units = [p for p in held.postings if p.asset == chart.spec.programme.stock_asset]
    if command.decision == "approved" and units:
        values: dict[str, object] = {
            "captured": monetary(asset, points),
            "hold": hold,
            "redeemed": chart.redeemed(),
            "unit": monetary(units[0].asset, sum(p.amount for p in units)),
            "delivered": chart.delivered(_reward_of(chart, units[0].source)),
        }
        template = CAPTURE_REWARD_TEMPLATE
    elif command.decision == "approved":
        values = {"captured": monetary(asset, points), "hold": hold, "redeemed": chart.redeemed(), "returned": [], "return_to": []}
        template = "capture"
        metadata["returned"] = "0"
    else:
        values = {"hold": hold, "returned": [monetary(p.asset, p.amount) for p in held.postings], "bucket": [p.source for p in held.postings]}
        template = "void"
    return plan_command(command, chart, catalogue, template=template, values=values, metadata=metadata, timestamp=command.at)  # type: ignore[arg-type]


def _reward_of(chart: Chart, stock: str) -> str:
    """The SKU of stock account ``stock`` (the source of a held unit)."""

    parsed = chart.parse(stock)
    if parsed is None or parsed.kind != "catalogue_stock":
        raise InvalidCommand(f"a review hold's unit came from {stock}, not from a reward's stock")
    return parsed.values["reward"]


def decided(tx: PostedTransaction) -> dict[str, str]:
    """What a decision transaction recorded: decision, operator, reason, decided_at (and its transaction id)."""

    keys = ("decision", "operator", "reason", "decided_at")
    return {**{k: tx.metadata.get(k, "") for k in keys}, "transaction": str(tx.id)}


def lapse_command(customer: str, redemption_id: str, at: datetime, reason: str) -> ReviewCommand:
    """The lapse of a review whose deadline has passed by ``at``."""

    return ReviewCommand(customer=customer, redemption_id=redemption_id, decision="lapsed", operator=LAPSE_OPERATOR, reason=reason, at=at)


OPERATION: Operation[ReviewCommand, Held] = Operation(
    command=ReviewCommand,
    templates=("capture", CAPTURE_REWARD_TEMPLATE, "void"),
    read=read,
    watch=lambda command, chart: (chart.hold(command.customer, review_hold_id(command.redemption_id)),),
    plan=plan,
    writes=Writes(
        required=frozenset({"customer", "redemption_id", "hold_id", "points", "decision", "operator", "reason", "decided_at"}),
        optional=frozenset({"returned", "reward", "reward_type"}),
        business_key="redemption_id",
    ),
)
