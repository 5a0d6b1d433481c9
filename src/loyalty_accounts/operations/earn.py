"""Earn: issue points for a purchase (template ``earn``).

Points = the order amount × the currency's earn rate, rounded by the chart's
earn rule (floor: a customer never gets a point they did not fully earn),
computed at the order's own instant so a late-arriving order earns what it
would have earned then. The points come from the customer's issuance shard
(which goes negative: it is the programme's counterpart) and land, when the
chart has a chargeback window, in the pending account of the order's date,
else straight in the bucket of the order's expiry date. Under the
``claw_back`` refund policy they first repay the customer's clawback debt.

Worked example, chart: USD rate 1, expiry 365 days, pending 14 days,
claw_back; customer c42 owes 30 points (clawback balance -30); order o-1 of
125.90 USD on 2026-03-01 earns floor(125.90 × 1) = 125 points::

    program:points:issued:7   -125  → customers:c42:clawback                     +30 (debt now 0)
                                    → customers:c42:pending:20260315:20270301   +95

    reference "earn:o-1"; metadata customer=c42, order_id=o-1, amount=125.90,
    currency=USD, points=125, repaid=30, ordered_at=2026-03-01T..Z,
    release_at=2026-03-15, expires_at=2027-03-01

An order that earns no point (floor gives 0) has nothing to post: the plan is
None.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Mapping

from ..chart import Chart, round_to
from ..errors import InvalidCommand
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from .base import BusinessKey, Command, CustomerId, Instant, Money, Value, build_plan, iso_day, iso_instant

TEMPLATE = "earn"


class EarnCommand(Command):
    """A purchase that earns points: who, which order, how much, when it was placed."""

    operation = "earn"
    key_field = "order_id"
    customer: CustomerId
    order_id: BusinessKey
    amount: Money
    ordered_at: Instant


class EarnRecord(Value):
    """What a refund needs to know about the original earn, read back from its metadata."""

    customer: CustomerId
    order_id: BusinessKey
    amount: Money
    points: int
    ordered_at: Instant
    release_on: date | None = None
    expires_on: date | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "EarnRecord":
        """Parse the metadata an earn plan wrote (see :func:`plan`)."""

        try:
            expires = metadata["expires_at"]
            return cls(
                customer=metadata["customer"],
                order_id=metadata["order_id"],
                amount=Money(amount=Decimal(metadata["amount"]), currency=metadata["currency"]),
                points=int(metadata["points"]),
                ordered_at=datetime.fromisoformat(metadata["ordered_at"].replace("Z", "+00:00")),
                release_on=date.fromisoformat(metadata["release_at"]) if "release_at" in metadata else None,
                expires_on=None if expires == "never" else date.fromisoformat(expires),
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise InvalidCommand(f"earn metadata is incomplete or malformed: {exc!r}") from None


def points_for(amount: Money, chart: Chart) -> int:
    """Points an order amount earns under the chart's rate and rounding rule."""

    currency = chart.earn_currency(amount.currency)
    if amount.decimals() > currency.decimals:
        raise InvalidCommand(f"{amount.amount} {amount.currency} has more than {currency.decimals} decimals")
    return int(round_to(amount.amount * currency.rate, 0, chart.policies.earn.rounding))


def plan(command: EarnCommand, chart: Chart, catalogue: Catalogue, *, clawback_balance: int = 0) -> TransactionPlan | None:
    """The earn transaction, or None when the order earns no point.

    ``clawback_balance`` is the customer's clawback account balance as read by
    the service (negative = debt); it matters only under ``claw_back``.
    """

    points = points_for(command.amount, chart)
    if points <= 0:
        return None
    day = chart.local_date(command.ordered_at)
    expiry = chart.expiry_for(day)
    release = chart.release_for(day)
    customer = command.customer
    destination = chart.pending(customer, release, expiry) if release else chart.bucket(customer, expiry)
    debt = max(0, -clawback_balance) if chart.policies.refund_shortfall == "claw_back" else 0
    asset = chart.points_asset
    decimals = chart.earn_currency(command.amount.currency).decimals

    metadata = {
        "customer": customer,
        "order_id": command.order_id,
        "amount": command.amount.formatted(decimals),
        "currency": command.amount.currency,
        "points": str(points),
        "ordered_at": iso_instant(command.ordered_at),
        "expires_at": iso_day(expiry),
    }
    if release:
        metadata["release_at"] = release.isoformat()
    if debt:
        metadata["repaid"] = str(min(debt, points))
    return build_plan(
        chart=chart,
        catalogue=catalogue,
        operation=command.operation,
        template=TEMPLATE,
        values={
            "points": monetary(asset, points),
            "debt": monetary(asset, debt),
            "issued": chart.issued_shard(customer),
            "clawback": chart.clawback(customer),
            "destination": destination,
        },
        reference=command.reference(),
        command_hash=command.fingerprint(),
        metadata=metadata,
        timestamp=command.ordered_at,
    )
