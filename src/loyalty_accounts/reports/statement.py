"""Customer statement: a customer's points between two instants, movement by movement, and what expires soon after.

Opening and closing are the customer's subtree aggregated at pit ``start``
and pit ``end``; the movements are the transactions touching the customer's
accounts in ``(start, end]``, each with its net effect on the customer's
points and the running balance. A reversal is named after what it reverts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Mapping, Sequence

from ..chart import Chart
from ..errors import InvalidCommand, UnknownEntity
from ..operations import OPERATIONS, OpenControlCommand
from ..ports import LedgerPort
from ..types import AccountState, PostedTransaction
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import customer_id
from ..vocabulary.instants import utc
from .common import (
    ONE_MICROSECOND,
    Clock,
    Windowed,
    dated_points,
    points_of,
    read_dated_positions,
    window,
    windowed,
)
from .reverts import REVERT_METADATA_KEY, revert_targets

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "CustomerStatement",
    "ExpiringPoints",
    "StatementLine",
    "customer_statement",
    "read_statement",
]

DEFAULT_HORIZON_DAYS = 30
MAX_HORIZON_DAYS = 36_600
"""A century: a longer look ahead for expiring points runs past the calendar."""


class StatementLine(Frozen):
    timestamp: datetime
    transaction_id: int
    operation: str
    business_key: str
    reference: str | None
    points: int
    """Net change of the customer's points (all their points accounts)."""
    balance: int


class ExpiringPoints(Frozen):
    expires_on: date
    state: str
    points: int
    kind: str = "base"
    """Kind of point (base, bonus, transferred): each kind has its own expiry period."""


class CustomerStatement(Windowed):
    customer: str
    opening_points: int
    closing_points: int
    lines: tuple[StatementLine, ...]
    expiring: tuple[ExpiringPoints, ...]
    horizon_days: int

    @property
    def difference(self) -> int:
        return self.closing_points - self.opening_points - sum(line.points for line in self.lines)

    @property
    def ties(self) -> bool:
        return self.difference == 0


def _business_key(tx: PostedTransaction) -> str:
    operation = tx.metadata.get("operation", "")
    entry = OPERATIONS.get(operation)
    key = entry.writes.business_key if entry is not None else None
    if key and tx.metadata.get(key):
        return tx.metadata[key]
    return tx.reference or ""


def points_change(chart: Chart, tx: PostedTransaction, customer: str) -> int:
    """Points (the chart's points asset) a transaction moved into the customer's accounts, less what it moved out."""

    asset = chart.points_asset
    moved_in = sum(p.amount for p in tx.postings if p.asset == asset and chart.customer_of(p.destination) == customer)
    moved_out = sum(p.amount for p in tx.postings if p.asset == asset and chart.customer_of(p.source) == customer)
    return moved_in - moved_out


def customer_statement(
    *,
    customer: str,
    start: datetime | None,
    end: datetime,
    chart: Chart,
    opening: int,
    closing: int,
    transactions: Sequence[PostedTransaction],
    originals: Mapping[int, PostedTransaction],
    positions: Sequence[AccountState],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> CustomerStatement:
    """A customer's points between two instants, with what expires soon after ``end``.

    ``transactions`` touch the customer's accounts in ``(start, end]``;
    ``originals`` holds the transactions reverted by reversals among them;
    ``positions`` are the customer's buckets and pending accounts at ``end``.
    """

    reverts = revert_targets(list(transactions) + [t for t in originals.values() if t.id not in {x.id for x in transactions}])
    lines: list[StatementLine] = []
    running = opening
    for tx in sorted(transactions, key=lambda t: (t.timestamp, t.id)):
        delta = points_change(chart, tx, customer)
        running += delta
        if tx.id in reverts:
            original = originals.get(reverts[tx.id]) or next((t for t in transactions if t.id == reverts[tx.id]), None)
            what = original.metadata.get("operation", "") if original else ""
            operation = f"revert of {what}" if what else "revert"
            key = f"#{reverts[tx.id]}" + (f" {_business_key(original)}" if original and _business_key(original) else "")
        else:
            operation = tx.metadata.get("operation") or "(none)"
            key = _business_key(tx)
        lines.append(
            StatementLine(
                timestamp=tx.timestamp,
                transaction_id=tx.id,
                operation=operation,
                business_key=key,
                reference=tx.reference,
                points=delta,
                balance=running,
            )
        )

    today = chart.local_date(utc(end))
    limit = today + timedelta(days=horizon_days)
    expiring: dict[tuple[date, str, str], int] = defaultdict(int)
    for dated in dated_points(chart, positions):
        if dated.customer == customer and today < dated.expiry <= limit:
            state = "spendable" if dated.kind == "customer_points" else "pending"
            expiring[(dated.expiry, state, dated.point_kind)] += dated.points
    return CustomerStatement(
        customer=customer,
        **windowed(chart, start, end),
        opening_points=opening,
        closing_points=closing,
        lines=tuple(lines),
        expiring=tuple(ExpiringPoints(expires_on=d, state=s, points=p, kind=k) for (d, s, k), p in sorted(expiring.items())),
        horizon_days=horizon_days,
    )


def read_statement(
    ledger: LedgerPort,
    chart: Chart,
    customer: str,
    start: datetime | None,
    end: datetime | None,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    clock: Clock,
) -> CustomerStatement:
    """A customer's statement over ``(start, end]`` (default: from the beginning to now).

    Raises UnknownEntity for a customer the ledger has never seen (as ``balance`` does).
    """

    customer_id(customer)
    if not 0 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidCommand(f"horizon must be 0 to {MAX_HORIZON_DAYS} days, got {horizon_days}")
    start, end = window(start, end, clock)
    subtree = chart.customer_filter(customer)
    opening = points_of(chart, ledger.aggregate_balances(subtree, pit=start)) if start is not None else 0
    closing = points_of(chart, ledger.aggregate_balances(subtree, pit=end))
    # The opening of the customer's sequence counter moves no points: not a movement of the statement.
    transactions = [
        tx
        for tx in ledger.transactions(
            account=subtree,
            start=start + ONE_MICROSECOND if start is not None else None,
            end=end + ONE_MICROSECOND,
        )
        if tx.metadata.get("operation") != OpenControlCommand.operation
    ]
    if not transactions and not opening and not closing and next(iter(ledger.accounts(subtree)), None) is None:
        raise UnknownEntity(f"customer {customer} has no accounts in the ledger")
    listed = {tx.id for tx in transactions}
    originals: dict[int, PostedTransaction] = {}
    for tx in transactions:
        marker = tx.metadata.get(REVERT_METADATA_KEY, "")
        if marker.isdigit() and int(marker) not in listed:
            originals[int(marker)] = ledger.get_transaction(int(marker))
    positions = read_dated_positions(ledger, chart, end, customer=customer)
    return customer_statement(
        customer=customer,
        start=start,
        end=end,
        chart=chart,
        opening=opening,
        closing=closing,
        transactions=transactions,
        originals=originals,
        positions=positions,
        horizon_days=horizon_days,
    )
