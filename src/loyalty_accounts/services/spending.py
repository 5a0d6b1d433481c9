"""Spending: holds and their capture or void, redemptions, transfers, partner exchanges, conversions, adjustments.

Every spend runs through the executor (:mod:`.executor`): its plan takes the
customer's buckets soonest-expiring first, and the ledger's overdraft check
decides, re-planned when a concurrent spend got there first. A void is not a
plan but a revert of the hold's transaction (see
:mod:`loyalty_accounts.operations.void`).
"""

from __future__ import annotations

from ..operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    TransferCommand,
    VoidCommand,
)
from ..operations.base import refuse_personal_fields
from ..operations.hold import find_hold
from ..operations.void import held_points
from ..types import PostedTransaction
from ..vocabulary import ids
from .executor import Executor
from .results import OperationResult
from .reviews import review_state


class SpendingService:
    """The operations that take points out of a customer's buckets (and exchange in, which brings partner points)."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._reading = executor.reading

    def hold(self, command: HoldCommand) -> OperationResult:
        """Reserve points under a hold id; they lapse after the chart's hold TTL unless captured."""

        return self._executor.run(command)

    def capture(self, command: CaptureCommand) -> OperationResult:
        """Spend all or part of a hold; the rest goes back to its buckets. Refused after a void or once lapsed."""

        return self._executor.run(command)

    def void(self, customer: str, hold_id: str) -> OperationResult:
        """Give every point of the hold back to the bucket it came from (a ``void`` transaction).

        A hold voided before is answered as a replay, whether by a ``void``
        transaction or (as voids were made before) by a revert of the hold;
        OperationRefused when it was captured.
        """

        command = VoidCommand(customer=ids.customer_id(customer), hold_id=ids.hold_id(hold_id))
        refuse_personal_fields(command, self._executor.personal_data)  # before the lookup's messages name them
        hold_tx = find_hold(self._reading, command.customer, command.hold_id)
        if hold_tx.reverted:
            return self._voided(command, hold_tx)
        return self._executor.run(command)

    def _voided(self, command: VoidCommand, hold_tx: PostedTransaction) -> OperationResult:
        """The answer for a hold voided before: a replay, with no transaction of its own."""

        return OperationResult(
            operation=command.operation,
            reference=command.reference(),
            replayed=True,
            points=held_points(self._reading.chart, hold_tx),
        )

    def redeem(self, command: RedeemCommand) -> OperationResult:
        """Spend points on a reward; one the rules' review section flags is held for review instead
        (``review``: ``pending``, and a note with its deadline and reasons; see :mod:`.reviews`)."""

        result = self._executor.run(command)
        if result.transactions and (state := review_state(self._reading.ledger, result.transactions[0])) is not None:
            status, note = state
            return result.model_copy(update={"review": status, "note": note})
        return result

    def transfer(self, command: TransferCommand) -> OperationResult:
        """Give points to another customer; each point keeps its expiry date."""

        return self._executor.run(command)

    def exchange_out(self, command: ExchangeOutCommand) -> OperationResult:
        """Turn points into a partner's points, with the settlement owed to the partner."""

        return self._executor.run(command)

    def exchange_in(self, command: ExchangeInCommand) -> OperationResult:
        """Turn a partner's points into ours, with the settlement the partner owes."""

        return self._executor.run(command)

    def convert(self, command: ConvertCommand) -> OperationResult:
        """Buy store credit with points."""

        return self._executor.run(command)

    def adjust(self, command: AdjustCommand) -> OperationResult:
        """A manual credit or debit of points, with a reason code."""

        return self._executor.run(command)
