"""Pool position: each member partner's contributions, funds, draws and share of a partner pool, read from the ledger.

Every figure is a balance of the pool's accounts (see the chart's ``pools``
and :mod:`loyalty_accounts.operations.pool`), per member partner ``p``:

- ``contributed``: points ``p`` put in, minus the balance of ``pools:{pool}:partners:{p}:contributed``;
- ``funds``: points ``p`` has left in the pool (its funds account);
- ``awarded`` / ``redeemed``: points of its funds drawn for members' earnings / redemptions;
- ``paid``: money ``p`` owes or paid for its contributions, minus the balance of its ``paid`` account.

Each member's accounts only move among themselves, so ``contributed = funds +
awarded + redeemed`` for every member (``balanced``); the pool's totals are
the members' sums. ``funds_share`` is a member's part of the pool's funds
(what ``distribution: funds`` charges draws by); ``declared_share`` its share
under ``distribution: shares``, as a fraction of the declared shares.

Worked example, pool travel (skyway share 3, cityrail share 1), after skyway
contributed 3,000, cityrail 1,000, and draws of 10 awarded and 10 redeemed
(8 + 2 each)::

    partner   contributed  funds  awarded  redeemed  paid   declared_share  funds_share
    cityrail         1000    996        2         2   9.00  0.25             996/3980
    skyway           3000   2984        8         8  27.00  0.75            2984/3980
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Iterable, Literal, Sequence

from ..chart import Chart
from ..ports import LedgerPort
from ..types import AccountState
from ..vocabulary.amounts import asset_precision, from_minor
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import utc
from .common import Clock, instant_or_now

__all__ = [
    "PartnerPoolFigures",
    "PoolFigures",
    "PoolMemberPosition",
    "PoolPosition",
    "partner_figures",
    "pool_position",
    "pool_positions_of",
    "read_partner_pools",
    "read_pool_position",
    "read_pool_positions",
]

PoolRole = Literal["contributed", "funds", "awarded", "redeemed", "paid"]
SHARE_PLACES = 6
"""Decimals a share is shown with (rounded half-even; the exact figures are the points)."""


class PoolFigures(Frozen):
    """One member partner's figures in a pool: points, and money in the money asset's currency.

    At an instant (:class:`PoolMemberPosition`: its accounts' balances) or over a window (their movements,
    :class:`~.programme.PartnerPoolActivity`).
    """

    partner: str
    contributed: int
    funds: int
    awarded: int
    redeemed: int
    paid: Decimal

    @property
    def drawn(self) -> int:
        """Points of the member's funds drawn, for earnings and redemptions."""

        return self.awarded + self.redeemed

    @property
    def balanced(self) -> bool:
        """Whether what it put in equals what it has left plus what was drawn (its accounts sum to zero)."""

        return self.contributed == self.funds + self.drawn


class PoolMemberPosition(PoolFigures):
    """One member partner's figures in a pool at an instant: its accounts' balances."""

    share: int
    """The member's declared share (its weight under ``distribution: shares``)."""


class PoolPosition(Frozen):
    """A pool at an instant: its members' figures (by partner key) and their totals."""

    pool: str
    name: str
    distribution: str
    price_per_point: Decimal
    currency: str
    decimals: int
    """The money asset's decimals (``paid`` is written with them)."""
    points_asset: str
    as_of: datetime
    members: tuple[PoolMemberPosition, ...]

    def member(self, partner: str) -> PoolMemberPosition:
        return next(m for m in self.members if m.partner == partner)

    def total(self, field: str) -> int | Decimal:
        """The members' sum of one figure (``contributed``, ``funds``, ``awarded``, ``redeemed``, ``drawn``, ``paid``)."""

        values = [getattr(m, field) for m in self.members]
        return sum(values, Decimal(0).scaleb(-self.decimals) if field == "paid" else 0)

    def declared_share(self, partner: str) -> Decimal:
        shares = sum(m.share for m in self.members)
        return (Decimal(self.member(partner).share) / shares).quantize(Decimal(1).scaleb(-SHARE_PLACES))

    def funds_share(self, partner: str) -> Decimal:
        """The member's part of the pool's funds (0 when the pool is empty)."""

        total = int(self.total("funds"))
        if total == 0:
            return Decimal(0)
        return (Decimal(self.member(partner).funds) / total).quantize(Decimal(1).scaleb(-SHARE_PLACES))

    @property
    def balanced(self) -> bool:
        return all(m.balanced for m in self.members)


