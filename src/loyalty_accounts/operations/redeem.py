"""Redeem: spend points on a reward (template ``redeem``).

The points leave the customer's spendable buckets soonest-expiring first for
``program:points:redeemed``. Buckets already due for expiry are not offered.

Worked example, on 2026-06-01, buckets 20260930: 50 and noexpiry: 40,
redemption r-5 of 70 points::

    customers:c42:points:20260930  -50 → program:points:redeemed  +70
    customers:c42:points:noexpiry  -20 ↗

    reference "redeem:r-5"; metadata customer=c42, redemption_id=r-5, points=70
"""

from __future__ import annotations

from typing import Sequence

from ..chart import Chart
from ..numscript import Catalogue
from ..types import TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.ids import BusinessKey, CustomerId
from ..vocabulary.instants import Instant
from .base import Command, plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
from .reading import buckets_watched
from .redeem_review import HOLD_TEMPLATE, REVIEW_METADATA, Redeeming, hold_for_review, read_redeeming
from .spend import spend_vars

TEMPLATE = "redeem"


class RedeemCommand(Command):
    """Spend ``points`` of a customer; ``reward`` optionally names the catalogue item."""

    operation = "redeem"
    key_field = "redemption_id"
    customer: CustomerId
    redemption_id: BusinessKey
    points: Points
    at: Instant
    reward: BusinessKey | None = None


def plan(command: RedeemCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]) -> TransactionPlan:
    """The redemption; InsufficientPoints when the spendable buckets hold too little."""

    customer = command.customer
    spent = spend_vars(chart, buckets, customer=customer, points=command.points, at=command.at)
    metadata = {"customer": customer, "redemption_id": command.redemption_id, "points": str(command.points)}
    if command.reward is not None:
        metadata["reward"] = command.reward
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={**spent, "redeemed": chart.redeemed()},
        metadata=metadata,
        timestamp=command.at,
    )


def route(command: RedeemCommand, chart: Chart, catalogue: Catalogue, state: Redeeming) -> TransactionPlan:
    """The redemption, or its review hold when the read's verdict has reasons (InsufficientPoints either way).

    The hold records what the redemption would have (its plan's metadata) and the review's keys.
    """

    redemption = plan(command, chart, catalogue, state.buckets)
    points = int(redemption.metadata["points"])
    verdict = state.verdict_for(points, command.at)
    if not verdict.reasons:
        return redemption
    spent = spend_vars(chart, state.buckets, customer=command.customer, points=points, at=command.at)
    return hold_for_review(command, chart, catalogue, spent, verdict, metadata=redemption.metadata)


OPERATION: Operation[RedeemCommand, Redeeming] = Operation(
    command=RedeemCommand,
    templates=(TEMPLATE, HOLD_TEMPLATE),
    read=read_redeeming,
    watch=buckets_watched,
    plan=route,
    writes=Writes(
        required=frozenset({"customer", "redemption_id", "points"}),
        optional=frozenset({"reward"}) | REVIEW_METADATA,
        business_key="redemption_id",
    ),
)
