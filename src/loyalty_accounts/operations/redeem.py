"""Redeem: spend points on a reward (template ``redeem``).

The points leave the customer's spendable buckets soonest-expiring first for
``program:points:redeemed``. Buckets already due for expiry are not offered.

Worked example, on 2026-06-01, buckets 20260930: 50 and noexpiry: 40,
redemption r-5 of 70 points::

    customers:c42:points:20260930  -50 → program:points:redeemed  +70
    customers:c42:points:noexpiry  -20 ↗

    reference "redeem:r-5"; metadata customer=c42, redemption_id=r-5, points=70

**A catalogue reward** (``reward`` a SKU of the rules' catalogue, see
:mod:`loyalty_accounts.rules.catalogue`) is priced by the catalogue: without
``points`` the command redeems the reward's price; with ``points`` they must
be that price. Its metadata adds ``reward`` (the SKU) and ``reward_type``. A
**physical** reward also takes one unit of its stock in the same transaction
(template ``redeem_reward``)::

    customers:c42:points:noexpiry  -1000 PTS   → program:points:redeemed     +1000
    catalogue:MUG-BLUE:stock          -1 UNITS → catalogue:MUG-BLUE:delivered   +1
    catalogue:MUG-BLUE:sequence       -1 CTL   → program:control:sequence       +1  (reward counter, see .counter)

The stock account may not go negative, so the ledger refuses the redemption
that would take a unit no longer there, whatever the concurrency; re-planned
on a fresh read of the stock, it is refused with
:class:`~loyalty_accounts.errors.OutOfStock` and nothing is posted. The take
also moves the reward's operation counter, bounded by the count read before
the stock (:mod:`.stock`, :mod:`.counter`), so a redemption dated in the past
takes only a unit in stock at its instant; a reward whose counter has no
balance row has it opened first (the operation's ``setup``). A
``reward`` the catalogue does not list is a free label when ``points`` are
given (as before the catalogue: no ``reward_type``, no stock), and refused
(InvalidCommand) without them.

A physical reward's redemption the review rules flag is held with its unit
(template ``hold_reward``, :mod:`.redeem_review`): the points and the unit
both go into the review's hold account, the unit under the same overdraft
check on the stock, so a reserved unit is one no other redemption can take.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from pydantic import model_validator

from ..chart import Chart
from ..errors import InvalidCommand, OutOfStock
from ..numscript import Catalogue, VarValue
from ..types import TransactionPlan
from ..vocabulary.amounts import Points
from ..vocabulary.ids import BusinessKey, CustomerId
from ..vocabulary.instants import Instant
from .base import Command, plan_command
from .entry import Operation, Writes
from .fifo import BucketBalance
from .reading import Reading, buckets_watched, customer_buckets
from .redeem_review import HOLD_REWARD_TEMPLATE, HOLD_TEMPLATE, REVIEW_METADATA, Redeeming, hold_for_review, review_facts
from .spend import spend_vars
from .stock import RewardPick, open_stock_sequence, pick, take_vars

TEMPLATE = "redeem"
REWARD_TEMPLATE = "redeem_reward"


class RedeemCommand(Command):
    """Spend ``points`` of a customer, or the price of the catalogue reward ``reward`` (a SKU).

    ``reward`` without ``points``: the catalogue prices it. A ``reward`` the
    catalogue does not list, with ``points``, is a free label.
    """

    operation = "redeem"
    key_field = "redemption_id"
    # Unset when the catalogue prices the reward: the command is the SKU, not the price it had then.
    optional_fields = frozenset({"points"})
    customer: CustomerId
    redemption_id: BusinessKey
    points: Points | None = None
    at: Instant
    reward: BusinessKey | None = None

    def recorded_by(self, metadata: Mapping[str, str]) -> bool:
        """A catalogue reward's redemption is the same whether its points were given or left to the catalogue:
        ``--reward SKU`` and ``--reward SKU -p P`` where the transaction recorded that reward at P points."""

        if super().recorded_by(metadata):
            return True
        if self.reward is None or metadata.get("reward") != self.reward or "reward_type" not in metadata:
            return False
        recorded = metadata.get("points", "")
        if self.points is None:
            other = self.model_copy(update={"points": int(recorded)}) if recorded.isdigit() else None
        else:
            other = self.model_copy(update={"points": None}) if str(self.points) == recorded else None
        return other is not None and other.fingerprint() == metadata.get("command_hash")

    @model_validator(mode="after")
    def _priced(self) -> "RedeemCommand":
        if self.points is None and self.reward is None:
            raise ValueError("give the points, or a catalogue reward (its SKU) to be priced by the catalogue")
        return self


class RedeemState(Redeeming):
    """What a redemption is planned from: the customer's buckets, what the review rules judge (see
    :class:`~.redeem_review.Redeeming`), and the catalogue reward it names (if any)."""

    reward: RewardPick | None = None


def read(command: RedeemCommand, reading: Reading) -> RedeemState:
    """The catalogue reward (price; stock at the command's instant when physical), then the buckets.

    InvalidCommand for a ``reward`` without ``points`` that the catalogue does not list (read first:
    nothing else is read for it).
    """

    chosen = pick(reading, command.reward, command.at) if command.reward is not None else None
    if chosen is None and command.points is None:
        reading.require_rules("a redemption priced by the catalogue").require_catalogue().reward(str(command.reward))
    buckets = tuple(customer_buckets(command, reading))
    policy = reading.rules.review if reading.rules is not None else None
    if policy is None:
        return RedeemState(buckets=buckets, reward=chosen)
    points = chosen.points if chosen is not None else command.points
    assert points is not None, "RedeemCommand has points or a reward the read priced"
    return RedeemState(buckets=buckets, reward=chosen, policy=policy, facts=review_facts(command, reading, policy, points=points))


def plan(
    command: RedeemCommand, chart: Chart, catalogue: Catalogue, state: Redeeming | Sequence[BucketBalance]
) -> TransactionPlan:
    """The redemption (a bare bucket list: one without a catalogue reward).

    Raises InvalidCommand when ``points`` disagree with the reward's price, OutOfStock when a physical
    reward's stock has no unit at the command's instant, InsufficientPoints when the spendable buckets
    hold too little.
    """

    buckets, chosen = (state.buckets, getattr(state, "reward", None)) if isinstance(state, Redeeming) else (tuple(state), None)
    command = priced_by_catalogue(command, chosen)
    points = command.points
    if chosen is not None:
        points = chosen.points
        if chosen.physical and not chosen.stock:
            raise OutOfStock(f"reward {chosen.sku} is out of stock: {command.reference()} was not posted")
    assert points is not None, "RedeemCommand has points or a reward the read priced"
    customer = command.customer
    values = {**spend_vars(chart, buckets, customer=customer, points=points, at=command.at), "redeemed": chart.redeemed()}
    metadata = {"customer": customer, "redemption_id": command.redemption_id, "points": str(points)}
    if command.reward is not None:
        metadata["reward"] = command.reward
    if chosen is not None:
        metadata["reward_type"] = chosen.reward_type
    physical = chosen is not None and chosen.physical
    if physical:
        assert chosen is not None
        values.update(take_vars(chart, chosen), delivered=chart.delivered(chosen.sku))
    return plan_command(
        command,
        chart,
        catalogue,
        template=REWARD_TEMPLATE if physical else TEMPLATE,
        values=values,
        metadata=metadata,
        timestamp=command.at,
    )


def priced_by_catalogue(command: RedeemCommand, chosen: RewardPick | None) -> RedeemCommand:
    """The command as its transaction records it: a catalogue reward's points left to the catalogue, so that
    ``--reward SKU -p P`` (P its price) and ``--reward SKU`` are one command (one ``command_hash``).

    InvalidCommand when the points given are not the reward's price.
    """

    if chosen is None or command.points is None:
        return command
    if command.points != chosen.points:
        raise InvalidCommand(f"reward {chosen.sku} costs {chosen.points} points, not {command.points}")
    return command.model_copy(update={"points": None})


def route(command: RedeemCommand, chart: Chart, catalogue: Catalogue, state: Redeeming) -> TransactionPlan:
    """The redemption, or its review hold when the read's verdict has reasons (InsufficientPoints either way).

    The hold records what the redemption would have (its plan's metadata, ``reward_type`` included) and
    the review's keys. A physical reward's hold (template ``hold_reward``) also moves one unit of its
    stock into the hold account, under the stock's overdraft check (OutOfStock, as the redemption).
    """

    command = priced_by_catalogue(command, getattr(state, "reward", None))
    redemption = plan(command, chart, catalogue, state)
    points = int(redemption.metadata["points"])
    verdict = state.verdict_for(points, command.at)
    if not verdict.reasons:
        return redemption
    spent: dict[str, VarValue] = {**spend_vars(chart, state.buckets, customer=command.customer, points=points, at=command.at)}
    reward = getattr(state, "reward", None)
    if reward is None or not reward.physical:
        return hold_for_review(command, chart, catalogue, spent, verdict, metadata=redemption.metadata)
    spent.update(take_vars(chart, reward))
    return hold_for_review(command, chart, catalogue, spent, verdict, metadata=redemption.metadata, template=HOLD_REWARD_TEMPLATE)


OPERATION: Operation[RedeemCommand, RedeemState] = Operation(
    command=RedeemCommand,
    templates=(TEMPLATE, REWARD_TEMPLATE, HOLD_TEMPLATE, HOLD_REWARD_TEMPLATE),
    read=read,
    watch=buckets_watched,
    plan=route,
    setup=lambda command, chart, catalogue, state: open_stock_sequence(chart, catalogue, state.reward),
    writes=Writes(
        required=frozenset({"customer", "redemption_id", "points"}),
        optional=frozenset({"reward", "reward_type"}) | REVIEW_METADATA,
        business_key="redemption_id",
    ),
)
