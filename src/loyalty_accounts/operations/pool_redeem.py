"""Pool redeem: a member spends points on a reward a partner pool funds (template ``pool_redeem``).

One transaction: the points leave the customer's spendable buckets
(soonest-expiring first) for ``program:points:redeemed``, as a redemption
does, and the reward is settled with the pool's member partners: the draw of
the same number of points is charged to them by the pool's distribution
(:mod:`.pool`), each charge moving from the partner's funds in the pool to
its ``redeemed`` account. The ledger refuses the post if a bucket or any
partner's funds would go negative.

Worked example, pool travel (skyway share 3, cityrail share 1), c42 with bucket
20270601: 50 redeems 10 points (r-1)::

    customers:c42:points:20270601        -10 PTS → program:points:redeemed                +10 PTS
    pools:travel:partners:skyway:funds    -8 PTS → pools:travel:partners:skyway:redeemed   +8 PTS
    pools:travel:partners:cityrail:funds    -2 PTS → pools:travel:partners:cityrail:redeemed   +2 PTS
    pools:travel:sequence                 -1 CTL → program:control:sequence                 +1   (pool counter, see .pool)

    reference "pool_redeem:r-1"; metadata charges "cityrail=2,skyway=8"

A ``reward`` the rules' catalogue lists is held to it (its price; a physical
one is refused, since a pool redemption takes no stock) and recorded as a
catalogue redemption records it: metadata ``reward`` (the SKU) and
``reward_type`` (its type), so the programme analytics' redemption by reward
type counts it. Any other ``reward`` is a free label: ``reward`` only.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from ..chart import Chart
from ..errors import InvalidCommand, OperationRefused
from ..numscript import Catalogue
from ..rules.review import ReviewFacts, ReviewPolicy
from ..types import TransactionPlan
from ..vocabulary.ids import BusinessKey
from .base import plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
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
from .reading import Reading, buckets_watched, customer_buckets
from .redeem_review import review_facts
from .spend import spend_vars

TEMPLATE = "pool_redeem"


class State(NamedTuple):
    """What a pool redemption is planned from (a plain ``(buckets, pool)`` pair reads as one without a reward type)."""

    buckets: Sequence[BucketBalance]
    """The customer's buckets as of the command's instant."""
    pool: PoolFunds
    """The pool's count and what each member can give then."""
    reward_type: str | None = None
    """The type of the catalogue reward the command names (None: no reward, or a label the catalogue does not list)."""
    review: ReviewPolicy | None = None
    """The rules' review section (None: the rules declare none)."""
    facts: ReviewFacts | None = None
    """What the review rules judge about the member, read with the rest (None without a review section)."""


class PoolRedeemCommand(PoolDrawCommand):
    """A customer spends ``points`` on a reward funded by ``pool``; ``redemption_id`` is the business key."""

    operation = "pool_redeem"
    key_field = "redemption_id"
    redemption_id: BusinessKey
    reward: BusinessKey | None = None


def read(command: PoolRedeemCommand, reading: Reading) -> State:
    """The customer's buckets, the pool's count and funds, and the type of the catalogue reward named (if any).

    The pool is checked first (InvalidCommand, nothing else read). A ``reward`` the rules' catalogue lists
    is held to it (InvalidCommand, nothing else read): ``points`` must be its price, and a physical one is
    refused, since a pool redemption takes no unit of stock.
    """

    reading.chart.pool(command.pool)
    reward_type = _check_catalogue_reward(command, reading)
    buckets, funds = customer_buckets(command, reading), pool_funds(command, reading)
    policy = reading.rules.review if reading.rules is not None else None
    if policy is None:
        return State(buckets, funds, reward_type)
    return State(buckets, funds, reward_type, policy, review_facts(command, reading, policy, points=command.points))


def _check_catalogue_reward(command: PoolRedeemCommand, reading: Reading) -> str | None:
    """The type of the catalogue reward the command names, held to its price; None when the catalogue does not list it."""

    rules = reading.rules
    catalogue = rules.catalogue if rules is not None else None
    reward = catalogue.find(command.reward) if catalogue is not None and command.reward is not None else None
    if catalogue is None or reward is None:
        return None
    if reward.physical:
        raise InvalidCommand(
            f"reward {reward.sku} is physical and a pool redemption takes no stock: "
            f"redeem it with `loyalty redeem --reward {reward.sku}`"
        )
    price = catalogue.price(reward)
    if command.points != price:
        raise InvalidCommand(f"reward {reward.sku} costs {price} points, not {command.points}")
    return reward.type


def plan(
    command: PoolRedeemCommand, chart: Chart, catalogue: Catalogue, state: State | tuple[Sequence[BucketBalance], PoolFunds]
) -> TransactionPlan:
    """The redemption; InsufficientPoints when the customer's buckets or the pool cannot cover it;
    OperationRefused when the rules' review section would hold it (a pool redemption is not held for review,
    and never goes round it: it is refused, and counts toward the velocity rules like any redemption).

    Metadata: the draw's (:func:`~.pool.draw_metadata`), ``reward`` when the command names one, and
    ``reward_type`` when the read found it in the catalogue.
    """

    buckets, pool, reward_type, policy, facts = State(*state)
    if policy is not None and facts is not None and (reasons := policy.reasons(command.points, facts)):
        raise OperationRefused(
            f"pool redemption {command.redemption_id} of {command.points} points needs review "
            f"({', '.join(reasons)}), and a pool redemption is not held for review: nothing was posted"
        )
    charges = distribute(command.pool, chart.pool(command.pool), command.points, pool.funds)
    spent = spend_vars(chart, buckets, customer=command.customer, points=command.points, at=command.at)
    metadata = draw_metadata(command, charges, "redemption_id")
    if command.reward is not None:
        metadata["reward"] = command.reward
    if reward_type is not None:
        metadata["reward_type"] = reward_type
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            **spent,
            "redeemed": chart.redeemed(),
            **charge_vars(chart, command.pool, charges, "redeemed"),
            **sequence_vars(chart, command.pool, pool.count),
        },
        metadata=metadata,
        timestamp=command.at,
    )


OPERATION: Operation[PoolRedeemCommand, State] = Operation(
    command=PoolRedeemCommand,
    templates=(TEMPLATE,),
    read=read,
    watch=buckets_watched,
    plan=plan,
    setup=lambda command, chart, catalogue, state: open_pool_sequence(command, chart, catalogue, state[1].count),
    writes=Writes(
        required=POOL_KEYS | {"customer", "redemption_id"},
        optional=frozenset({"reward", "reward_type"}),
        business_key="redemption_id",
    ),
)
