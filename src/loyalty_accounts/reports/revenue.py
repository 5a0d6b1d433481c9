"""The IFRS 15 / ASC 606 revenue schedule: the contract liability for points, rolled forward in money.

Points earned with a purchase are a separate performance obligation. Each order's price is allocated
between the goods and its points by relative stand-alone selling price (SSP)::

    SSP(points)     = points × point_value × (1 − breakage_rate)     (estimate in force at the order)
    SSP(goods)      = the order's price (in the programme's currency, at the estimate's exchange rate)
    allocated       = price × SSP(points) / (price + SSP(points))

exactly (fractions), summed over every order and **rounded once per line** (half up, to the money
asset's minor unit), never per order. A refund withdraws the same share of its order's allocation as
it refunds of the order's price (``refunded_total / amount``). Orders are translated at the rate in
force when they were placed, and never again: a contract liability is not revalued.

Partners' settlements for points exchanged in are those points' consideration, deferred the same
way. Recognition replays the pool of outstanding points movement by movement under the estimate in
force (:mod:`.revenue_pool`): a redemption recognises its share of what is deferred against the
redemptions still expected (``rate``: the estimate's constrained rate when it has one, else its
breakage rate, under the ``proportional`` method; none expected to break under ``remote``, whose
breakage waits for expiry), split into redemption revenue (at the points' original price) and
breakage; once no point is outstanding nothing is deferred. Redeemed means leaving the customers to
a reward: redeemed, captured, converted to store credit or exchanged out to a partner. Points
issued without consideration (engagement awards, adjustments) lower the price of later
redemptions, never revenue already recognised.

A change of estimate at instant t is a **cumulative catch-up** at t: revenue to t replayed under the
new estimate minus revenue to t under the old, all of it breakage; the allocation of earlier orders
is never changed. Over a window ``(start, end]``::

    opening  = deferred(start) − revenue(start)
    + allocated + paid by partners − withdrawn by refunds
    − recognised on redemption − recognised as breakage − catch-up
    = closing = deferred(end) − revenue(end)

each cumulative figure rounded once, so that consecutive windows add up to the whole.

Worked example (the issue's; point value 0.01, breakage 20 %): 1,000 orders of 100.00 earning
100 points: SSP 0.008 per point, allocated 100,000.00 × 800 / 100,800 = 793.65 (per order 0.79:
790.00, wrong), goods 99,206.35. 80,000 redemptions expected; 30,000 made by 28 Feb: revenue
793.65 × 30/80 = 297.62, of which redemption 793.65 × 30/100 = 238.10 and breakage 59.52, liability
496.03. Estimate 25 % on 31 Mar: replayed, February recognises 793.65 × 30/75 = 317.46, so a
catch-up of 19.84, liability 476.19. 42,000 more redeemed by 30 Jun against 45,000 expected: 444.44
(333.33 + 111.11), liability 31.75. The last 28,000 expire: nothing outstanding, liability 0.00.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Sequence

from ..errors import InvalidCommand
from ..operations.revenue_estimate import Estimates, RevenueEstimate
from .revenue_pool import Movement, replay
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import iso_instant, utc

__all__ = [
    "PoolState",
    "RevenueCatchUp",
    "RevenueSchedule",
    "Sale",
    "SaleRefund",
    "UnpricedSale",
    "allocation",
    "revenue_schedule",
]


class Sale(Frozen):
    """An order that earned points: an earn transaction."""

    transaction_id: int
    at: datetime
    order_id: str
    currency: str
    amount: Decimal
    """The order's price in ``currency``."""
    points: int


class SaleRefund(Frozen):
    """A refund transaction of an order: the order's refunded total after it, and the points it reversed."""

    transaction_id: int
    at: datetime
    order_id: str
    refunded_total: Decimal
    points: int


class UnpricedSale(Frozen):
    """An order the schedule could not allocate (no estimate in force when it was placed, or no exchange
    rate for its currency): its points are in the pool, its price in no line."""

    sale: Sale
    reason: str


class PoolState(Frozen):
    """The points pool at an instant (ledger balances effective then)."""

    outstanding: int
    """O: the customers' points (net of clawback debt)."""
    redeemed: int
    """R: points spent on rewards, converted to store credit or exchanged out."""
    expired: int
    """E: points lost to expiry."""


class Recognition(Frozen):
    """Cumulative revenue recognised at an instant: total and its redemption part (money, rounded)."""

    total: Decimal
    redemption: Decimal


