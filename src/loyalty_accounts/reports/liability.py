"""Liability: outstanding points by state (spendable, due, pending, held, negative, other) at an instant.

``due`` is points in buckets whose expiry date has come (the programme's
calendar day of the instant) and that the expiry sweep has not moved yet: no
longer spendable, still owed until the sweep, as ``balance`` shows them.

Read as of ``T`` (every transaction effective at or before ``T``): the
ledger's total per customer points kind, its total over the whole customer
subtree, and the customer accounts holding points listed one by one; the
statement ties when the three agree (:func:`read_liability` says which reads).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Mapping, NamedTuple, Sequence

from ..chart import Chart, expiry_of
from ..operations.fifo import is_spendable
from ..ports import LedgerPort
from ..types import AccountState
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import utc
from .common import (
    Clock,
    Valued,
    collection_paused,
    instant_or_now,
    money_value,
    nothing_dated_after,
    points_of,
    valued,
)

__all__ = [
    "STATES",
    "AccountBalance",
    "LiabilityLine",
    "LiabilityStatement",
    "liability_of",
    "liability_statement",
    "read_liability",
]


STATES: tuple[str, ...] = ("spendable", "due", "pending", "held", "negative", "other")
_STATE_OF_KIND: Mapping[str, str] = {
    "customer_points": "spendable",
    "customer_pending": "pending",
    "customer_hold": "held",
    "customer_clawback": "negative",
}
_STATE_ACCOUNTS: Mapping[str, str] = {
    "spendable": "customers:{customer}:points:{expiry}",
    "due": "customers:{customer}:points:{expiry} on or after its expiry date, not yet swept",
    "pending": "customers:{customer}:pending:{release}:{expiry}",
    "held": "customers:{customer}:holds:{hold}",
    "negative": "customers:{customer}:clawback and any customer account below zero",
    "other": "customer accounts the chart does not declare as points accounts",
}


class LiabilityLine(Frozen):
    state: str
    points: int
    value: Decimal
    customers: int
    """Customers with a non-zero balance in this state."""
    accounts: str


class AccountBalance(Frozen):
    address: str
    asset: str
    balance: int


class LiabilityStatement(Valued):
    """Outstanding points by state at an instant, valued at the chart's point value."""

    as_of: datetime
    lines: tuple[LiabilityLine, ...]
    total_points: int
    total_value: Decimal
    ledger_total_points: int
    """The ledger's own total over the customer subtree (``customers:...``) at the same instant."""
    listed_total_points: int
    """Sum of the customer accounts listed one by one at the same instant."""
    customers_with_position: int
    accounts_below_zero: tuple[AccountBalance, ...]

    @property
    def ties(self) -> bool:
        return self.total_points == self.ledger_total_points == self.listed_total_points

    @property
    def difference(self) -> int:
        return self.total_points - self.ledger_total_points


def _customer_and_kind(chart: Chart, address: str) -> tuple[str, str | None]:
    """The customer an account belongs to and its kind (None: no kind of the chart), from one parse."""

    parsed = chart.parse(address)
    if parsed is not None and "customer" in parsed.values:
        return parsed.values["customer"], parsed.kind
    parts = address.split(":")
    return (parts[1] if len(parts) > 1 else address), (parsed.kind if parsed is not None else None)


def _past_expiry(chart: Chart, address: str, today: date) -> bool:
    """A points bucket whose expiry date has come by ``today`` (no longer spendable: :func:`~..operations.fifo.is_spendable`)."""

    parsed = chart.parse(address)
    return parsed is not None and not is_spendable(expiry_of(parsed.values["expiry"]), today)


def liability_statement(
    *,
    as_of: datetime,
    chart: Chart,
    by_kind: Mapping[str, int],
    ledger_total: int,
    accounts: Sequence[AccountState],
) -> LiabilityStatement:
    """The liability statement from per-kind aggregates, the subtree total and the listed accounts.

    ``by_kind`` holds the points balance of every customer points kind
    (``customer_points``, ``customer_pending``, ``customer_hold``,
    ``customer_clawback``), each an aggregate over its address filter;
    ``ledger_total`` the aggregate over ``customers:...``; ``accounts`` every
    customer account with its volumes, all at ``as_of``. A negative balance
    in a spendable, pending or hold account is moved to the ``negative``
    line (so the other lines are what the programme owes); points in
    customer accounts of no declared points kind form the ``other`` line.
    """

    asset = chart.points_asset
    today = chart.local_date(utc(as_of))
    negative_part = {"spendable": 0, "pending": 0, "held": 0}
    due = 0
    other = 0
    listed = 0
    in_state: dict[str, set[str]] = {state: set() for state in STATES}
    position: dict[str, int] = defaultdict(int)
    below_zero: list[AccountBalance] = []
    for account in accounts:
        if asset not in account.volumes:
            continue
        balance = account.balance(asset)
        listed += balance
        customer, kind = _customer_and_kind(chart, account.address)
        position[customer] += balance
        state = _STATE_OF_KIND.get(kind or "", "other")
        if balance < 0:
            below_zero.append(AccountBalance(address=account.address, asset=asset, balance=balance))
        if state == "other":
            other += balance
        elif balance < 0 and state in negative_part:
            negative_part[state] += balance
            state = "negative"
        elif state == "spendable" and _past_expiry(chart, account.address, today):
            due += balance
            state = "due"
        if balance != 0:
            in_state[state].add(customer)

    points = {
        "spendable": by_kind.get("customer_points", 0) - negative_part["spendable"] - due,
        "due": due,
        "pending": by_kind.get("customer_pending", 0) - negative_part["pending"],
        "held": by_kind.get("customer_hold", 0) - negative_part["held"],
        "negative": by_kind.get("customer_clawback", 0) + sum(negative_part.values()),
        "other": other,
    }
    value = chart.point_value
    lines = tuple(
        LiabilityLine(
            state=state,
            points=points[state],
            value=money_value(points[state], value),
            customers=len(in_state[state]),
            accounts=_STATE_ACCOUNTS[state],
        )
        for state in STATES
    )
    total = sum(points.values())
    return LiabilityStatement(
        as_of=utc(as_of),
        **valued(chart),
        lines=lines,
        total_points=total,
        total_value=money_value(total, value),
        ledger_total_points=ledger_total,
        listed_total_points=listed,
        customers_with_position=sum(1 for p in position.values() if p != 0),
        accounts_below_zero=tuple(sorted(below_zero, key=lambda a: a.address)),
    )


