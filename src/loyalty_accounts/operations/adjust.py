"""Adjust: a manual correction, with a mandatory reason code (templates ``adjust_credit`` / ``adjust_debit``).

A credit issues points from ``program:points:adjustments`` (which may go
negative) into the bucket of today's expiry date, or of ``expires_on`` when
given. A debit takes points from the customer's spendable buckets (FIFO)
into ``program:points:adjustments``. The reason is a short code such as
``goodwill`` or ``migration``, never free text: metadata must not carry
personal data.

Worked example, on 2026-06-01 with expiry 365 days, a goodwill credit of 50
(a-1), then a debit of 30 (a-2) from buckets 20260930: 10, 20270601: 50::

    program:points:adjustments    -50 → customers:c42:points:20270601  +50
    customers:c42:points:20260930 -10 → program:points:adjustments     +30
    customers:c42:points:20270601 -20 ↗

    references "adjust:a-1", "adjust:a-2"; metadata customer, adjustment_id,
    direction, points, reason (and expires_at for a credit)
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Sequence

from pydantic import model_validator

from ..chart import Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, VarValue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.ids import BusinessKey, CustomerId, ReasonCode
from ..vocabulary.instants import Instant, iso_day
from .base import Command, plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
from .reading import Reading
from .spend import spend_vars

CREDIT_TEMPLATE = "adjust_credit"
DEBIT_TEMPLATE = "adjust_debit"


class AdjustCommand(Command):
    """Credit or debit ``points`` of a customer for a stated reason."""

    operation = "adjust"
    key_field = "adjustment_id"
    customer: CustomerId
    adjustment_id: BusinessKey
    direction: Literal["credit", "debit"]
    points: Points
    reason: ReasonCode
    at: Instant
    expires_on: date | None = None

    @model_validator(mode="after")
    def _expiry_only_on_credit(self) -> "AdjustCommand":
        if self.direction == "debit" and self.expires_on is not None:
            raise ValueError("expires_on applies to a credit only")
        return self


def plan(
    command: AdjustCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance] = ()
) -> TransactionPlan:
    """The adjustment; a debit needs the customer's buckets and may raise InsufficientPoints."""

    customer, asset = command.customer, chart.points_asset
    today = chart.local_date(command.at)
    metadata = {
        "customer": customer,
        "adjustment_id": command.adjustment_id,
        "direction": command.direction,
        "points": str(command.points),
        "reason": command.reason,
    }
    if command.direction == "credit":
        expiry = command.expires_on if command.expires_on is not None else chart.expiry_for(today)
        if expiry is not None and expiry <= today:
            raise InvalidCommand(f"expires_on {expiry} is not after {today}: the points would be born expired")
        metadata["expires_at"] = iso_day(expiry)
        template = CREDIT_TEMPLATE
        values: dict[str, VarValue] = {
            "points": monetary(asset, command.points),
            "adjustments": chart.adjustments(),
            "bucket": chart.bucket(customer, expiry),
        }
    else:
        template = DEBIT_TEMPLATE
        values = {
            **spend_vars(chart, buckets, customer=customer, points=command.points, at=command.at),
            "adjustments": chart.adjustments(),
        }
    return plan_command(
        command,
        chart,
        catalogue,
        template=template,
        values=values,
        metadata=metadata,
        timestamp=command.at,
    )


def read(command: AdjustCommand, reading: Reading) -> list[BucketBalance]:
    """A debit's state is the customer's buckets as of the adjustment's instant; a credit reads nothing."""

    return reading.at(command.at).buckets(command.customer) if command.direction == "debit" else []


OPERATION: Operation[AdjustCommand, list[BucketBalance]] = Operation(
    command=AdjustCommand,
    templates=(CREDIT_TEMPLATE, DEBIT_TEMPLATE),
    read=read,
    watch=lambda command, chart: (chart.buckets_filter(command.customer),) if command.direction == "debit" else (),
    plan=plan,
    writes=Writes(
        required=frozenset({"customer", "adjustment_id", "direction", "points", "reason"}),
        optional=frozenset({"expires_at"}),
        business_key="adjustment_id",
    ),
)
