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

from typing import Sequence

from ..chart import Chart
from ..numscript import Catalogue
from ..types import TransactionPlan
from .base import plan_command
from .entry import Operation, Writes
from .exchange import EXCHANGE_KEYS, PRICE_KEY, Exchange, ExchangeCommand
from .fifo import BucketBalance
from .reading import buckets_watched, customer_buckets
from .spend import spend_vars

TEMPLATE = "exchange_out"


class ExchangeOutCommand(ExchangeCommand):
    """Deliver ``partner_points`` whole partner points to a customer, paid with our points."""

    operation = "exchange_out"


def plan(
    command: ExchangeOutCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]
) -> TransactionPlan:
    """The exchange; InvalidCommand for an unknown partner, InsufficientPoints when short."""

    exchange = Exchange.price(command, chart, "outbound")
    p = command.partner
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            **spend_vars(chart, buckets, customer=command.customer, points=exchange.points, at=command.at),
            "exchanged": chart.partner_account(p, "exchanged"),
            "partner_delivered": chart.partner_account(p, "delivered"),
            "exchange_cost": chart.exchange_cost(),
            **exchange.partner_vars(chart),
        },
        metadata=exchange.metadata(chart),
        timestamp=command.at,
    )


OPERATION: Operation[ExchangeOutCommand, list[BucketBalance]] = Operation(
    command=ExchangeOutCommand,
    templates=(TEMPLATE,),
    read=customer_buckets,
    watch=buckets_watched,
    plan=plan,
    writes=Writes(required=EXCHANGE_KEYS, optional=frozenset({PRICE_KEY}), business_key="exchange_id"),
)
