"""Earn: issue the points an order was priced at (template ``earn``).

The plan prices nothing. The earn's read (:func:`read`, through :func:`price`)
prices the order with the rules file (:func:`loyalty_accounts.rules.quote`) at
the order's own instant, so a late-arriving order earns what it would have
earned then, and passes the :class:`~loyalty_accounts.rules.EarnBreakdown`
in; the plan posts exactly its
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

Each campaign with a ``cap_per_customer`` that charged the order (its
contribution rounded up, :meth:`~loyalty_accounts.rules.EarnBreakdown.campaign_charges`)
also sends that many campaign-asset units (``CAMP``, a memo) from
``program:campaigns:{id}`` to the customer's usage account
``customers:{c}:campaigns:{id}``: the balance the next earn prices the cap
from (:func:`campaign_usage`), read with the guard's listing (``watch``).
For instance an app order on Black Friday charged 1800 by ``bf-2026`` and
150 by ``app-week-2026-11`` adds::

    program:campaigns:bf-2026           -1800 CAMP → customers:c42:campaigns:bf-2026           +1800
    program:campaigns:app-week-2026-11   -150 CAMP → customers:c42:campaigns:app-week-2026-11   +150

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

The part of the points the order's campaigns added
(:attr:`~loyalty_accounts.rules.EarnBreakdown.bonus_points`) is bonus points
when the chart keeps them apart (``policies.point_kinds.bonus``): it goes to
the pending account (or bucket) of bonus points' own, usually earlier,
expiry, recorded as ``bonus_points`` and ``bonus_expires_at``; a clawback debt
is repaid from it first. The same order by a customer without debt, with a
campaign adding 25 points, bonus points expiring after 6 months::

    program:points:issued:7   -150 PTS  → customers:c42:pending:20260615:20261201-bonus   +25
                                        → customers:c42:pending:20260615:20270601        +125

An order quoted 0 points (excluded category, below the minimum, or floor
gives 0) has nothing to post: the plan is None.
"""

from __future__ import annotations

from datetime import date, timezone
from decimal import Decimal
from typing import Collection, Mapping, Sequence

from ..chart import BONUS, Chart
from ..errors import ChartError, InvalidCommand, UnknownEntity
from ..numscript import Catalogue, monetary
from ..rules import (
    EarnBreakdown,
    Order,
    Rules,
    TierStatus,
    quote,
    tier_change,
    tier_for,
)
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.amounts import Money
from ..vocabulary.frozen import Frozen, Value
from ..vocabulary.ids import BusinessKey, Code, CustomerId
from ..vocabulary.instants import (
    Instant,
    day_from_metadata,
    iso_day,
    iso_instant,
    parse_instant,
)
from .base import Command, keyed_reference, plan_command
from .entry import Operation, Writes
from .reading import Reading

