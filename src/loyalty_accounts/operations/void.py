"""Void: give every point of a hold back by reverting the hold's transaction (no template).

**Void is not a plan.** Voiding a hold is a revert of the hold's transaction
(``LedgerPort.revert``): Formance posts the exact mirror image, so every point
returns to the bucket it was taken from, with its expiry, and the hold account
is left at zero. A void of a captured hold fails (the hold account is empty),
and a second void is refused by the ledger (``ALREADY_REVERT``). So it has no
registry entry: the spending service reverts, and this module holds what the
void is made of: its command (reference ``void:{hold_id}``), the metadata the
revert writes, and the points it gives back.

Worked example, hold h-9 took 50 from 20260930 and 20 from 20270331; void::

    customers:c42:holds:h-9  -50 → customers:c42:points:20260930  +50
                             -20 → customers:c42:points:20270331  +20

    metadata operation=void, customer=c42, hold_id=h-9
"""

from __future__ import annotations

from ..chart import Chart
from ..types import PostedTransaction
from ..vocabulary.ids import CustomerId, HoldId
from .base import Command


class VoidCommand(Command):
    """Void hold ``hold_id`` of ``customer``."""

    operation = "void"
    key_field = "hold_id"
    processing_fields = frozenset()
    customer: CustomerId
    hold_id: HoldId

    def metadata(self) -> dict[str, str]:
        """The metadata of the revert: the operation (a revert carries no template), the customer and the hold."""

        return {"operation": self.operation, "customer": self.customer, "hold_id": self.hold_id}


def held_points(chart: Chart, hold_tx: PostedTransaction) -> int:
    """The points the hold transaction put on hold (what its void gives back)."""

    return sum(
        p.amount
        for p in hold_tx.postings
        if (parsed := chart.parse(p.destination)) is not None and parsed.kind == "customer_hold"
    )
