"""Invariants over the whole effective history: balances at every instant, not only at the as-of one.

A balance read at an instant says nothing about the instants before it: a
redeem back-dated before the earn it spends leaves the bucket negative in
between, and the balance today is fine again. These checks walk every
transaction up to the as-of instant in *effective order* and look at every
balance each transaction leaves behind:

- ``negative_at_any_instant``: no account of a chart kind with
  ``may_go_negative: false`` is below zero after any transaction, in any
  asset (points, store credit, qualifying points);
- ``clawback_never_positive``: no clawback account (kind
  ``customer_clawback``) is above zero after any transaction: a debt is
  repaid at most once, and points there are stranded where no spend reaches
  them;
- ``liability_ties``: the liability statement at the as-of instant ties
  (its lines, the ledger's aggregate over the customer subtree and the
  customer accounts listed one by one agree), so ``report liability`` and
  ``reconcile`` read the same books the same way.

Effective order is the server's: on v2.4.12 each move's post-commit
effective volumes are the previous move's of the same account and asset
by ``(effective_date, seq)`` plus its own amount, and inserting a
back-dated move adds its amount to every later one
(``set_effective_volumes`` and ``update_effective_volumes`` in
``internal/storage/bucket/migrations/11-make-stateless/up.sql``). The
effective date is the transaction's timestamp and move sequence numbers
follow insertion, as transaction ids do, so the walk orders by
``(timestamp, id)``. An instant is the end of a transaction: several legs
on one account within a transaction count once, by their sum.

The walk replays postings in Python (the one place the reports do), so it
proves itself: the balance it ends with for every customer account must be
the ledger's own effective balance at the as-of instant, or the check fails.

Each check lists at most :data:`~.check.SHOWN` offending items (account, asset,
first instant and value, and the extreme reached) and counts them all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from ..chart import Chart
from ..types import AccountState, PostedTransaction
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import iso_instant
from .check import Check, verdict
from .common import kind_of
from .liability import LiabilityStatement

__all__ = [
    "BalanceRange",
    "Moment",
    "balance_ranges",
    "check_clawback_never_positive",
    "check_liability_ties",
    "check_never_negative",
    "effective_order",
]

Key = tuple[str, str]
"""(account address, asset)."""


class Moment(Frozen):
    """A balance an account had right after one transaction."""

    at: datetime
    tx: int
    value: int

    def __str__(self) -> str:
        return f"{self.value:+d} at {iso_instant(self.at)} (#{self.tx})"


class BalanceRange(Frozen):
    """What one account's balance in one asset did over the history walked.

    ``lowest``/``highest`` are the extremes (the first transaction reaching
    them); ``first_below``/``first_above`` the first transaction that left the
    balance below / above zero, None if none did.
    """

    account: str
    asset: str
    closing: int
    lowest: Moment
    highest: Moment
    first_below: Moment | None = None
    first_above: Moment | None = None


@dataclass
class _Walk:
    balance: int
    lowest: Moment
    highest: Moment
    first_below: Moment | None = None
    first_above: Moment | None = None

    def step(self, moment: Moment) -> None:
        self.balance = moment.value
        if moment.value < self.lowest.value:
            self.lowest = moment
        if moment.value > self.highest.value:
            self.highest = moment
        if moment.value < 0 and self.first_below is None:
            self.first_below = moment
        if moment.value > 0 and self.first_above is None:
            self.first_above = moment


def effective_order(transactions: Iterable[PostedTransaction]) -> list[PostedTransaction]:
    """The transactions in the order their effects apply: by timestamp, then id (see the module docstring)."""

    return sorted(transactions, key=lambda tx: (tx.timestamp, tx.id))


def _net(tx: PostedTransaction) -> dict[Key, int]:
    net: dict[Key, int] = defaultdict(int)
    for posting in tx.postings:
        net[(posting.source, posting.asset)] -= posting.amount
        net[(posting.destination, posting.asset)] += posting.amount
    return net


def balance_ranges(transactions: Iterable[PostedTransaction]) -> dict[Key, BalanceRange]:
    """Every (account, asset) the transactions touch, with the range its balance went through.

    Pure: the transactions are put in effective order first, so any order
    in is fine. A leg that nets to zero within a transaction (``world`` to
    ``world``) still counts as a balance the account had.
    """

    walks: dict[Key, _Walk] = {}
    for tx in effective_order(transactions):
        for key, change in _net(tx).items():
            walk = walks.get(key)
            before = walk.balance if walk is not None else 0
            moment = Moment(at=tx.timestamp, tx=tx.id, value=before + change)
            if walk is None:
                walks[key] = walk = _Walk(balance=0, lowest=moment, highest=moment)
            walk.step(moment)
    return {
        key: BalanceRange(
            account=key[0],
            asset=key[1],
            closing=walk.balance,
            lowest=walk.lowest,
            highest=walk.highest,
            first_below=walk.first_below,
            first_above=walk.first_above,
        )
        for key, walk in sorted(walks.items())
    }


def _disagreements(ranges: Mapping[Key, BalanceRange], accounts: Sequence[AccountState]) -> list[str]:
    """Accounts whose balance at the as-of instant is not the one the walk ends with."""

    out = []
    for account in sorted(accounts, key=lambda a: a.address):
        for asset in sorted(account.volumes):
            found = ranges.get((account.address, asset))
            walked = found.closing if found is not None else 0
            if walked != account.balance(asset):
                out.append(
                    f"{account.address} {asset}: the ledger reads {account.balance(asset)}, "
                    f"the walk of its transactions ends at {walked}"
                )
    return out


def check_never_negative(
    *, chart: Chart, ranges: Mapping[Key, BalanceRange], transactions: int, accounts: Sequence[AccountState] = ()
) -> Check:
    """No account the chart forbids to go negative was below zero after any transaction.

    ``ranges`` is :func:`balance_ranges` of the ``transactions`` walked (their
    number, for the detail); ``accounts`` the accounts whose balance at the
    as-of instant the walk must end with (the customer accounts), each
    disagreement an offending item too.
    """

    breaks: list[tuple[datetime, str, str]] = []
    outside = 0
    for found in ranges.values():
        kind = kind_of(chart, found.account)
        if kind is None:
            outside += 1
            continue
        if chart.kinds[kind].may_go_negative or found.first_below is None:
            continue
        text = f"{found.account} {found.asset}: {found.first_below}; lowest {found.lowest}"
        breaks.append((found.first_below.at, found.account, text))
    offending = [text for _, _, text in sorted(breaks)]
    offending += _disagreements(ranges, accounts)
    detail = (
        f"{transactions} transaction(s) walked in effective order (timestamp, id); "
        f"{len(breaks)} account balance(s) forbidden to go negative went below zero; "
        f"{len(accounts)} customer account(s) tied to the ledger; {outside} account(s) outside the chart not judged"
    )
    return verdict("negative_at_any_instant", detail, offending)


def check_clawback_never_positive(*, chart: Chart, ranges: Mapping[Key, BalanceRange]) -> Check:
    """No clawback account held points (was above zero) after any transaction."""

    breaks: list[tuple[datetime, str, str]] = []
    accounts = 0
    for found in ranges.values():
        if kind_of(chart, found.account) != "customer_clawback":
            continue
        accounts += 1
        if found.first_above is not None:
            text = f"{found.account} {found.asset}: {found.first_above}; highest {found.highest}"
            breaks.append((found.first_above.at, found.account, text))
    offending = [text for _, _, text in sorted(breaks)]
    return verdict("clawback_never_positive", f"{accounts} clawback account(s) walked; {len(offending)} went above zero", offending)


def check_liability_ties(statement: LiabilityStatement) -> Check:
    """The liability statement at the as-of instant ties (what ``report liability`` prints as ``ties``)."""

    total, aggregate, listed = statement.total_points, statement.ledger_total_points, statement.listed_total_points
    detail = (
        f"liability by state {total}, ledger aggregate over the customers {aggregate}, "
        f"customer accounts listed {listed} {statement.points_asset}"
    )
    offending: tuple[str, ...] = ()
    if not statement.ties:
        offending = (f"liability {total} vs aggregate {aggregate} vs listed {listed} at {iso_instant(statement.as_of)}",)
    return Check(
        name="liability_ties",
        status="pass" if statement.ties else "fail",
        detail=detail,
        offending=offending,
    )
