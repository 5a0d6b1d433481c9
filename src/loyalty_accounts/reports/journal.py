"""Journal: the period's ledger transactions as general-ledger (GL) entries, in money, with opening and closing balances.

The chart's ``general_ledger`` section (:mod:`loyalty_accounts.chart.general_ledger`) says which GL
account each ledger account rolls up to and on which side. A posting of ``x`` points from S to D is
worth ``x × point_value`` (a money-asset posting ``x`` minor units); with both kinds on the credit
side it *credits* GL(D) and *debits* GL(S). Amounts are signed as beancount and hledger sign them:
positive = debit, negative = credit. Nothing is rounded: the chart's point value is no finer than the
money asset's minor unit, so every amount is exact in the currency and every entry balances.

Worked example (point value 0.01 USD): an earn of 100 points (``program:points:issued:3`` →
``customers:c1:pending:20260115:20270101``) then its redemption (``customers:c1:points:20270101`` →
``program:points:redeemed``)::

    2026-01-01 earn    Income:Sales:Goods                              1.00 USD
                       Liabilities:Loyalty:ContractLiability:Current  -1.00 USD
    2026-01-20 redeem  Liabilities:Loyalty:ContractLiability:Current   1.00 USD
                       Income:Loyalty:Redemption                      -1.00 USD

One entry per ledger transaction with a money effect, linked to the transaction's id (a revert also
to the id it reverts); transactions that move only memo assets (tier, campaign, control counters) or
net to nothing in the GL (a release: pending and spendable points are the same contract liability)
make no entry. The window is ``(start, end]`` like every windowed report: opening balances are the
ledger's balances at pit ``start`` of the balance-sheet accounts (earlier income and expenses are
closed: they sit in the opening equity), booked against ``opening_balances``; the closing balance of every
asserted account (each ``Liabilities:`` account no operation override touches) is read at pit
``end``, so the contract liability's closing balance equals ``report liability --as-of end``'s
``total_value`` (negated: a credit). Opening and closing are classified per account kind (overrides
apply to entries only) and current / non-current as at ``end``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from ..chart import Chart, expiry_of
from ..chart.general_ledger import VALUED_ROLES, GeneralLedgerSpec
from ..errors import InvalidCommand
from ..ports import LedgerPort
from ..types import AccountState, PostedTransaction
from ..vocabulary.amounts import asset_precision
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import utc
from .common import ONE_MICROSECOND, money_value
from .reverts import REVERT_METADATA_KEY

CLOSED_AT_PERIOD_START = ("Income:", "Expenses:")
"""GL account roots an earlier period closed to equity: they open at nothing (their balance is in the opening equity)."""

__all__ = ["Journal", "JournalEntry", "JournalLine", "general_ledger_of", "journal", "read_journal"]


class JournalLine(Frozen):
    account: str
    amount: Decimal
    """In the chart's currency, exact; positive = debit, negative = credit."""


class JournalEntry(Frozen):
    date: date
    """The transaction's date in the programme's calendar."""
    timestamp: datetime
    transaction_ids: tuple[int, ...]
    """The ledger transaction, then (for a revert) the one it reverts."""
    operation: str
    reference: str | None
    lines: tuple[JournalLine, ...]


class Journal(Frozen):
    """The GL entries of the window ``(start, end]``, with opening balances at ``start`` and closing at ``end``."""

    programme: str
    currency: str
    start: datetime
    end: datetime
    opening_date: date
    """The programme-calendar date of the first instant of the window: accounts open, opening balances post."""
    closing_date: date
    """The programme-calendar date of ``end``: closing balances hold at the end of that day's entries."""
    accounts: tuple[str, ...]
    """Every GL account the chart maps to, and the opening-balances account, sorted."""
    opening_account: str
    opening: tuple[JournalLine, ...]
    entries: tuple[JournalEntry, ...]
    closing: tuple[JournalLine, ...]
    """The asserted accounts' balances at ``end`` (zero balances included)."""

    def balance(self, account: str) -> Decimal:
        """Opening plus every entry's lines on ``account``: what the journal itself says at ``end``."""

        total = sum((line.amount for line in self.opening if line.account == account), Decimal(0))
        return total + sum((l.amount for e in self.entries for l in e.lines if l.account == account), Decimal(0))


def general_ledger_of(chart: Chart) -> GeneralLedgerSpec:
    """The chart's GL mapping; InvalidCommand when the chart has no ``general_ledger`` section."""

    if chart.spec.general_ledger is None:
        raise InvalidCommand(f"{chart.source}: the chart has no general_ledger section (see chart_of_accounts.yaml)")
    return chart.spec.general_ledger


