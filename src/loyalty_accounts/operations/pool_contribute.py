"""Pool contribution: a member partner puts points it buys into a partner pool (template ``pool_contribute``).

Two legs in one transaction:

1. ``points`` go from ``pools:{pool}:partners:{p}:contributed`` (negative: minus
   what the partner put in) to ``pools:{pool}:partners:{p}:funds``;
2. the payment, points × the pool's ``price_per_point`` rounded to the money
   asset by the chart's ``settlement_rounding``, goes from
   ``pools:{pool}:partners:{p}:paid`` (negative) to ``partners:{p}:settlement``
   (positive: the partner owes it, as after an exchange in).

A third leg takes one control unit from the pool's operation counter
(``pools:{pool}:sequence``), unbounded (:mod:`.counter`): a draw planned before the
contribution posted is refused and re-planned (:mod:`.pool`), and the
counter gets the balance row the draws' bounded leg needs the ledger to lock
(a draw needs funds, which only a contribution brings).

A contribution paying nothing once rounded is refused. No customer's account
moves, so only the closed-period check of the guard applies.

Worked example, pool travel at 0.0090 USD a point; skyway contributes 3,000
points (c-1)::

    pools:travel:partners:skyway:contributed  -3000 PTS   → pools:travel:partners:skyway:funds  +3000 PTS
    pools:travel:partners:skyway:paid           -2700 USD/2 → partners:skyway:settlement        +2700 USD/2
    pools:travel:sequence                          -1 CTL → program:control:sequence        +1 CTL

    reference "pool_contribute:c-1"; metadata pool=travel, partner=skyway, points=3000, payment=27.00
"""

from __future__ import annotations

from decimal import Decimal

from ..chart import Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import MAX_POINTS, Points, asset_precision, round_to, to_minor
from ..vocabulary.ids import BusinessKey, PartnerKey
from ..vocabulary.instants import Instant
from .base import Command, plan_command
from .counter import unbounded_step
from .entry import Operation, Writes
from .pool import PoolKey
from .reading import nothing

TEMPLATE = "pool_contribute"
CONTRIBUTION_KEYS = frozenset({"pool", "partner", "contribution_id", "points", "payment", "currency", "price_per_point"})


class PoolContributeCommand(Command):
    """``partner`` puts ``points`` whole points into ``pool``; ``contribution_id`` is the business key."""

    operation = "pool_contribute"
    key_field = "contribution_id"
    pool: PoolKey
    partner: PartnerKey
    contribution_id: BusinessKey
    points: Points
    at: Instant


def payment(chart: Chart, pool: str, points: int) -> Decimal:
    """What ``points`` contributed to ``pool`` cost the partner: points × price, rounded by the settlement rule.

    InvalidCommand when that rounds to nothing, or for an undeclared pool.
    """

    price = chart.pool(pool).price_per_point
    amount = round_to(Decimal(points) * price, asset_precision(chart.money_asset), chart.policies.settlement_rounding)
    if amount <= 0:
        raise InvalidCommand(f"{points} points at {price} a point pay {amount}: too small to contribute")
    return amount


def points_for_amount(chart: Chart, pool: str, amount: Decimal) -> int:
    """The whole points ``amount`` (money asset) buys in ``pool`` at its price, exactly.

    InvalidCommand when the amount has more decimals than the money asset, buys a fraction of a point
    or none, or more than one operation may move.
    """

    to_minor(amount, chart.money_asset)
    price = chart.pool(pool).price_per_point
    points = amount / price
    if amount <= 0 or points != points.to_integral_value():
        raise InvalidCommand(f"{amount} at {price} a point buys {points.normalize():f} points: give an amount buying whole points")
    if points > MAX_POINTS:
        raise InvalidCommand(f"{amount} buys more points than one operation may move ({MAX_POINTS:,})")
    return int(points)


def plan(command: PoolContributeCommand, chart: Chart, catalogue: Catalogue) -> TransactionPlan:
    """The contribution; InvalidCommand for an undeclared pool, a partner outside it, or a payment of nothing."""

    pool, partner = command.pool, command.partner
    paid = payment(chart, pool, command.points)
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "points": monetary(chart.points_asset, command.points),
            "contributed": chart.pool_account(pool, partner, "contributed"),
            "funds": chart.pool_account(pool, partner, "funds"),
            "payment": monetary(chart.money_asset, to_minor(paid, chart.money_asset)),
            "paid": chart.pool_account(pool, partner, "paid"),
            "partner_settlement": chart.partner_account(partner, "settlement"),
            **unbounded_step(chart, chart.pool_sequence(pool)),
        },
        metadata={
            "pool": pool,
            "partner": partner,
            "contribution_id": command.contribution_id,
            "points": str(command.points),
            "payment": str(paid),
            "currency": chart.money_currency,
            "price_per_point": str(chart.pool(pool).price_per_point),
        },
        timestamp=command.at,
    )


OPERATION: Operation[PoolContributeCommand, None] = Operation(
    command=PoolContributeCommand,
    templates=(TEMPLATE,),
    read=nothing,
    plan=lambda command, chart, catalogue, _: plan(command, chart, catalogue),
    writes=Writes(required=CONTRIBUTION_KEYS, business_key="contribution_id"),
)
