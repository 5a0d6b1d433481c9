"""A chunk's reads, made once for all its customers: what an import prices its orders from.

Pricing an earn reads, per customer, a handful of things (the sequence
counter, qualifying volumes as of the order, the usage accounts of capped
campaigns, the accounts and later transactions the clawback balance is
worked out from): several requests per order. :class:`ChunkBook` reads them
for a whole chunk of customers in two listings (every account of those
customers with its current volumes, campaign usage included; every
transaction touching them dated from the chunk's earliest order on) and
answers the single earn's reads
(:class:`~loyalty_accounts.operations.reading.LedgerReader`) from them,
exactly as the ledger would: a balance as of an instant is the current
balance less the changes dated after it (:mod:`loyalty_accounts.operations.timeline`).

Any read it cannot answer exactly from what it holds (another filter, a
point-in-time read, an instant before the earliest order) goes to the
ledger itself, so the answers are always the ledger's; only fewer requests
are made. A book is made after the chunk's guard has been read and lives for
one planning round: what it holds is the state the guard's sequence legs
then check at posting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from ..chart import Chart, address_matches
from ..errors import UnknownEntity
from ..operations.guard import microseconds
from ..operations.reading import LedgerReader
from ..types import AccountState, PostedTransaction, VolumeRow

_TICK = timedelta(microseconds=1)


@runtime_checkable
class BatchReader(Protocol):
    """Transactions over several address filters and metadata values at once (``LedgerClient`` has them)."""

    def transactions_any(
        self,
        *,
        accounts: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
        metadata_any: tuple[str, Sequence[str]] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[PostedTransaction]: ...


class ChunkBook:
    """The reads of an earn for ``customers``, from two listings (see the module docstring)."""

    def __init__(
        self,
        ledger: LedgerReader,
        chart: Chart,
        customers: Iterable[str],
        *,
        since: datetime,
    ) -> None:
        self.ledger = ledger
        self.chart = chart
        self.customers = tuple(dict.fromkeys(customers))
        self.since = since
        self._filters = {chart.customer_filter(c): c for c in self.customers}
        # "customers:c42:" of "customers:c42:...": a filter starting so matches only the customer's accounts.
        self._roots = tuple(f.removesuffix("...") for f in self._filters if f.endswith(":..."))
        filters = list(self._filters)
        batch = ledger if isinstance(ledger, BatchReader) else None
        accounts = list(ledger.accounts(filters)) if filters else []
        if batch is not None:
            later = list(batch.transactions_any(accounts=filters, start=since))
        else:
            later = _unique(tx for f in filters for tx in ledger.transactions(account=f, start=since))
        self._accounts = {a.address: a for a in accounts}
        self._later = sorted(later, key=lambda tx: tx.id)
        self._others: dict[str, AccountState | None] = {}

    # -- which reads it holds ----------------------------------------------------

    def _owner(self, address: str) -> str | None:
        for address_filter, customer in self._filters.items():
            if address_matches(address, address_filter):
                return customer
        return None

    def latest(self, customer: str) -> int:
        """The instant (µs since the epoch) of the customer's latest transaction dated from ``since`` on; 0: none.

        With none, every transaction of the customer is dated before
        ``since``, so before each of the chunk's orders: what the guard's
        horizon leg needs (see :func:`~loyalty_accounts.operations.guard.resolve_latest`).
        """

        address_filter = self.chart.customer_filter(customer)
        return max((microseconds(tx.timestamp) for tx in self._later if _touches(tx, address_filter)), default=0)

    def current(self, filters: Sequence[str]) -> dict[str, AccountState]:
        """The accounts of the book's customers matching any of ``filters``, with their current volumes."""

        return {a: state for a, state in self._accounts.items() if any(address_matches(a, f) for f in filters)}

    def _covers(self, address_filter: str) -> bool:
        """Every address the filter matches is one of the book's customers' (so the book holds it)."""

        return any(address_filter.startswith(root) for root in self._roots)

    # -- LedgerReader ---------------------------------------------------------------

    def find_by_reference(self, reference: str) -> PostedTransaction | None:
        return self.ledger.find_by_reference(reference)

    def get_transaction(self, tx_id: int) -> PostedTransaction:
        return self.ledger.get_transaction(tx_id)

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        if pit is None and self._owner(address) is not None:
            found = self._accounts.get(address)
            if found is None:
                raise UnknownEntity(f"account {address} has never been used")
            return found
        if pit is None:
            # Another account (the closed-period mark): read once for the book's life.
            if address not in self._others:
                try:
                    self._others[address] = self.ledger.account(address)
                except UnknownEntity:
                    self._others[address] = None
            held = self._others[address]
            if held is None:
                raise UnknownEntity(f"account {address} has never been used")
            return held
        return self.ledger.account(address, pit=pit)

    def accounts(self, address_filter: str | Sequence[str], *, pit: datetime | None = None) -> Iterator[AccountState]:
        filters = [address_filter] if isinstance(address_filter, str) else list(address_filter)
        if pit is not None or not all(self._covers(f) for f in filters):
            return self.ledger.accounts(address_filter, pit=pit)
        return iter([a for address, a in sorted(self._accounts.items()) if any(address_matches(address, f) for f in filters)])

    def transactions(
        self,
        *,
        account: str | None = None,
        metadata: Mapping[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        pit: datetime | None = None,
    ) -> Iterator[PostedTransaction]:
        if pit is None and account is not None and not metadata and start is not None and start >= self.since:
            if self._covers(account):
                return iter([tx for tx in self._later if _in(tx, start, end) and _touches(tx, account)])
        return self.ledger.transactions(account=account, metadata=metadata, start=start, end=end, pit=pit)

    def volumes(
        self,
        address_filter: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        group_by: int | None = None,
        insertion_date: bool = False,
    ) -> list[VolumeRow]:
        exact = (
            address_filter is not None
            and start is None
            and end is not None
            and group_by is None
            and not insertion_date
            and end + _TICK >= self.since
            and self._covers(address_filter)
        )
        if not exact:
            return self.ledger.volumes(address_filter, start=start, end=end, group_by=group_by, insertion_date=insertion_date)
        assert address_filter is not None and end is not None
        rows = []
        for address, state in sorted(self._accounts.items()):
            if not address_matches(address, address_filter):
                continue
            for asset, volume in sorted(state.volumes.items()):
                # What was dated after ``end`` is taken back out of the current volumes.
                received = sent = 0
                for tx in self._later:
                    if tx.timestamp > end:
                        for p in tx.postings:
                            if p.asset == asset and p.destination == address:
                                received += p.amount
                            if p.asset == asset and p.source == address:
                                sent += p.amount
                inputs, outputs = volume.input - received, volume.output - sent
                if inputs == 0 and outputs == 0:
                    continue  # no movement by ``end``: the ledger does not list it either
                rows.append(VolumeRow(account=address, asset=asset, input=inputs, output=outputs, balance=inputs - outputs))
        return rows


def _in(tx: PostedTransaction, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or tx.timestamp >= start) and (end is None or tx.timestamp < end)


def _touches(tx: PostedTransaction, address_filter: str) -> bool:
    return any(address_matches(p.source, address_filter) or address_matches(p.destination, address_filter) for p in tx.postings)


def _unique(transactions: Iterable[PostedTransaction]) -> list[PostedTransaction]:
    return list({tx.id: tx for tx in transactions}.values())
