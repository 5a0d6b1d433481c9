"""Exchange in: a customer hands in a partner's points for ours (template ``exchange_in``).

Three legs in one transaction:

1. the partner's points go from ``partners:{p}:issued`` (negative) to
   ``partners:{p}:received``;
2. our points (partner points × the inbound ratio) are issued from the
   customer's issuance shard into the bucket of today's expiry date (no
   chargeback window: the partner has already settled its side);
3. the settlement the partner owes us goes from ``program:exchange:revenue``
   (negative) to ``partners:{p}:settlement`` (positive: the partner owes it).

Worked example, skyway inbound 2 PTS and 0.0080 USD per mile, expiry 365
days; c42 hands in 100 miles (x-2) on 2026-06-01::

    partners:skyway:issued     -100 SKYMILES → partners:skyway:received          +100 SKYMILES
    program:points:issued:7    -200 PTS      → customers:c42:points:20270601     +200 PTS
    program:exchange:revenue    -80 USD/2    → partners:skyway:settlement         +80 USD/2

    reference "exchange_in:x-2"
"""

from __future__ import annotations

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import Points, to_minor
from ..vocabulary.ids import BusinessKey, CustomerId, PartnerKey
from ..vocabulary.instants import Instant, iso_day
from .base import Command, build_plan
from .entry import Operation, Writes
from .exchange_out import settlement_amount
from .reading import nothing

TEMPLATE = "exchange_in"


class ExchangeInCommand(Command):
    """Turn ``partner_points`` whole partner points of a customer into our points."""

    operation = "exchange_in"
    key_field = "exchange_id"
    customer: CustomerId
    exchange_id: BusinessKey
    partner: PartnerKey
    partner_points: Points
    at: Instant


def plan(command: ExchangeInCommand, chart: Chart, catalogue: Catalogue) -> TransactionPlan:
    """The exchange; InvalidCommand for an unknown partner."""

    partner = chart.partner(command.partner)
    terms = partner.inbound
    points = command.partner_points * terms.points_per_partner_point
    settlement = settlement_amount(chart, command.partner_points, terms.price_per_partner_point)
    customer, p = command.customer, command.partner
    expiry = chart.expiry_for(chart.local_date(command.at))
    return build_plan(
        chart=chart,
        catalogue=catalogue,
        operation=command.operation,
        template=TEMPLATE,
        values={
            "partner_points": monetary(partner.asset, command.partner_points),
            "partner_issued": chart.partner_account(p, "issued"),
            "partner_received": chart.partner_account(p, "received"),
            "points": monetary(chart.points_asset, points),
            "issued": chart.issued_shard(customer),
            "bucket": chart.bucket(customer, expiry),
            "settlement": monetary(chart.money_asset, to_minor(settlement, chart.money_asset)),
            "exchange_revenue": chart.exchange_revenue(),
            "partner_settlement": chart.partner_account(p, "settlement"),
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
            "expires_at": iso_day(expiry),
        },
        timestamp=command.at,
    )


OPERATION: Operation[ExchangeInCommand, None] = Operation(
    command=ExchangeInCommand,
    templates=(TEMPLATE,),
    read=nothing,
    plan=lambda command, chart, catalogue, _: plan(command, chart, catalogue),
    writes=Writes(
        required=frozenset(
            {"customer", "exchange_id", "partner", "points", "partner_points", "partner_asset", "settlement", "currency",
             "expires_at"}
        ),
        business_key="exchange_id",
    ),
)
