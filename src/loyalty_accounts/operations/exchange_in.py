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
from ..vocabulary.instants import iso_day
from .base import plan_command
from .entry import Operation, Writes
from .exchange import EXCHANGE_KEYS, PRICE_KEY, Exchange, ExchangeCommand
from .reading import nothing

TEMPLATE = "exchange_in"


class ExchangeInCommand(ExchangeCommand):
    """Turn ``partner_points`` whole partner points of a customer into our points."""

    operation = "exchange_in"


def plan(command: ExchangeInCommand, chart: Chart, catalogue: Catalogue) -> TransactionPlan:
    """The exchange; InvalidCommand for an unknown partner."""

    exchange = Exchange.price(command, chart, "inbound")
    customer = command.customer
    expiry = chart.expiry_for(chart.local_date(command.at))
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            **exchange.partner_vars(chart),
            "partner_received": chart.partner_account(command.partner, "received"),
            "points": monetary(chart.points_asset, exchange.points),
            "issued": chart.issued_shard(customer),
            "bucket": chart.bucket(customer, expiry),
            "exchange_revenue": chart.exchange_revenue(),
        },
        metadata={**exchange.metadata(chart), "expires_at": iso_day(expiry)},
        timestamp=command.at,
    )


OPERATION: Operation[ExchangeInCommand, None] = Operation(
    command=ExchangeInCommand,
    templates=(TEMPLATE,),
    read=nothing,
    plan=lambda command, chart, catalogue, _: plan(command, chart, catalogue),
    writes=Writes(required=EXCHANGE_KEYS | {"expires_at"}, optional=frozenset({PRICE_KEY}), business_key="exchange_id"),
)
