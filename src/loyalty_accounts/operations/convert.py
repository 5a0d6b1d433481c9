"""Convert: points buy store credit (template ``convert``).

Both legs in one transaction: the points leave the customer's buckets (FIFO)
for ``program:points:converted``, and store credit is issued from
``program:credit:issued`` (negative) to ``customers:{c}:credit``. Only whole
units of credit: the points must be a multiple of the chart's
``points_per_unit``.

Worked example, 100 PTS per 1.00 USD; c42 converts 500 points (cv-1) on
2026-06-01 with buckets 20260930: 300 and 20270331: 400::

    customers:c42:points:20260930  -300 PTS → program:points:converted  +500 PTS
    customers:c42:points:20270331  -200 PTS ↗
    program:credit:issued          -500 USD/2 → customers:c42:credit    +500 USD/2 (5.00 USD)

    reference "convert:cv-1"; metadata customer=c42, conversion_id=cv-1,
    points=500, credit=5.00, currency=USD
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from ..chart import Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import Points, from_minor, to_minor
from ..vocabulary.ids import BusinessKey, CustomerId
from ..vocabulary.instants import Instant
from .base import Command, plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
from .reading import buckets_watched, customer_buckets
from .spend import spend_vars

TEMPLATE = "convert"


class ConvertCommand(Command):
    """Convert ``points`` of a customer into store credit."""

    operation = "convert"
    key_field = "conversion_id"
    customer: CustomerId
    conversion_id: BusinessKey
    points: Points
    at: Instant


def credit_for(chart: Chart, points: int) -> int:
    """Store credit, in minor units of the money asset, bought by ``points``; whole units only."""

    per_unit = chart.policies.conversion.points_per_unit
    if points % per_unit:
        raise InvalidCommand(
            f"{points} points do not buy a whole number of {chart.money_currency}: "
            f"use a multiple of {per_unit}"
        )
    return to_minor(Decimal(points // per_unit), chart.money_asset)


def plan(command: ConvertCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]) -> TransactionPlan:
    """The conversion; InvalidCommand for a non-multiple, InsufficientPoints when short."""

    credit = credit_for(chart, command.points)
    customer = command.customer
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            **spend_vars(chart, buckets, customer=customer, points=command.points, at=command.at),
            "converted": chart.converted(),
            "credit": monetary(chart.money_asset, credit),
            "credit_issued": chart.credit_issued(),
            "customer_credit": chart.credit(customer),
        },
        metadata={
            "customer": customer,
            "conversion_id": command.conversion_id,
            "points": str(command.points),
            "credit": str(from_minor(credit, chart.money_asset)),
            "currency": chart.money_currency,
        },
        timestamp=command.at,
    )


OPERATION: Operation[ConvertCommand, list[BucketBalance]] = Operation(
    command=ConvertCommand,
    templates=(TEMPLATE,),
    read=customer_buckets,
    watch=buckets_watched,
    plan=plan,
    writes=Writes(
        required=frozenset({"customer", "conversion_id", "points", "credit", "currency"}), business_key="conversion_id"
    ),
)