class RevenueCatchUp(Frozen):
    """A change of estimate inside the window and the revenue it recognised at once (negative: reversed)."""

    at: datetime
    transaction_id: int
    amount: Decimal


class RevenueSchedule(Frozen):
    """The contract liability for points rolled forward over ``(start, end]``, in the programme's currency.

    Money fields are exact decimals at the money asset's precision; points fields are whole points.
    ``estimates`` are those in force over the window: the one at ``start`` (if any) then each change.
    """

    programme: str
    currency: str
    start: datetime | None
    end: datetime
    estimates: tuple[RevenueEstimate, ...]
    sales_price: Decimal
    """Price of the window's orders that earned points, in the programme's currency."""
    allocated_to_goods: Decimal
    opening: Decimal
    allocated: Decimal
    from_partners: Decimal
    """What partners paid for the points exchanged in: their consideration, deferred like an allocation."""
    reversed_by_refunds: Decimal
    recognised_redemption: Decimal
    recognised_breakage: Decimal
    catch_up: Decimal
    closing: Decimal
    catch_ups: tuple[RevenueCatchUp, ...]
    unpriced: tuple[UnpricedSale, ...] = ()
    """Orders up to ``end`` left out of the allocation, each with why (record an estimate to price them)."""
    opening_points: int
    sale_points: int
    partner_points: int
    refund_points: int
    other_points: int
    """Points issued or removed otherwise (awards, exchange in, adjustments, write-offs), with no allocation."""
    redeemed_points: int
    expired_points: int
    closing_points: int

    def lines(self) -> tuple[tuple[str, int, Decimal], ...]:
        """(line, points, amount) for the opening and each movement, signed as they move the liability:
        both columns sum to (``closing_points``, ``closing``) when the schedule ties."""

        return (
            ("opening", self.opening_points, self.opening),
            ("allocated", self.sale_points, self.allocated),
            ("from_partners", self.partner_points, self.from_partners),
            ("reversed_by_refunds", -self.refund_points, -self.reversed_by_refunds),
            ("other_points", self.other_points, Decimal(0).quantize(self.closing)),
            ("recognised_redemption", -self.redeemed_points, -self.recognised_redemption),
            ("recognised_breakage", -self.expired_points, -self.recognised_breakage),
            ("catch_up", 0, -self.catch_up),
        )

    @property
    def revenue(self) -> Decimal:
        """Revenue recognised on points in the window: redemption + breakage + catch-up."""

        return self.recognised_redemption + self.recognised_breakage + self.catch_up

    @property
    def points_tie(self) -> int:
        """closing points − (opening + movements); 0 when the points roll forward."""

        moved = self.sale_points + self.partner_points - self.refund_points + self.other_points - self.redeemed_points - self.expired_points
        return self.closing_points - (self.opening_points + moved)

    @property
    def ties(self) -> bool:
        """The money rolls forward, the points roll forward, and no money is left once no point is."""

        money = self.opening + self.allocated + self.from_partners - self.reversed_by_refunds - self.revenue == self.closing
        return money and self.points_tie == 0 and (self.closing_points > 0 or self.closing == 0)


# -- allocation ---------------------------------------------------------------


class _Timeline:
    """The estimates by instant: which one is in force at t (the latest effective at or before t)."""

    def __init__(self, estimates: Sequence[RevenueEstimate]) -> None:
        self.estimates = sorted(estimates, key=lambda e: (e.effective, e.transaction_id))
        self._instants = [e.effective for e in self.estimates]

    def at(self, moment: datetime) -> RevenueEstimate | None:
        i = bisect_right(self._instants, moment)
        return self.estimates[i - 1] if i else None

    def changes(self, start: datetime | None, end: datetime) -> list[RevenueEstimate]:
        return [e for e in self.estimates if (start is None or e.effective > start) and e.effective <= end]