class _Mapper:
    """Ledger accounts and amounts → GL accounts and money, for one chart and one period end."""

    def __init__(self, chart: Chart, end: datetime) -> None:
        self.chart = chart
        self.gl = general_ledger_of(chart)
        self.non_current_after = chart.local_date(end) + timedelta(days=self.gl.current_days)
        self.quantum = Decimal(1).scaleb(-asset_precision(chart.money_asset))
        self.prices = {chart.points_asset: chart.point_value, chart.money_asset: self.quantum}

    def value(self, amount: int, asset: str) -> Decimal | None:
        """``amount`` of ``asset`` in money, exactly (None: an asset the GL does not carry)."""

        price = self.prices.get(asset)
        return None if price is None else money_value(amount, price).quantize(self.quantum)

    def account(self, address: str, operation: str | None) -> tuple[str, str]:
        """The GL account and side of a ledger account in a transaction of ``operation`` (None: a balance)."""

        parsed = self.chart.parse(address)
        spec = self.gl.accounts.get(parsed.kind) if parsed is not None else None
        if parsed is None or spec is None:
            raise InvalidCommand(f"{address}: no GL account for it in the chart's general_ledger section")
        override = self.gl.operations.get(operation or "", {}).get(parsed.kind)
        if override is not None:
            return override, spec.side
        if spec.non_current is not None:
            expiry = expiry_of(parsed.values["expiry"])
            if expiry is None or expiry > self.non_current_after:
                return spec.non_current, spec.side
        return spec.account, spec.side

    def asserted(self) -> tuple[str, ...]:
        """The ``Liabilities:`` accounts of the mapping that no operation override touches."""

        overridden = {kind for overrides in self.gl.operations.values() for kind in overrides}
        overridden_accounts = {name for overrides in self.gl.operations.values() for name in overrides.values()}
        found = set()
        for kind, spec in self.gl.accounts.items():
            for name in (spec.account, spec.non_current):
                if name and name.startswith("Liabilities:") and kind not in overridden and name not in overridden_accounts:
                    found.add(name)
        return tuple(sorted(found))

    def balances(self, accounts: Iterable[AccountState]) -> dict[str, Decimal]:
        """GL balances of ledger accounts (credit side: a positive ledger balance is a credit)."""

        totals: dict[str, Decimal] = defaultdict(Decimal)
        for state in accounts:
            for asset, volume in sorted(state.volumes.items()):
                money = self.value(volume.balance, asset)
                if money is None or money == 0:
                    continue
                name, side = self.account(state.address, None)
                totals[name] += -money if side == "credit" else money
        return totals


def _lines(totals: Mapping[str, Decimal]) -> tuple[JournalLine, ...]:
    return tuple(JournalLine(account=name, amount=amount) for name, amount in sorted(totals.items()) if amount != 0)


def _entry(mapper: _Mapper, tx: PostedTransaction, operation: str, reverts: int | None) -> JournalEntry | None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for posting in tx.postings:
        money = mapper.value(posting.amount, posting.asset)
        if money is None or money == 0:
            continue
        source, source_side = mapper.account(posting.source, operation)
        destination, destination_side = mapper.account(posting.destination, operation)
        if source_side != destination_side:
            raise InvalidCommand(
                f"transaction {tx.id}: {posting.source} ({source_side}) to {posting.destination} ({destination_side}) "
                "crosses GL sides: the chart's general_ledger cannot balance it"
            )
        sign = Decimal(1) if source_side == "credit" else Decimal(-1)
        totals[source] += sign * money
        totals[destination] -= sign * money
    lines = _lines(totals)
    if not lines:
        return None
    ids = (tx.id,) if reverts is None else (tx.id, reverts)
    return JournalEntry(
        date=mapper.chart.local_date(utc(tx.timestamp)),
        timestamp=utc(tx.timestamp),
        transaction_ids=ids,
        operation=operation,
        reference=tx.reference,
        lines=lines,
    )


def _reverted_id(tx: PostedTransaction) -> int | None:
    raw = tx.metadata.get(REVERT_METADATA_KEY)
    return int(raw) if raw is not None and str(raw).isdigit() else None


