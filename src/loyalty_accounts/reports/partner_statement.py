"""Partner statement: the settlement with one partner over a window, exchange by exchange, tied to the ledger.

A partner's settlement account (``partners:{p}:settlement``, the money asset)
holds what is owed between the programme and the partner: negative, we owe
the partner (exchanges out); positive, the partner owes us (exchanges in).
The statement over ``(start, end]`` is

- the opening: the account's balance at pit ``start`` (nothing, from the beginning);
- every transaction dated in the window that moved the account, oldest first,
  with the running balance: each exchange with our points, the partner's
  units, the rate (money per partner unit, as the exchange recorded it, else
  the chart's current terms for its direction), the exact amount
  ``units × rate``, the amount settled (what the ledger moved) and the
  rounding ``settled − exact``; anything else (a revert, a manual posting)
  as an *other* movement, never dropped;
- the totals of each direction, the closing ``opening + movements`` and the
  tie: the closing equals the account's balance read at pit ``end``;
- the net position at ``end``: payable (we owe) or receivable (they owe).

Worked example, skyway (0.0125 USD per mile out, 0.0080 in; half_even to the
cent), opening -0.50::

    exchange_out    1 mile    exact 0.0125  settled 0.01  rounding -0.0025  movement -0.01  balance -0.51
    exchange_out    2 miles   exact 0.0250  settled 0.02  rounding -0.0050  movement -0.02  balance -0.53
    exchange_in     1 mile    exact 0.0080  settled 0.01  rounding +0.0020  movement +0.01  balance -0.52

    closing -0.52 = ledger balance at end: ties; net payable 0.52 USD.
    Rounding on the balance: in +0.0020 − out (-0.0075) = +0.0095 (in our favour).

A partner that is a member of partner pools (the chart's ``pools``) also has
its pool contributions on the settlement account (what it pays for the
points it puts in: *pool* lines, with the contribution's points), and, per
pool, its figures at ``end`` read from its pool accounts
(:mod:`.pool`): points contributed, left in the pool (funds), drawn for
members' earnings (awarded) and redemptions (redeemed), the money paid, its
declared share and its part of the pool's funds. Its accounts in a pool only
move among themselves, so contributed = funds + awarded + redeemed
(``balanced``); a pool where that fails makes the statement not ok.

An exchange whose settled amount is not its exact amount rounded by the
chart's ``settlement_rounding`` (terms changed since it was posted without a
recorded rate, or a posting that does not match its metadata) is *off
terms*: shown, and the statement is not ok, as it is when it does not tie.
"""

from __future__ import annotations

from datetime import date, datetime  # date: pydantic resolves SettlementLine.date at run time
from decimal import Decimal
from typing import Literal, Mapping, Sequence

from ..chart import Chart
from ..errors import UnknownEntity
from ..operations.exchange import PRICE_KEY
from ..ports import LedgerPort
from ..types import PostedTransaction
from ..vocabulary.amounts import asset_precision, from_minor, round_to
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import utc
from .common import ONE_MICROSECOND, Clock, money_value, window
from .pool import PartnerPoolFigures, read_partner_pools
from .reverts import REVERT_METADATA_KEY, revert_targets

__all__ = [
    "DIRECTIONS",
    "DirectionTotals",
    "PartnerStatement",
    "SettledExchange",
    "SettlementLine",
    "partner_statement",
    "read_partner_statement",
    "settlement_movement",
]

Direction = Literal["out", "in"]
DIRECTIONS: tuple[Direction, ...] = ("out", "in")
"""``out``: our points to the partner's (we owe the settlement); ``in``: theirs to ours (they owe it)."""
_OPERATIONS: Mapping[str, Direction] = {"exchange_out": "out", "exchange_in": "in"}


class SettledExchange(Frozen):
    """What an exchange settles, in the money currency: the exact amount and the amount the ledger moved."""

    direction: Direction
    exchange_id: str
    customer: str
    points: int
    """Our points: given up by the customer (out) or issued (in)."""
    partner_points: int
    """The partner's units delivered (out) or handed in (in)."""
    rate: Decimal
    """Money per partner unit."""
    rate_recorded: bool
    """True: the rate the exchange recorded; False: the chart's current terms (an exchange that recorded none)."""
    exact: Decimal
    """``partner_points × rate``, exactly."""
    expected: Decimal
    """``exact`` rounded to the money asset by the chart's settlement rounding."""
    settled: Decimal
    """What the ledger moved on the settlement account (out of it for ``out``, into it for ``in``)."""

    @property
    def rounding(self) -> Decimal:
        """``settled − exact``: negative when the rounding settled less than the exact amount."""

        return self.settled - self.exact

    @property
    def on_terms(self) -> bool:
        """Whether the settled amount is the exact amount rounded by the chart's rule."""

        return self.settled == self.expected


