"""Restock: units of a physical reward received into its stock (template ``restock``).

The units come from the reward's ``restocked`` counterpart (which goes
negative by every unit ever received) into its ``stock`` account, where
redemptions take them one at a time (:mod:`.redeem`). The restock id is the
business key: a retried restock is answered with the original transaction.

The reward's operation counter (``catalogue:{sku}:sequence``) moves one control
unit, unbounded (:mod:`.counter`): a restock only adds units, but a take
planned before it posted is refused and planned again, and the counter gets the
balance row the takes' bounded leg needs the ledger to lock.

Worked example: 3 blue mugs received under restock id rs-2026-12-01::

    catalogue:MUG-BLUE:restocked  -3 UNITS → catalogue:MUG-BLUE:stock  +3
    catalogue:MUG-BLUE:sequence   -1 CTL   → program:control:sequence  +1

    reference "restock:rs-2026-12-01"; metadata reward=MUG-BLUE, units=3, restock_id=rs-2026-12-01

Refused before anything is posted (InvalidCommand, exit 2): a SKU the
catalogue does not list, a reward that is not physical, units that are not a
positive whole number.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..rules import Reward
from ..types import TransactionPlan
from ..vocabulary.ids import BusinessKey, Sku
from ..vocabulary.instants import Instant
from .base import Command, plan_command
from .counter import unbounded_step
from .entry import Operation, Writes
from .reading import Reading
from .stock import physical_reward

TEMPLATE = "restock"
MAX_UNITS = 10**6

Units = Annotated[int, Field(gt=0, le=MAX_UNITS, strict=True)]


class RestockCommand(Command):
    """``units`` of the physical reward ``reward`` (a SKU) received into stock, under ``restock_id``."""

    operation = "restock"
    key_field = "restock_id"
    reward: Sku
    units: Units
    restock_id: BusinessKey
    at: Instant


def read(command: RestockCommand, reading: Reading) -> Reward:
    """The catalogue reward restocked; InvalidCommand when unknown or not physical."""

    return physical_reward(reading, command.reward, "a restock")


def plan(command: RestockCommand, chart: Chart, catalogue: Catalogue, reward: Reward) -> TransactionPlan:
    """The restock of ``command.units`` units of ``reward`` (its ``restocked`` → ``stock``)."""

    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "units": monetary(chart.stock_asset, command.units),
            "restocked": chart.restocked(reward.sku),
            "stock": chart.stock(reward.sku),
            **unbounded_step(chart, chart.stock_sequence(reward.sku)),
        },
        metadata={"reward": reward.sku, "units": str(command.units), "restock_id": command.restock_id},
        timestamp=command.at,
    )


OPERATION: Operation[RestockCommand, Reward] = Operation(
    command=RestockCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"reward", "units", "restock_id"}), business_key="restock_id"),
)