def liability_of(ledger: LedgerPort, chart: Chart, pit: datetime, accounts: Sequence[AccountState]) -> LiabilityStatement:
    """The statement at ``pit`` from the customer ``accounts`` already listed at ``pit``; reads the aggregates."""

    by_kind = {
        kind: points_of(chart, ledger.aggregate_balances(chart.kind_filter(kind), pit=pit)) for kind in _STATE_OF_KIND
    }
    total = points_of(chart, ledger.aggregate_balances(chart.customer_filter(), pit=pit))
    return liability_statement(as_of=pit, chart=chart, by_kind=by_kind, ledger_total=total, accounts=accounts)


class _Totals(NamedTuple):
    """Points moved into and out of a set of accounts, and their balance, by the ledger's own aggregation."""

    input: int
    output: int
    balance: int


def _totals(ledger: LedgerPort, chart: Chart, address_filter: str, end: datetime | None) -> _Totals:
    """The points volumes of the accounts matching ``address_filter``, summed by the ledger (one request)."""

    rows = [row for row in ledger.volumes(address_filter, end=end, group_by=1) if row.asset == chart.points_asset]
    return _Totals(sum(r.input for r in rows), sum(r.output for r in rows), sum(r.balance for r in rows))


def _read_at(ledger: LedgerPort, chart: Chart, pit: datetime, read_pit: datetime | None) -> LiabilityStatement:
    """The statement at ``pit``, every read made at ``read_pit`` (None: the current state)."""

    with collection_paused():
        return _read_at_unpaused(ledger, chart, pit, read_pit)


def _read_at_unpaused(ledger: LedgerPort, chart: Chart, pit: datetime, read_pit: datetime | None) -> LiabilityStatement:
    by_kind = {kind: _totals(ledger, chart, chart.kind_filter(kind), read_pit) for kind in _STATE_OF_KIND}
    subtree = _totals(ledger, chart, chart.customer_filter(), read_pit)
    outside_kinds = (
        subtree.input - sum(t.input for t in by_kind.values()),
        subtree.output - sum(t.output for t in by_kind.values()),
    )
    if outside_kinds == (0, 0):
        # No customer account outside the points kinds ever moved a point: list only the points kinds.
        found = {
            account.address: account
            for kind in _STATE_OF_KIND
            for account in ledger.accounts(chart.kind_filter(kind), pit=read_pit)
        }
        accounts: Sequence[AccountState] = list(found.values())
    else:
        accounts = list(ledger.accounts(chart.customer_filter(), pit=read_pit))
    return liability_statement(
        as_of=pit,
        chart=chart,
        by_kind={kind: totals.balance for kind, totals in by_kind.items()},
        ledger_total=subtree.balance,
        accounts=accounts,
    )


def read_liability(ledger: LedgerPort, chart: Chart, as_of: datetime | None, *, clock: Clock) -> LiabilityStatement:
    """Outstanding points by state at ``as_of`` (default: now), read at that point in time.

    The statement is effective at the instant ``T`` (``as_of`` or now). When
    no transaction is dated after ``T`` (the usual case for now), the ledger's
    current state *is* its state effective at ``T``, and the current state is
    cheaper to read: the reads are made without ``pit``, then the ledger is
    asked again whether anything dated after ``T`` was posted meanwhile; if
    so, or from the start, every read is made at ``pit=T``. Either way:

    - the balances per points kind and over the whole customer subtree come
      from the ledger's own aggregation (volumes grouped to the root: one
      request each), and ``ledger_total_points`` is the subtree's;
    - when the subtree's points inputs and outputs equal the points kinds'
      (no other customer account ever moved a point), only the accounts of
      the points kinds are listed; otherwise every customer account is.
      Accounts with no points carry nothing into the statement either way.

    Requests: 2 (dated after ``T``?) + 5 (totals) + the listing's pages.
    """

    pit = instant_or_now(as_of, clock)
    if nothing_dated_after(ledger, pit):
        statement = _read_at(ledger, chart, pit, None)
        if nothing_dated_after(ledger, pit):
            return statement
    return _read_at(ledger, chart, pit, pit)