def allocation(sale: Sale, estimate: RevenueEstimate | None, *, currency: str, point_value: Decimal) -> tuple[Fraction, Fraction]:
    """(the order's price in ``currency``, its exact allocation to points), both as fractions.

    Raises InvalidCommand (saying what to record) when no estimate is in force at the order or it
    gives no exchange rate for the order's currency.
    """

    if estimate is None:
        raise InvalidCommand(
            f"order {sale.order_id} (earn #{sale.transaction_id}, {iso_instant(sale.at)}) was placed before any revenue "
            "estimate: record one in force by then with `loyalty estimate record`"
        )
    est = estimate.estimates
    if sale.currency == currency:
        fx = Fraction(1)
    else:
        rate = est.rate_of(sale.currency)
        if rate is None:
            raise InvalidCommand(
                f"order {sale.order_id} (earn #{sale.transaction_id}) is in {sale.currency}, and the estimate in force at "
                f"{iso_instant(sale.at)} (#{estimate.transaction_id}, from {iso_instant(estimate.effective)}) gives no "
                f"{sale.currency} rate: record one with `loyalty estimate record --fx {sale.currency}=RATE`"
            )
        fx = Fraction(rate)
    price = Fraction(sale.amount) * fx
    ssp = sale.points * Fraction(point_value) * (1 - Fraction(est.breakage_rate))
    if price + ssp <= 0:
        return price, Fraction(0)
    return price, price * ssp / (price + ssp)


def _round(value: Fraction, places: int) -> Decimal:
    """An exact amount rounded once, half up (ties away from zero), to ``places`` decimals."""

    scaled = value * 10**places
    whole = int(abs(scaled) + Fraction(1, 2))
    return Decimal(whole if scaled >= 0 else -whole).scaleb(-places)


class _Allocations:
    """Every order's exact allocation and price, and the refunds withdrawing part of them, by instant."""

    def __init__(self, sales: Sequence[Sale], refunds: Sequence[SaleRefund], timeline: _Timeline, *, currency: str, point_value: Decimal) -> None:
        self.sales = sorted(sales, key=lambda s: (s.at, s.transaction_id))
        self.priced: dict[int, tuple[Fraction, Fraction]] = {}
        self.unpriced: list[UnpricedSale] = []
        for sale in self.sales:
            try:
                self.priced[sale.transaction_id] = allocation(sale, timeline.at(sale.at), currency=currency, point_value=point_value)
            except InvalidCommand as exc:
                self.unpriced.append(UnpricedSale(sale=sale, reason=exc.message))
        self.by_order = {s.order_id: s for s in self.sales}
        self.refunds = sorted(refunds, key=lambda r: (r.at, r.transaction_id))
        self.withdrawal: dict[int, Fraction] = {}
        """Refund transaction id → the allocation it withdraws: its order's allocation × the further share refunded."""
        share: dict[str, Fraction] = {}
        for refund in self.refunds:
            if refund.order_id not in self.by_order:
                raise InvalidCommand(f"refund #{refund.transaction_id} is of order {refund.order_id}, whose earn is not on the ledger")
            sale = self.by_order[refund.order_id]
            if sale.amount <= 0 or sale.transaction_id not in self.priced:
                continue
            before = share.get(refund.order_id, Fraction(0))
            share[refund.order_id] = max(before, min(Fraction(1), Fraction(refund.refunded_total) / Fraction(sale.amount)))
            self.withdrawal[refund.transaction_id] = self.priced[sale.transaction_id][1] * (share[refund.order_id] - before)

    def sold(self, moment: datetime | None) -> tuple[Fraction, Fraction]:
        """(Σ price, Σ allocation) of the orders placed at or before ``moment`` (None: none)."""

        price = alloc = Fraction(0)
        if moment is None:
            return price, alloc
        for sale in self.sales:
            if sale.at > moment:
                break
            if sale.transaction_id not in self.priced:
                continue
            p, a = self.priced[sale.transaction_id]
            price += p
            alloc += a
        return price, alloc

    def withdrawn(self, moment: datetime | None) -> Fraction:
        """Σ allocation withdrawn by the refunds dated at or before ``moment``."""

        if moment is None:
            return Fraction(0)
        return sum((self.withdrawal.get(r.transaction_id, Fraction(0)) for r in self.refunds if r.at <= moment), Fraction(0))

    def consideration(self) -> dict[int, Fraction]:
        """Earn transaction id → its exact allocation to points (priced orders only)."""

        return {tx: alloc for tx, (_, alloc) in self.priced.items()}


# -- the schedule --------------------------------------------------------------

NO_ESTIMATE = Estimates(breakage_rate=Decimal(0))
"""What recognises consideration received before any estimate: no breakage expected (the first estimate is then a catch-up)."""


