"""A real ledger client that lets another caller commit between two reads of one plan.

A plan reads an account's balance and then its transactions dated after the
operation's instant (:meth:`loyalty_accounts.operations.reading.Reading.timelines`,
``stock_at``): two requests. Another operation committing between them is read
in the history but not in the balance. On the real server that window is a few
milliseconds wide; this client opens it on purpose, so a test can make the
interleaving happen every time.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.types import PostedTransaction


class CommitBeforeHistory(LedgerClient):
    """A ledger client whose first listing of the transactions of ``account`` (an address or filter) runs
    ``meanwhile`` first (another caller's post, on its own client); ``interleaved`` says whether it ran."""

    def __init__(self, connection: LedgerConnection, account: str, meanwhile: Callable[[], object]) -> None:
        super().__init__(connection)
        self.watched = account
        self.meanwhile = meanwhile
        self.interleaved = False

    def transactions(self, *, account: str | None = None, **query: Any) -> Iterator[PostedTransaction]:
        """The listing of :meth:`LedgerClient.transactions`, after ``meanwhile`` the first time it is of ``account``."""

        if account == self.watched and not self.interleaved:
            self.interleaved = True
            self.meanwhile()
        return super().transactions(account=account, **query)