def journal(
    *,
    chart: Chart,
    start: datetime,
    end: datetime,
    opening: Sequence[AccountState],
    transactions: Sequence[PostedTransaction],
    closing: Sequence[AccountState],
    reverted_operations: Mapping[int, str] | None = None,
) -> Journal:
    """The journal of ``(start, end]`` from the ledger accounts at pit ``start`` and ``end`` and the window's transactions.

    ``transactions`` are those dated in the window (any order: entries are sorted by timestamp, then
    id); ``reverted_operations`` names the operation of each transaction a revert in the window reverts
    (a revert is mapped as its original: the same overrides apply). Raises InvalidCommand if an account
    has no GL account or a posting crosses GL sides.
    """

    start, end = utc(start), utc(end)
    if start >= end:
        raise InvalidCommand(f"the journal's window must start before it ends ({start.isoformat()} ≥ {end.isoformat()})")
    mapper = _Mapper(chart, end)
    known = {tx.id: tx.metadata.get("operation", "") for tx in transactions}
    known.update(reverted_operations or {})
    entries = []
    for tx in sorted(transactions, key=lambda t: (utc(t.timestamp), t.id)):
        reverts = _reverted_id(tx)
        operation = tx.metadata.get("operation", "")
        if reverts is not None:
            operation = known.get(reverts) or operation
        entry = _entry(mapper, tx, operation, reverts)
        if entry is not None:
            entries.append(entry)
    gl = mapper.gl
    # Income and expenses of earlier periods are closed: they open inside the opening-balances equity
    # (retained earnings), so a period's income accounts hold only the period's entries.
    opening_totals = {a: v for a, v in mapper.balances(opening).items() if not a.startswith(CLOSED_AT_PERIOD_START)}
    opening_lines = _lines(opening_totals)
    if opening_lines:
        equity = -sum((line.amount for line in opening_lines), Decimal(0))
        opening_lines = _lines({**opening_totals, gl.opening_balances: opening_totals.get(gl.opening_balances, Decimal(0)) + equity})
    closing_totals = mapper.balances(closing)
    names = {gl.opening_balances, *(s.account for s in gl.accounts.values())}
    names |= {s.non_current for s in gl.accounts.values() if s.non_current}
    names |= {name for overrides in gl.operations.values() for name in overrides.values()}
    return Journal(
        programme=chart.spec.programme.name,
        currency=chart.money_currency,
        start=start,
        end=end,
        opening_date=chart.local_date(start + ONE_MICROSECOND),
        closing_date=chart.local_date(end),
        accounts=tuple(sorted(names)),
        opening_account=gl.opening_balances,
        opening=opening_lines,
        entries=tuple(entries),
        closing=tuple(
            JournalLine(account=name, amount=closing_totals.get(name, Decimal(0)).quantize(mapper.quantum))
            for name in mapper.asserted()
        ),
    )


def _valued_accounts(ledger: LedgerPort, chart: Chart, pit: datetime) -> list[AccountState]:
    """Every account of a kind holding points or money, with its volumes effective at ``pit``."""

    kinds = [name for name, kind in chart.kinds.items() if any(role in VALUED_ROLES for role in kind.assets)]
    found: dict[str, AccountState] = {}
    for kind in kinds:
        for account in ledger.accounts(chart.kind_filter(kind), pit=pit):
            found[account.address] = account
    return [found[address] for address in sorted(found)]


def read_journal(ledger: LedgerPort, chart: Chart, start: datetime, end: datetime) -> Journal:
    """The journal of ``(start, end]``, read through the port.

    Reads: the valued accounts at pit ``start`` and at pit ``end`` (one listing per account kind each),
    the transactions dated in the window, and each transaction a revert in it reverts that the window
    does not hold (one request each).
    """

    start, end = utc(start), utc(end)
    if start >= end:
        raise InvalidCommand(f"the journal's window must start before it ends ({start.isoformat()} ≥ {end.isoformat()})")
    general_ledger_of(chart)
    transactions = list(ledger.transactions(start=start + ONE_MICROSECOND, end=end + ONE_MICROSECOND))
    held = {tx.id for tx in transactions}
    reverted: dict[int, str] = {}
    for tx in transactions:
        target = _reverted_id(tx)
        if target is not None and target not in held and target not in reverted:
            reverted[target] = ledger.get_transaction(target).metadata.get("operation", "")
    return journal(
        chart=chart,
        start=start,
        end=end,
        opening=_valued_accounts(ledger, chart, start),
        transactions=transactions,
        closing=_valued_accounts(ledger, chart, end),
        reverted_operations=reverted,
    )