def revenue_schedule(
    *,
    programme: str,
    currency: str,
    places: int,
    point_value: Decimal,
    start: datetime | None,
    end: datetime,
    estimates: Sequence[RevenueEstimate],
    sales: Sequence[Sale],
    refunds: Sequence[SaleRefund],
    movements: Sequence[Movement],
    pools: dict[datetime, PoolState],
    other_points: int,
) -> RevenueSchedule:
    """The schedule over ``(start, end]`` from the records and movements up to ``end`` and the pool at ``start`` and ``end``.

    ``movements`` are every transaction's points flows between the customers and the programme
    (:mod:`.revenue_pool`); ``pools`` the points pool read at ``start`` (unless None) and ``end``
    (the points column); ``other_points`` the window's points issued or removed otherwise than by
    orders, partners, refunds, redemptions and expiries (from the points roll-forward). Raises
    InvalidCommand when a refund has no order or a pool state is missing; an order with no estimate
    or exchange rate in force is left out of the allocation and listed in ``unpriced``.
    """

    timeline = _Timeline(estimates)
    book = _Allocations(sales, refunds, timeline, currency=currency, point_value=point_value)
    flows = sorted(movements, key=lambda m: (m.at, m.transaction_id))
    consideration = book.consideration()
    zero = Decimal(0).scaleb(-places)

    def pool(moment: datetime | None) -> PoolState:
        if moment is None:
            return PoolState(outstanding=0, redeemed=0, expired=0)
        try:
            return pools[moment]
        except KeyError:
            raise InvalidCommand(f"no pool state read at {iso_instant(moment)}") from None

    def deferred(moment: datetime | None) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(price of the orders, allocated to points, withdrawn by refunds, paid by partners), cumulative, each rounded once."""

        price, sold = book.sold(moment)
        paid = sum((Fraction(m.paid) for m in flows if moment is not None and m.at <= moment), Fraction(0))
        return _round(price, places), _round(sold, places), _round(book.withdrawn(moment), places), _round(paid, places)

    def revenue_at(moment: datetime | None, estimate: RevenueEstimate | None) -> Recognition:
        if moment is None:
            return Recognition(total=zero, redemption=zero)
        done = replay(flows, moment, estimate.estimates if estimate else NO_ESTIMATE, consideration=consideration, withdrawal=book.withdrawal)
        return Recognition(total=_round(done.total, places), redemption=_round(done.redemption, places))

    start = utc(start) if start is not None else None
    end = utc(end)
    price0, sold0, withdrawn0, paid0 = deferred(start)
    price1, sold1, withdrawn1, paid1 = deferred(end)
    at_start = timeline.at(start) if start is not None else None
    rec0 = revenue_at(start, at_start)
    rec1 = revenue_at(end, timeline.at(end))
    catch_ups = []
    previous = at_start
    for change in timeline.changes(start, end):
        before, after = revenue_at(change.effective, previous), revenue_at(change.effective, change)
        if after.total != before.total:
            catch_ups.append(RevenueCatchUp(at=change.effective, transaction_id=change.transaction_id, amount=after.total - before.total))
        previous = change
    catch_up = sum((c.amount for c in catch_ups), zero)
    redemption = rec1.redemption - rec0.redemption
    in_force = ((at_start,) if at_start is not None else ()) + tuple(timeline.changes(start, end))
    p0, p1 = pool(start), pool(end)

    def inside(at: datetime) -> bool:
        return (start is None or at > start) and at <= end

    return RevenueSchedule(
        programme=programme,
        currency=currency,
        start=start,
        end=end,
        estimates=in_force,
        sales_price=price1 - price0,
        allocated_to_goods=(price1 - price0) - (sold1 - sold0),
        opening=(sold0 - withdrawn0 + paid0) - rec0.total,
        allocated=sold1 - sold0,
        from_partners=paid1 - paid0,
        reversed_by_refunds=withdrawn1 - withdrawn0,
        recognised_redemption=redemption,
        recognised_breakage=(rec1.total - rec0.total) - catch_up - redemption,
        catch_up=catch_up,
        closing=(sold1 - withdrawn1 + paid1) - rec1.total,
        catch_ups=tuple(catch_ups),
        unpriced=tuple(book.unpriced),
        opening_points=p0.outstanding,
        sale_points=sum(s.points for s in book.sales if inside(s.at)),
        partner_points=sum(m.issued for m in flows if m.paid and inside(m.at)),
        refund_points=sum(r.points for r in book.refunds if inside(r.at)),
        other_points=other_points,
        redeemed_points=p1.redeemed - p0.redeemed,
        expired_points=p1.expired - p0.expired,
        closing_points=p1.outstanding,
    )
