"""Void: give every point of a hold back to the bucket it came from (template ``void``).

A void moves, from the hold account, exactly what the hold's own transaction
moved into it, back to each bucket it was taken from, so every point keeps its
expiry and the hold account is left at zero. It is a transaction of its own
(reference ``void:{hold_id}``), guarded like every other one (the
customer's sequence counter and the closed-period mark,
:mod:`.guard`), and dated when it is made.

Voids used to be reverts of the hold transaction. A revert mirrors *every*
posting of the original, the guard's included: it would give the customer's
sequence counter its unit back (two operations could then pass the same
count) and take from the closed-period mark, which the server refuses once
a period is closed (Formance v2.4.12 ``RevertTransaction`` refuses any
involved account left below zero, ``internal/controller/ledger/
controller_default.go``). A hold reverted that way before is still
recognised as voided (:func:`.hold.is_voided`).

Worked example, hold h-9 took 50 from 20260930 and 20 from 20270331; void::

    customers:c42:holds:h-9  -50 → customers:c42:points:20260930  +50
                             -20 → customers:c42:points:20270331  +20

    reference "void:h-9"; metadata customer=c42, hold_id=h-9, points=70
"""

from __future__ import annotations

from typing import Sequence

from ..chart import Chart
from ..errors import OperationRefused
from ..numscript import Catalogue, monetary
from ..types import Posting, PostedTransaction, TransactionPlan
from ..vocabulary.ids import CustomerId, HoldId
from .base import Command, plan_command
from .capture import is_captured
from .entry import Operation, Writes
from .hold import find_hold, is_voided
from .reading import Reading

TEMPLATE = "void"


class VoidCommand(Command):
    """Void hold ``hold_id`` of ``customer``."""

    operation = "void"
    key_field = "hold_id"
    processing_fields = frozenset()
    customer: CustomerId
    hold_id: HoldId


def held_points(chart: Chart, hold_tx: PostedTransaction) -> int:
    """The points the hold transaction put on hold (what its void gives back)."""

    return sum(p.amount for p in held_postings(chart, hold_tx))


def held_postings(chart: Chart, hold_tx: PostedTransaction) -> list[Posting]:
    """The hold transaction's postings into the hold account (bucket → hold, in points)."""

    return [
        p
        for p in hold_tx.postings
        if p.asset == chart.points_asset and (parsed := chart.parse(p.destination)) is not None and parsed.kind == "customer_hold"
    ]


def plan(command: VoidCommand, chart: Chart, catalogue: Catalogue, taken: Sequence[Posting]) -> TransactionPlan:
    """The mirror of ``taken`` (the hold's postings into its account), dated by the ledger."""

    hold = chart.hold(command.customer, command.hold_id)
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "hold": hold,
            "returned": [monetary(chart.points_asset, p.amount) for p in taken],
            "bucket": [p.source for p in taken],
        },
        metadata={"customer": command.customer, "hold_id": command.hold_id, "points": str(sum(p.amount for p in taken))},
        timestamp=None,
    )


def read(command: VoidCommand, reading: Reading) -> tuple[Posting, ...]:
    """The hold's postings into its account; OperationRefused when it was captured, voided or holds nothing."""

    hold_tx = find_hold(reading, command.customer, command.hold_id)
    if is_voided(reading, hold_tx):
        raise OperationRefused(f"hold {command.hold_id} was already voided")
    if is_captured(reading, command.hold_id):
        raise OperationRefused(f"hold {command.hold_id} was captured; it can no longer be voided")
    taken = tuple(held_postings(reading.chart, hold_tx))
    if not taken:
        raise OperationRefused(f"hold {command.hold_id} holds no points")
    return taken


OPERATION: Operation[VoidCommand, tuple[Posting, ...]] = Operation(
    command=VoidCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=plan,
    writes=Writes(required=frozenset({"customer", "hold_id", "points"}), business_key="hold_id"),
)
