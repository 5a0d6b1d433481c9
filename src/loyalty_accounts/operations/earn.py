"""Earn: issue the points an order was priced at (template ``earn``).

The plan prices nothing. The service prices the order with the rules file
(:func:`loyalty_accounts.rules.quote`) at the order's own instant, so a
late-arriving order earns what it would have earned then, and passes the
:class:`~loyalty_accounts.rules.EarnBreakdown` in; the plan posts exactly its
points and writes the breakdown into the transaction's metadata, so every earn
explains itself from the ledger alone.

The points come from the customer's issuance shard (which goes negative: it
is the programme's counterpart) and land, when the chart has a chargeback
window, in the pending account of the order's date, else straight in the
bucket of the order's expiry date. Under the ``claw_back`` refund policy they
first repay the customer's clawback debt. In the same transaction as many
qualifying points (a memo asset, never spendable) go from
``program:tiers:qualifying`` to the customer's qualifying account of the
order's date: the tier is the sum of those accounts over the qualification
window, so spending, transferring or expiring points never costs a tier.

Worked example, chart: expiry 365 days, pending 14 days, claw_back; customer
c42, a member, owes 30 points (clawback balance -30); order o-1 of 125.90 USD
of books on the web on 2026-06-01 (no campaign) is quoted floor(125.90 × 1) =
125 points::

    program:points:issued:7   -125 PTS  → customers:c42:clawback                     +30 (debt now 0)
                                        → customers:c42:pending:20260615:20270601   +95
    program:tiers:qualifying  -125 QPTS → customers:c42:qualifying:20260601        +125

    reference "earn:o-1"; metadata customer=c42, order_id=o-1, amount=125.90,
    currency=USD, points=125, repaid=30, ordered_at=2026-06-01T..Z,
    release_at=2026-06-15, expires_at=2027-06-01, qualifying_on=2026-06-01,
    tier_after=member, and the breakdown's r_* keys (rules version, rate,
    multipliers, campaigns)

An order quoted 0 points (excluded category, below the minimum, or floor
gives 0) has nothing to post: the plan is None.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Mapping

from ..chart import Chart
from ..errors import ChartError, InvalidCommand
from ..numscript import Catalogue, monetary
from ..rules import EarnBreakdown
from ..types import TransactionPlan
from .base import Command, build_plan
from ..vocabulary.ids import BusinessKey, Code, CustomerId
from ..vocabulary.instants import Instant, iso_day, iso_instant
from ..vocabulary.amounts import Money
from ..vocabulary.frozen import Value

TEMPLATE = "earn"


class EarnCommand(Command):
    """A purchase that earns points: who, which order, how much, when, and what and where it was bought.

    ``category`` and ``channel`` are optional: an order that does not say is
    priced with the rules file's ``order_defaults``.
    """

    operation = "earn"
    key_field = "order_id"
    optional_fields = frozenset({"category", "channel"})
    customer: CustomerId
    order_id: BusinessKey
    amount: Money
    ordered_at: Instant
    category: Code | None = None
    channel: Code | None = None


class EarnRecord(Value):
    """What a refund needs to know about the original earn, read back from its metadata."""

    customer: CustomerId
    order_id: BusinessKey
    amount: Money
    points: int
    ordered_at: Instant
    release_on: date | None = None
    expires_on: date | None = None
    qualifying_on: date | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "EarnRecord":
        """Parse the metadata an earn plan wrote (see :func:`plan`).

        ``qualifying_on`` is absent from earns posted before qualifying points
        existed; a refund of such an order has no qualifying points to return.
        """

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
                qualifying_on=date.fromisoformat(metadata["qualifying_on"]) if "qualifying_on" in metadata else None,
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise InvalidCommand(f"earn metadata is incomplete or malformed: {exc!r}") from None


def _check_breakdown(command: EarnCommand, breakdown: EarnBreakdown) -> None:
    """The breakdown must price this very order, or the metadata would explain another one."""

    mismatches = [
        name
        for name, ours, theirs in (
            ("amount", command.amount.amount, breakdown.amount),
            ("currency", command.amount.currency, breakdown.currency),
            ("category", command.category, breakdown.category),
            ("channel", command.channel, breakdown.channel),
        )
        if ours is not None and ours != theirs
    ]
    if mismatches:
        raise ChartError(f"the breakdown given for order {command.order_id} prices another order (different {', '.join(mismatches)})")


def plan(
    command: EarnCommand,
    chart: Chart,
    catalogue: Catalogue,
    *,
    breakdown: EarnBreakdown,
    clawback_balance: int = 0,
    tier_after: str | None = None,
    tier_change: str | None = None,
) -> TransactionPlan | None:
    """The earn transaction for the points ``breakdown`` prices, or None when it prices none.

    ``clawback_balance`` is the customer's clawback account balance as read by
    the service (negative = debt); it matters only under ``claw_back``.
    ``tier_after`` is the customer's tier once this order counts and
    ``tier_change`` how it moved from ``breakdown.tier`` (``upgrade``...), both
    recorded in the metadata when given.
    """

    _check_breakdown(command, breakdown)
    decimals = chart.order_currency(command.amount.currency).decimals
    if command.amount.decimals() > decimals:
        raise InvalidCommand(f"{command.amount.amount} {command.amount.currency} has more than {decimals} decimals")
    points = breakdown.points
    if points <= 0:
        return None
    day = chart.local_date(command.ordered_at)
    expiry = chart.expiry_for(day)
    release = chart.release_for(day)
    customer = command.customer
    destination = chart.pending(customer, release, expiry) if release else chart.bucket(customer, expiry)
    debt = max(0, -clawback_balance) if chart.policies.refund_shortfall == "claw_back" else 0
    asset = chart.points_asset

    metadata = {
        "customer": customer,
        "order_id": command.order_id,
        "amount": command.amount.formatted(decimals),
        "currency": command.amount.currency,
        "points": str(points),
        "ordered_at": iso_instant(command.ordered_at),
        "expires_at": iso_day(expiry),
        "qualifying_on": day.isoformat(),
        **breakdown.to_metadata(),
    }
    if release:
        metadata["release_at"] = release.isoformat()
    if debt:
        metadata["repaid"] = str(min(debt, points))
    if tier_after is not None:
        metadata["tier_after"] = tier_after
    if tier_change is not None:
        metadata["tier_change"] = tier_change
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
            "qualifying": monetary(chart.qualifying_asset, points),
            "tiers": chart.tiers_qualifying(),
            "qualified": chart.qualifying(customer, day),
        },
        reference=command.reference(),
        command_hash=command.fingerprint(),
        metadata=metadata,
        timestamp=command.ordered_at,
    )
