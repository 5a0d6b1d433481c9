"""Exchange out: a customer turns our points into a partner's points (template ``exchange_out``).

Three legs in one transaction, so all happen or none does:

1. our points leave the customer's buckets (FIFO) for ``partners:{p}:exchanged``;
2. the partner's points, ``partner_points`` whole units of the partner's asset,
   go from ``partners:{p}:issued`` (the counterpart, negative) to
   ``partners:{p}:delivered``;
3. the settlement we owe the partner (partner points × the outbound price,
   rounded to the money asset by the chart's settlement rule) goes from
   ``partners:{p}:settlement`` (negative: we owe it) to
   ``program:exchange:cost``.

Worked example, skyway outbound 3 PTS and 0.0125 USD per mile; c42 exchanges
for 40 miles (x-1) on 2026-06-01 with bucket 20270331: 200::

    customers:c42:points:20270331  -120 PTS      → partners:skyway:exchanged   +120 PTS
    partners:skyway:issued          -40 SKYMILES → partners:skyway:delivered    +40 SKYMILES
    partners:skyway:settlement      -50 USD/2    → program:exchange:cost        +50 USD/2

    reference "exchange_out:x-1"
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from ..chart import Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import Points, asset_precision, round_to, to_minor
from ..vocabulary.ids import BusinessKey, CustomerId, PartnerKey
from ..vocabulary.instants import Instant
from .base import Command, build_plan
from .entry import Operation, Writes
from .fifo import BucketBalance, allocate, spendable
from .reading import customer_buckets

TEMPLATE = "exchange_out"


class ExchangeOutCommand(Command):
    """Deliver ``partner_points`` whole partner points to a customer, paid with our points."""

    operation = "exchange_out"
    key_field = "exchange_id"
    customer: CustomerId
    exchange_id: BusinessKey
    partner: PartnerKey
    partner_points: Points
    at: Instant


def settlement_amount(chart: Chart, partner_points: int, price: Decimal) -> Decimal:
    """Partner points × price, rounded to the money asset by the chart's settlement rule."""

    places = asset_precision(chart.money_asset)
    amount = round_to(Decimal(partner_points) * price, places, chart.policies.settlement_rounding)
    if amount <= 0:
        raise InvalidCommand(f"{partner_points} partner points settle for {amount}: too small to exchange")
    return amount


def plan(
    command: ExchangeOutCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]
) -> TransactionPlan:
    """The exchange; InvalidCommand for an unknown partner, InsufficientPoints when short."""

    partner = chart.partner(command.partner)
    terms = partner.outbound
    points = command.partner_points * terms.points_per_partner_point
    settlement = settlement_amount(chart, command.partner_points, terms.price_per_partner_point)
    customer, p = command.customer, command.partner
    taken = allocate(spendable(buckets, chart.local_date(command.at)), points, customer=customer)
    return build_plan(
        chart=chart,
        catalogue=catalogue,
        operation=command.operation,
        template=TEMPLATE,
        values={
            "points": monetary(chart.points_asset, points),
            "buckets": [chart.bucket(customer, a.expiry) for a in taken],
            "exchanged": chart.partner_account(p, "exchanged"),
            "partner_points": monetary(partner.asset, command.partner_points),
            "partner_issued": chart.partner_account(p, "issued"),
            "partner_delivered": chart.partner_account(p, "delivered"),
            "settlement": monetary(chart.money_asset, to_minor(settlement, chart.money_asset)),
            "partner_settlement": chart.partner_account(p, "settlement"),
            "exchange_cost": chart.exchange_cost(),
        },
        reference=command.reference(),
        command_hash=command.fingerprint(),
        metadata={
            "customer": customer,
            "exchange_id": command.exchange_id,
            "partner": p,
            "points": str(points),
            "partner_points": str(command.partner_points),
            "partner_asset": partner.asset,
            "settlement": str(settlement),
            "currency": chart.money_currency,
        },
        timestamp=command.at,
    )


OPERATION: Operation[ExchangeOutCommand, list[BucketBalance]] = Operation(
    command=ExchangeOutCommand,
    templates=(TEMPLATE,),
    read=customer_buckets,
    plan=plan,
    writes=Writes(
        required=frozenset(
            {"customer", "exchange_id", "partner", "points", "partner_points", "partner_asset", "settlement", "currency"}
        ),
        business_key="exchange_id",
    ),
)