class SettlementLine(Frozen):
    """One transaction dated in the window that moved the settlement account."""

    timestamp: datetime
    date: date
    """The programme-calendar date of ``timestamp``."""
    transaction_id: int
    kind: Literal["exchange", "revert", "other", "pool"]
    """``pool``: a contribution of the partner to a pool (:data:`POOL_CONTRIBUTION`)."""
    operation: str
    """``exchange_out``/``exchange_in``; ``revert of exchange_out``; another operation's name; ``(none)``."""
    business_key: str
    """The exchange id; for a revert ``#id`` of what it reverts (and its business key); else the reference."""
    reference: str | None
    movement: Decimal
    """Signed change of the settlement account: positive towards the partner owing us."""
    balance: Decimal
    """The account's balance after this line."""
    exchange: SettledExchange | None = None
    """The exchange's figures (``kind == "exchange"`` only)."""
    reverts: int | None = None
    """The transaction a revert reverts."""
    reverted_by: int | None = None
    """A revert of this exchange dated in the same window."""
    pool: str | None = None
    """The pool a ``pool`` line contributed to."""
    pool_points: int | None = None
    """The points a ``pool`` line put into the pool."""


class DirectionTotals(Frozen):
    direction: Direction
    exchanges: int
    points: int
    partner_points: int
    exact: Decimal
    settled: Decimal
    rounding: Decimal
    """``settled − exact`` over the direction's exchanges."""
    movement: Decimal
    """Their effect on the balance: ``-settled`` out, ``+settled`` in."""


class PartnerStatement(Frozen):
    """The settlement with one partner over ``(start, end]`` (``start`` None: from the beginning), in UTC."""

    partner: str
    partner_name: str
    partner_asset: str
    points_asset: str
    account: str
    currency: str
    settlement_rounding: str
    """The chart's rounding rule for settlements (``half_even``...), to the money asset's decimals."""
    decimals: int
    start: datetime | None
    end: datetime
    opening: Decimal
    """The settlement account's balance at pit ``start`` (0 from the beginning)."""
    lines: tuple[SettlementLine, ...]
    ledger_closing: Decimal
    """The settlement account's balance at pit ``end``, read from the ledger."""
    pools: tuple[PartnerPoolFigures, ...] = ()
    """The partner's figures at ``end`` in each pool it is a member of (read from its pool accounts)."""

    @property
    def _zero(self) -> Decimal:
        """Nothing, written with the money asset's decimals (``0.00``): where every sum starts."""

        return Decimal(0).scaleb(-self.decimals)

    def totals(self, direction: Direction) -> DirectionTotals:
        found = [line.exchange for line in self.lines if line.exchange is not None and line.exchange.direction == direction]
        settled = sum((e.settled for e in found), self._zero)
        return DirectionTotals(
            direction=direction,
            exchanges=len(found),
            points=sum(e.points for e in found),
            partner_points=sum(e.partner_points for e in found),
            exact=sum((e.exact for e in found), self._zero),
            settled=settled,
            rounding=sum((e.rounding for e in found), self._zero),
            movement=settled if direction == "in" else self._zero - settled,  # never -0.00
        )

    @property
    def other_movements(self) -> Decimal:
        """What the lines other than exchanges and pool contributions (reverts, manual postings) moved, signed."""

        return sum((line.movement for line in self.lines if line.exchange is None and line.kind != "pool"), self._zero)

    @property
    def pool_movements(self) -> Decimal:
        """What the partner's pool contributions in the window moved (positive: it owes them)."""

        return sum((line.movement for line in self.lines if line.kind == "pool"), self._zero)

    @property
    def pools_balanced(self) -> bool:
        """Whether, in every pool, what the partner put in equals its funds left plus its draws."""

        return all(figures.balanced for figures in self.pools)

    @property
    def rounding_on_balance(self) -> Decimal:
        """The rounding's effect on the balance: in's rounding less out's (positive: in the programme's favour)."""

        return self.totals("in").rounding - self.totals("out").rounding

    @property
    def closing(self) -> Decimal:
        """Opening plus every line's movement: what the statement itself says at ``end``."""

        return self.opening + sum((line.movement for line in self.lines), self._zero)

    @property
    def difference(self) -> Decimal:
        """The ledger's balance at ``end`` less the statement's closing (zero when it ties)."""

        return self.ledger_closing - self.closing

    @property
    def ties(self) -> bool:
        return self.difference == 0

    @property
    def off_terms(self) -> tuple[SettlementLine, ...]:
        """Exchanges whose settled amount is not their exact amount rounded by the chart's rule."""

        return tuple(line for line in self.lines if line.exchange is not None and not line.exchange.on_terms)

    @property
    def ok(self) -> bool:
        """It ties, every exchange settled at its rate, and the partner's pool accounts balance."""

        return self.ties and not self.off_terms and self.pools_balanced

    @property
    def position(self) -> Literal["payable", "receivable", "settled"]:
        """At ``end``, by the ledger: ``payable`` (we owe the partner), ``receivable`` (it owes us), ``settled``."""

        if self.ledger_closing < 0:
            return "payable"
        return "receivable" if self.ledger_closing > 0 else "settled"

    @property
    def net_amount(self) -> Decimal:
        """What is payable or receivable at ``end`` (the ledger's balance, unsigned)."""

        return abs(self.ledger_closing)


