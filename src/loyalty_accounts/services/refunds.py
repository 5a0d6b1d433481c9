"""Refunds: take back the points an order earned, in proportion to the amount refunded.

The plan (:mod:`loyalty_accounts.operations.refund`) reverses what the
cumulative refunded amount calls for, less what earlier refunds reversed. A
refund too small to reverse a whole point posts no transaction, yet its amount
must count towards later refunds of the order (three refunds of a third each
reverse everything): it is recorded as metadata on the order's earn
transaction, under its refund id.
"""

from __future__ import annotations

from ..errors import DuplicateOperation
from ..operations import RefundCommand
from ..operations.base import refuse_personal_fields
from ..operations.earn import find_earn
from ..operations.refund import SMALL_REFUND_NOTE, small_refund_hash, small_refund_note
from .executor import Executor
from .results import OperationResult


class RefundService:
    """Refunds over the executor's ledger."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def refund(self, command: RefundCommand) -> OperationResult:
        """Reverse the order's points in proportion to the refunded amount.

        A refund too small to reverse a whole point posts no transaction, yet
        its amount must count towards later refunds of the order (three
        refunds of a third each reverse everything). It is recorded as
        metadata on the order's earn transaction, under its refund id.
        """

        executor = self._executor
        refuse_personal_fields(command, executor.personal_data)  # before the lookup's messages name them
        earn_tx = find_earn(executor.reading, command.order_id)
        recorded = small_refund_hash(earn_tx.metadata, command.refund_id)
        if recorded is not None:
            if recorded != command.fingerprint():
                raise DuplicateOperation(f"refund {command.refund_id} was already recorded with different content")
            return OperationResult(
                operation=command.operation, reference=command.reference(), replayed=True, points=0, note=SMALL_REFUND_NOTE
            )
        result = executor.run(command)
        if not result.transactions:
            executor.ledger.add_transaction_metadata(
                earn_tx.id, small_refund_note(command), schema_version=executor.schema_version
            )
        return result
