"""Periods: close the books through an instant, and list the closes recorded on the ledger.

A close is a transaction (:mod:`loyalty_accounts.operations.period_close`)
moving the closed-period mark that every guarded transaction checks inside
its post, so after it nothing dated at or before the instant can be posted,
by this process or any other.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..operations.guard import read_closed_through
from ..operations.period_close import PeriodCloseCommand
from ..types import PostedTransaction
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import parse_instant
from .executor import Executor
from .results import OperationResult


class PeriodClose(Frozen):
    """One close: the instant it closes through, and the ledger transaction recording it (dated when it was made)."""

    through: datetime
    closed_at: datetime
    transaction_id: int

    @classmethod
    def of(cls, tx: PostedTransaction) -> "PeriodClose":
        """The close a ``period_close`` transaction records (its ``closed_through`` metadata)."""

        return cls(
            through=parse_instant(tx.metadata["closed_through"], timezone.utc, what="closed_through"),
            closed_at=tx.timestamp,
            transaction_id=tx.id,
        )


class PeriodService:
    """Period closes over the executor's ledger."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def close(self, through: datetime) -> OperationResult:
        """Close the books through ``through`` (inclusive).

        Raises InvalidCommand when ``through`` is not before now (the
        present cannot be closed while operations are dated at it), and
        OperationRefused when the books are already closed through it or a
        later instant. Closing through the same instant again is a replay.
        """

        return self._executor.run(PeriodCloseCommand(through=through))

    def closed_through(self) -> datetime | None:
        """The instant the books are closed through; None when nothing is closed."""

        return read_closed_through(self._executor.reading)

    def closes(self) -> list[PeriodClose]:
        """Every close recorded on the ledger, in the order they were made."""

        txs = self._executor.ledger.transactions(metadata={"operation": PeriodCloseCommand.operation})
        return sorted((PeriodClose.of(tx) for tx in txs), key=lambda close: close.transaction_id)