TEMPLATE = "earn"
NO_POINTS_NOTE = "the order earns no points"


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
    bonus_points: int = 0
    """The part of ``points`` the order's campaigns added, kept as bonus points (0: all base)."""
    bonus_expires_on: date | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "EarnRecord":
        """Parse the metadata an earn plan wrote (see :func:`plan`).

        ``qualifying_on`` is absent from earns posted before qualifying points
        existed; a refund of such an order has no qualifying points to return.
        """

        try:
            return cls(
                customer=metadata["customer"],
                order_id=metadata["order_id"],
                amount=Money(amount=Decimal(metadata["amount"]), currency=metadata["currency"]),
                points=int(metadata["points"]),
                # Written by iso_instant: always UTC with a Z.
                ordered_at=parse_instant(metadata["ordered_at"], timezone.utc, what="ordered_at"),
                release_on=date.fromisoformat(metadata["release_at"]) if "release_at" in metadata else None,
                expires_on=day_from_metadata(metadata["expires_at"]),
                qualifying_on=date.fromisoformat(metadata["qualifying_on"]) if "qualifying_on" in metadata else None,
                bonus_points=int(metadata.get("bonus_points", "0")),
                bonus_expires_on=day_from_metadata(metadata["bonus_expires_at"]) if "bonus_expires_at" in metadata else None,
            )
        except (KeyError, ValueError, ArithmeticError, InvalidCommand) as exc:
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
    capped: Collection[str] = (),
) -> TransactionPlan | None:
    """The earn transaction for the points ``breakdown`` prices, or None when it prices none.

    ``clawback_balance`` is the customer's clawback balance (negative = debt)
    as an earn at the order's instant may repay it: the highest it has from
    then on (:meth:`~.reading.AsOf.clawback_balance`), so that repaying never
    leaves the account positive at any instant; it matters only under ``claw_back``.
    ``tier_after`` is the customer's tier once this order counts and
    ``tier_change`` how it moved from ``breakdown.tier`` (``upgrade``...), both
    recorded in the metadata when given. ``capped`` names the campaigns with
    a per-customer cap that apply to the order: what each of them charged
    (:meth:`~loyalty_accounts.rules.EarnBreakdown.campaign_charges`, whole
    points, rounded up) is credited to the customer's usage account of it, in
    the campaign asset, from the campaign's counterpart; ChartError (from the
    address builder, InvalidCommand) for a campaign id the chart's
    ``campaign`` segment refuses (the rules loader refuses such rules first).
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
    bonus = breakdown.bonus_points if chart.point_kind(BONUS) == BONUS else 0
    bonus_kept = max(0, bonus - min(debt, points))  # a debt is repaid from the bonus part first
    bonus_destination = destination
    if bonus_kept:
        bonus_expiry = chart.expiry_for(day, BONUS)
        bonus_destination = (
            chart.pending(customer, release, bonus_expiry, BONUS) if release else chart.bucket(customer, bonus_expiry, BONUS)
        )

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
    if bonus:
        metadata["bonus_points"] = str(bonus)
        metadata["bonus_expires_at"] = iso_day(chart.expiry_for(day, BONUS))
    if debt:
        metadata["repaid"] = str(min(debt, points))
    if tier_after is not None:
        metadata["tier_after"] = tier_after
    if tier_change is not None:
        metadata["tier_change"] = tier_change
    charges = capped_charges(breakdown, capped)
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "points": monetary(asset, points),
            "debt": monetary(asset, debt),
            "issued": chart.issued_shard(customer),
            "clawback": chart.clawback(customer),
            "destination": destination,
            "bonus": monetary(asset, bonus_kept),
            "bonus_destination": bonus_destination,
            "qualifying": monetary(chart.qualifying_asset, points),
            "tiers": chart.tiers_qualifying(),
            "qualified": chart.qualifying(customer, day),
            "campaign_charge": [monetary(chart.campaign_asset, charged) for charged in charges.values()],
            "campaign_charged": [chart.campaign_charged(campaign) for campaign in charges],
            "campaign_usage": [chart.campaign_usage(customer, campaign) for campaign in charges],
        },
        metadata=metadata,
        timestamp=command.ordered_at,
    )


# -- what the service reads for an earn ------------------------------------


def earn_reference(order_id: str) -> str:
    """The reference of the earn of order ``order_id`` (what :meth:`EarnCommand.reference` gives)."""

    return keyed_reference(EarnCommand.operation, order_id)


def find_earn(reading: Reading, order_id: str) -> PostedTransaction:
    """The earn transaction of an order; UnknownEntity when the order earned nothing in this ledger."""

    tx = reading.ledger.find_by_reference(earn_reference(order_id))
    if tx is None:
        raise UnknownEntity(f"order {order_id} has no earn in the ledger")
    return tx


def capped_campaigns(rules: Rules, order: Order) -> tuple[str, ...]:
    """The campaigns with a per-customer cap that apply to ``order`` (its instant, category and channel), by id."""

    return tuple(
        c.id for c in rules.campaigns_at(order.ordered_at) if c.cap_per_customer is not None and c.applies_to(order)
    )


def campaign_usage(reading: Reading, rules: Rules, order: Order, capped: Sequence[str] | None = None) -> dict[str, int]:
    """Points each campaign with a per-customer cap that applies to ``order`` already gave its customer
    (``capped``: those campaigns when the caller has them, :func:`capped_campaigns`).

    The balances (campaign asset) of the customer's usage accounts
    (``customers:{c}:campaigns:{id}``), which every earn credits by what
    each capped campaign charged it (:func:`plan`): a read that does not grow
    with history, answered from the guard's listing when the executor made
    it (``watch``), else one listing of the customer's usage accounts. A
    balance as of now, whatever the order's instant: a cap is a budget over
    the campaign's life, so an order arriving late (back-dated) must not find
    it refilled, and every charge counts whatever order it was posted in.
    Refunds leave usage as it is (they give no budget back). No read when no
    capped campaign applies to the order.
    """

    if capped is None:
        capped = capped_campaigns(rules, order)
    if not capped:
        return {}
    chart = reading.chart
    wanted = {chart.campaign_usage(order.customer, campaign): campaign for campaign in capped}
    usage: dict[str, int] = {}
    for state in reading.accounts_now(chart.campaign_usage_filter(order.customer)):
        if state.address in wanted and (held := state.balance(chart.campaign_asset)):
            usage[wanted[state.address]] = held
    return usage


def order_of(command: EarnCommand, rules: Rules) -> Order:
    """The order the rules price for ``command``: its category and channel, or the rules' defaults."""

    category, channel = rules.order_fields(command.category, command.channel)
    return Order(
        customer=command.customer,
        order_id=command.order_id,
        amount=command.amount.amount,
        currency=command.amount.currency,
        category=category,
        channel=channel,
        ordered_at=command.ordered_at,
    )