def settlement_movement(tx: PostedTransaction, account: str, asset: str) -> int:
    """Minor units of ``asset`` a transaction moved into ``account``, less what it moved out."""

    moved_in = sum(p.amount for p in tx.postings if p.asset == asset and p.destination == account)
    moved_out = sum(p.amount for p in tx.postings if p.asset == asset and p.source == account)
    return moved_in - moved_out


def _whole(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _rate(text: str | None) -> Decimal | None:
    try:
        rate = Decimal(text) if text is not None else None
    except ArithmeticError:
        return None
    return rate if rate is not None and rate.is_finite() and rate > 0 else None


def _exchange(chart: Chart, partner: str, tx: PostedTransaction, movement: Decimal) -> SettledExchange | None:
    """The exchange ``tx`` records with ``partner``, or None when it is not one (or its metadata is unreadable)."""

    meta = tx.metadata
    direction = _OPERATIONS.get(meta.get("operation", ""))
    points, units = _whole(meta.get("points")), _whole(meta.get("partner_points"))
    if direction is None or meta.get("partner") != partner or points is None or units is None:
        return None
    terms = chart.partner(partner).outbound if direction == "out" else chart.partner(partner).inbound
    recorded = _rate(meta.get(PRICE_KEY))
    rate = recorded if recorded is not None else terms.price_per_partner_point
    exact = money_value(units, rate)
    return SettledExchange(
        direction=direction,
        exchange_id=meta.get("exchange_id", ""),
        customer=meta.get("customer", ""),
        points=points,
        partner_points=units,
        rate=rate,
        rate_recorded=recorded is not None,
        exact=exact,
        expected=round_to(exact, asset_precision(chart.money_asset), chart.policies.settlement_rounding),
        settled=movement if direction == "in" else -movement,
    )


POOL_CONTRIBUTION = "pool_contribute"
"""The operation of a partner's contribution to a pool: its payment moves the settlement account."""


def _pool_contribution(partner: str, tx: PostedTransaction) -> tuple[str, str, int] | None:
    """(pool, contribution id, points) when ``tx`` is ``partner``'s contribution to a pool, else None."""

    meta = tx.metadata
    points = _whole(meta.get("points"))
    if meta.get("operation") != POOL_CONTRIBUTION or meta.get("partner") != partner or points is None:
        return None
    return meta.get("pool", ""), meta.get("contribution_id", ""), points


def _key(tx: PostedTransaction | None) -> str:
    if tx is None:
        return ""
    return tx.metadata.get("exchange_id") or tx.metadata.get("contribution_id") or tx.reference or ""


def partner_statement(
    *,
    chart: Chart,
    partner: str,
    start: datetime | None,
    end: datetime,
    opening: int,
    closing: int,
    transactions: Sequence[PostedTransaction],
    originals: Mapping[int, PostedTransaction] | None = None,
    pools: Sequence[PartnerPoolFigures] = (),
) -> PartnerStatement:
    """The statement of ``partner``'s settlement over ``(start, end]``.

    ``opening`` and ``closing`` are the settlement account's balances (minor
    units of the money asset) at pit ``start`` and pit ``end``;
    ``transactions`` are those dated in the window that touch the account
    (any order; one that does not move it is left out); ``originals`` the
    transactions reverts among them revert, when outside the window;
    ``pools`` the partner's figures at ``end`` in its pools.
    InvalidCommand for a partner the chart does not declare.
    """

    declared = chart.partner(partner)
    account = chart.partner_account(partner, "settlement")
    asset = chart.money_asset
    originals = dict(originals or {})
    listed = {tx.id: tx for tx in transactions}
    reverts = revert_targets([*transactions, *(t for t in originals.values() if t.id not in listed)])
    reverted_by = {target: revert for revert, target in reverts.items() if revert in listed}
    lines: list[SettlementLine] = []
    balance = from_minor(opening, asset)
    for tx in sorted(transactions, key=lambda t: (utc(t.timestamp), t.id)):
        units = settlement_movement(tx, account, asset)
        if units == 0:
            continue
        movement = from_minor(units, asset)
        balance += movement
        target = reverts.get(tx.id)
        exchange = None if target is not None else _exchange(chart, partner, tx, movement)
        contribution = None if target is not None or exchange is not None else _pool_contribution(partner, tx)
        if contribution is not None:
            kind, operation, key = "pool", POOL_CONTRIBUTION, contribution[1]
        elif exchange is not None:
            kind, operation, key = "exchange", tx.metadata["operation"], exchange.exchange_id
        elif target is not None:
            original = listed.get(target) or originals.get(target)
            what = original.metadata.get("operation", "") if original is not None else ""
            kind, operation = "revert", f"revert of {what}" if what else "revert"
            key = f"#{target}" + (f" {_key(original)}" if _key(original) else "")
        else:
            kind, operation, key = "other", tx.metadata.get("operation") or "(none)", tx.reference or ""
        lines.append(
            SettlementLine(
                timestamp=utc(tx.timestamp),
                date=chart.local_date(utc(tx.timestamp)),
                transaction_id=tx.id,
                kind=kind,
                operation=operation,
                business_key=key,
                reference=tx.reference,
                movement=movement,
                balance=balance,
                exchange=exchange,
                reverts=target,
                reverted_by=reverted_by.get(tx.id) if exchange is not None else None,
                pool=contribution[0] if contribution is not None else None,
                pool_points=contribution[2] if contribution is not None else None,
            )
        )
    return PartnerStatement(
        partner=partner,
        partner_name=declared.name,
        partner_asset=declared.asset,
        points_asset=chart.points_asset,
        account=account,
        currency=chart.money_currency,
        settlement_rounding=chart.policies.settlement_rounding,
        decimals=asset_precision(asset),
        start=utc(start) if start is not None else None,
        end=utc(end),
        opening=from_minor(opening, asset),
        lines=tuple(lines),
        ledger_closing=from_minor(closing, asset),
        pools=tuple(pools),
    )


def _balance_at(ledger: LedgerPort, address: str, asset: str, pit: datetime) -> int:
    """The account's balance effective at ``pit``; 0 when no transaction dated by then touched it."""

    try:
        return ledger.account(address, pit=pit).balance(asset)
    except UnknownEntity:
        return 0


def read_partner_statement(
    ledger: LedgerPort, chart: Chart, partner: str, start: datetime | None, end: datetime | None, *, clock: Clock
) -> PartnerStatement:
    """The statement of ``partner`` over ``(start, end]`` (default: from the beginning to now), read through the port.

    The partner is checked first (InvalidCommand naming the declared ones; nothing is read), then the
    window (InvalidCommand unless it starts before it ends). Reads: the settlement account at pit
    ``start`` (none from the beginning) and at pit ``end``, the transactions dated in the window that
    touch it (one listing), each transaction a revert among them reverts that the window does not hold,
    and the accounts of each pool the partner is a member of at pit ``end`` (one listing per pool).
    """

    chart.partner(partner)
    start, end = window(start, end, clock)
    account = chart.partner_account(partner, "settlement")
    asset = chart.money_asset
    opening = _balance_at(ledger, account, asset, start) if start is not None else 0
    closing = _balance_at(ledger, account, asset, end)
    transactions = list(
        ledger.transactions(
            account=account,
            start=start + ONE_MICROSECOND if start is not None else None,
            end=end + ONE_MICROSECOND,
        )
    )
    held = {tx.id for tx in transactions}
    originals: dict[int, PostedTransaction] = {}
    for tx in transactions:
        marker = tx.metadata.get(REVERT_METADATA_KEY, "")
        if marker.isdigit() and int(marker) not in held and int(marker) not in originals:
            originals[int(marker)] = ledger.get_transaction(int(marker))
    return partner_statement(
        chart=chart,
        partner=partner,
        start=start,
        end=end,
        opening=opening,
        closing=closing,
        transactions=transactions,
        originals=originals,
        pools=read_partner_pools(ledger, chart, partner, end),
    )