def pool_position(chart: Chart, pool: str, accounts: Iterable[AccountState], as_of: datetime) -> PoolPosition:
    """The position of ``pool`` from its accounts' balances (any accounts outside the pool are ignored).

    InvalidCommand for an undeclared pool. A member with no accounts yet has zeros.
    """

    declared = chart.pool(pool)
    points, money = chart.points_asset, chart.money_asset
    balances = {a.address: a for a in accounts}

    def balance(partner: str, role: PoolRole, asset: str) -> int:
        state = balances.get(chart.pool_account(pool, partner, role))
        return 0 if state is None else state.balance(asset)

    members = tuple(
        PoolMemberPosition(
            partner=partner,
            share=member.share,
            contributed=-balance(partner, "contributed", points),
            funds=balance(partner, "funds", points),
            awarded=balance(partner, "awarded", points),
            redeemed=balance(partner, "redeemed", points),
            paid=from_minor(-balance(partner, "paid", money), money),
        )
        for partner, member in sorted(declared.members.items())
    )
    return PoolPosition(
        pool=pool,
        name=declared.name,
        distribution=declared.distribution,
        price_per_point=declared.price_per_point,
        currency=chart.money_currency,
        decimals=asset_precision(money),
        points_asset=points,
        as_of=utc(as_of),
        members=members,
    )


def read_pool_position(ledger: LedgerPort, chart: Chart, pool: str, as_of: datetime | None, *, clock: Clock) -> PoolPosition:
    """The position of ``pool`` effective at ``as_of`` (default now): one listing of the pool's accounts.

    The pool is checked first (InvalidCommand naming the declared ones; nothing is read).
    """

    address_filter = chart.pool_filter(pool)
    at = instant_or_now(as_of, clock)
    return pool_position(chart, pool, ledger.accounts(address_filter, pit=at), at)


def read_pool_positions(
    ledger: LedgerPort, chart: Chart, at: datetime, pools: Sequence[str] | None = None
) -> tuple[PoolPosition, ...]:
    """The positions at ``at`` of ``pools`` (default: every declared pool, declared order; none when the chart
    has no pools): one listing per pool."""

    keys = list(chart.spec.pools) if pools is None else pools
    return tuple(pool_position(chart, key, ledger.accounts(chart.pool_filter(key), pit=at), at) for key in keys)


def pool_positions_of(
    ledger: LedgerPort, chart: Chart, partner: str, at: datetime
) -> tuple[PoolPosition, ...]:
    """The positions, at ``at``, of every pool ``partner`` is a member of (declared order): one listing per pool."""

    return read_pool_positions(ledger, chart, at, [key for key, pool in chart.spec.pools.items() if partner in pool.members])


class PartnerPoolFigures(PoolMemberPosition):
    """One partner's figures in one pool, as its partner statement shows them (balances at the statement's end)."""

    pool: str
    name: str
    distribution: str
    declared_share: Decimal
    """Its share of the pool's declared shares (what ``distribution: shares`` charges draws by)."""
    funds_share: Decimal
    """Its part of the pool's funds (what ``distribution: funds`` charges draws by)."""
    pool_funds: int
    """The pool's funds, every member's together."""


def partner_figures(position: PoolPosition, partner: str) -> PartnerPoolFigures:
    """``partner``'s figures in ``position`` (a member of the pool)."""

    return PartnerPoolFigures(
        **position.member(partner).model_dump(),
        pool=position.pool,
        name=position.name,
        distribution=position.distribution,
        declared_share=position.declared_share(partner),
        funds_share=position.funds_share(partner),
        pool_funds=int(position.total("funds")),
    )


def read_partner_pools(ledger: LedgerPort, chart: Chart, partner: str, at: datetime) -> tuple[PartnerPoolFigures, ...]:
    """``partner``'s figures, at ``at``, in every pool it is a member of (declared order): one listing per pool."""

    return tuple(partner_figures(position, partner) for position in pool_positions_of(ledger, chart, partner, at))