def price(command: EarnCommand, reading: Reading, rules: Rules) -> tuple[EarnBreakdown, TierStatus]:
    """The order's breakdown and the customer's tier just before it, both at the order's instant."""

    breakdown, before, _ = _price(command, reading, rules)
    return breakdown, before


def _price(command: EarnCommand, reading: Reading, rules: Rules) -> tuple[EarnBreakdown, TierStatus, tuple[str, ...]]:
    """:func:`price`, and the capped campaigns that apply to the order (its order built and its campaigns found once)."""

    order = order_of(command, rules)
    reading.chart.order_currency(order.currency)
    before = tier_for(rules, reading.qualifying_points(command.customer, command.ordered_at))
    capped = capped_campaigns(rules, order)
    usage = campaign_usage(reading, rules, order, capped)
    return quote(rules, order, tier=before.tier, campaign_usage=usage), before, capped


def capped_charges(breakdown: EarnBreakdown, capped: Collection[str]) -> dict[str, int]:
    """What the order adds to the customer's usage of each campaign of ``capped`` (only those that charged it)."""

    return {campaign: charged for campaign, charged in breakdown.campaign_charges().items() if campaign in capped and charged > 0}


class Priced(Frozen):
    """What an earn reads: the order priced at its instant, the tier before and after it, the clawback balance,
    and the campaigns with a per-customer cap that apply to it (whose charges the plan adds to their usage)."""

    breakdown: EarnBreakdown
    before: TierStatus
    after: TierStatus
    clawback_balance: int
    capped: tuple[str, ...] = ()


def read(command: EarnCommand, reading: Reading) -> Priced:
    """The order priced at its instant, the tier it moves the customer from and to, the clawback balance."""

    rules = reading.require_rules("earn")
    breakdown, before, capped = _price(command, reading, rules)
    after = tier_for(rules, before.qualifying_points + breakdown.points)
    clawback = reading.at(command.ordered_at).clawback_balance(command.customer)
    return Priced(breakdown=breakdown, before=before, after=after, clawback_balance=clawback, capped=capped)


def _watched(command: EarnCommand, chart: Chart) -> tuple[str, ...]:
    """What :func:`read` reads: the customer's qualifying accounts, clawback account and campaign usage accounts."""

    customer = command.customer
    return (chart.qualifying_filter(customer), chart.clawback(customer), chart.campaign_usage_filter(customer))


def _plan_priced(command: EarnCommand, chart: Chart, catalogue: Catalogue, priced: Priced) -> TransactionPlan | None:
    return plan(
        command,
        chart,
        catalogue,
        breakdown=priced.breakdown,
        clawback_balance=priced.clawback_balance,
        tier_after=priced.after.tier,
        tier_change=tier_change(priced.before, priced.after),
        capped=priced.capped,
    )


def _no_points(priced: Priced) -> str:
    """Why nothing was posted: the order earns no points (and the rules' reason, when they give one)."""

    reason = priced.breakdown.reason
    return f"{NO_POINTS_NOTE} ({reason.replace('_', ' ')})" if reason else NO_POINTS_NOTE


OPERATION: Operation[EarnCommand, Priced] = Operation(
    command=EarnCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=_plan_priced,
    watch=_watched,
    writes=Writes(
        required=frozenset({"customer", "order_id", "amount", "currency", "points", "ordered_at", "expires_at"}),
        optional=frozenset(
            {"release_at", "repaid", "qualifying_on", "tier_after", "tier_change", "bonus_points", "bonus_expires_at"}
        ),
        business_key="order_id",
        optional_prefixes=("r_",),
    ),
    no_plan_note=_no_points,
)
