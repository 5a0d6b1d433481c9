"""Pool earn: a member earns points that a partner pool pays for (template ``pool_earn``).

One transaction: ``points`` are issued from the customer's issuance shard into
the bucket of the day's expiry date (spendable at once, as after an exchange
in: the partners have paid for them), and the draw is charged to the pool's
member partners by the pool's distribution (:mod:`.pool`): each charge moves
from the partner's funds in the pool to its ``awarded`` account. The ledger
refuses the post if any partner's funds would go negative.

Worked example, pool travel (skyway share 3, cityrail share 1), c42 earns 10
points (e-1) on 2026-06-01, expiry 365 days::

    program:points:issued:7             -10 PTS → customers:c42:points:20270601        +10 PTS
    pools:travel:partners:skyway:funds   -8 PTS → pools:travel:partners:skyway:awarded  +8 PTS
    pools:travel:partners:cityrail:funds   -2 PTS → pools:travel:partners:cityrail:awarded  +2 PTS
    pools:travel:sequence                -1 CTL → program:control:sequence              +1   (pool counter, see .pool)

    reference "pool_earn:e-1"; metadata charges "cityrail=2,skyway=8", expires_at 2027-06-01
"""

from __future__ import annotations

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.ids import BusinessKey
from ..vocabulary.instants import iso_day
from .base import plan_command
from .entry import Operation, Writes
from .pool import (
    POOL_KEYS,
    PoolDrawCommand,
    PoolFunds,
    charge_vars,
    distribute,
    draw_metadata,
    open_pool_sequence,
    pool_funds,
    sequence_vars,
)

TEMPLATE = "pool_earn"


class PoolEarnCommand(PoolDrawCommand):
    """A customer earns ``points`` from ``pool``; ``earn_id`` is the business key."""

    operation = "pool_earn"
    key_field = "earn_id"
    earn_id: BusinessKey


def plan(command: PoolEarnCommand, chart: Chart, catalogue: Catalogue, read: PoolFunds) -> TransactionPlan:
    """The earn; InvalidCommand for an undeclared pool, InsufficientPoints when the pool cannot cover the draw."""

    charges = distribute(command.pool, chart.pool(command.pool), command.points, read.funds)
    expiry = chart.expiry_for(chart.local_date(command.at))
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "points": monetary(chart.points_asset, command.points),
            "issued": chart.issued_shard(command.customer),
            "bucket": chart.bucket(command.customer, expiry),
            **charge_vars(chart, command.pool, charges, "awarded"),
            **sequence_vars(chart, command.pool, read.count),
        },
        metadata={**draw_metadata(command, charges, "earn_id"), "expires_at": iso_day(expiry)},
        timestamp=command.at,
    )


OPERATION: Operation[PoolEarnCommand, PoolFunds] = Operation(
    command=PoolEarnCommand,
    templates=(TEMPLATE,),
    read=pool_funds,
    plan=plan,
    setup=lambda command, chart, catalogue, read: open_pool_sequence(command, chart, catalogue, read.count),
    writes=Writes(required=POOL_KEYS | {"customer", "earn_id", "expires_at"}, business_key="earn_id"),
)
