"""Transfer: move points from one customer to another, never extending their life (template ``transfer``).

The allocation is computed here, FIFO over the sender's spendable buckets,
and written as one send per bucket with an explicit amount: from the
sender's bucket dated *d* to the receiver's transferred bucket dated the
earlier of *d* and the transfer day + the chart's transferred period
(:meth:`~loyalty_accounts.chart.Chart.transferred`; a chart without a
transferred kind keeps date and kind: bucket *d* to bucket *d*). A transfer
can therefore never extend the life of a point. The ledger still checks every
source (no overdraft), so a concurrent spend makes the transfer fail rather
than go negative.

Worked example, on 2026-06-01, c42 has 20260930: 50 and 20270331: 40; gives
70 to c77 (transfer t-3)::

    customers:c42:points:20260930  -50 → customers:c77:points:20260901-transferred  +50
    customers:c42:points:20270331  -20 → customers:c77:points:20260901-transferred  +20

(transferred points expiring after 3 months: both land in the bucket of
2026-09-01, the earlier date for each)

    reference "transfer:t-3"; metadata customer=c42, to_customer=c77,
    transfer_id=t-3, points=70
"""

from __future__ import annotations

from typing import Sequence

from pydantic import model_validator

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.ids import BusinessKey, CustomerId
from ..vocabulary.instants import Instant
from .base import Command, plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
from .reading import buckets_watched, customer_buckets
from .spend import take

TEMPLATE = "transfer"


class TransferCommand(Command):
    """Give ``points`` from ``customer`` to ``to_customer``."""

    operation = "transfer"
    key_field = "transfer_id"
    customer: CustomerId
    to_customer: CustomerId
    transfer_id: BusinessKey
    points: Points
    at: Instant

    @model_validator(mode="after")
    def _two_customers(self) -> "TransferCommand":
        if self.customer == self.to_customer:
            raise ValueError("a transfer needs two different customers")
        return self

    def customers(self) -> tuple[str, ...]:
        """Both customers: the transfer moves the sender's and the receiver's buckets."""

        return (self.customer, self.to_customer)


def plan(command: TransferCommand, chart: Chart, catalogue: Catalogue, buckets: Sequence[BucketBalance]) -> TransactionPlan:
    """The transfer, from the sender's bucket balances; InsufficientPoints when they fall short."""

    sender, receiver = command.customer, command.to_customer
    taken = take(chart, buckets, customer=sender, points=command.points, at=command.at)
    day = chart.local_date(command.at)
    asset = chart.points_asset
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "moved": [monetary(asset, a.points) for a in taken],
            "from_bucket": [chart.bucket(sender, a.expiry, a.kind) for a in taken],
            "to_bucket": [chart.bucket(receiver, *chart.transferred(a.expiry, a.kind, day)) for a in taken],
        },
        metadata={
            "customer": sender,
            "to_customer": receiver,
            "transfer_id": command.transfer_id,
            "points": str(command.points),
        },
        timestamp=command.at,
    )


OPERATION: Operation[TransferCommand, list[BucketBalance]] = Operation(
    command=TransferCommand,
    templates=(TEMPLATE,),
    read=customer_buckets,
    watch=buckets_watched,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "to_customer", "transfer_id", "points"}), business_key="transfer_id"),
)
