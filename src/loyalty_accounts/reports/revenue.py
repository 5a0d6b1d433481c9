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

Recognition is read off the points pool at an instant (all points the ledger issued, net of
refunds: O outstanding with customers, R redeemed, E expired; N = O + R + E), with the estimate in
force at that instant::

    redemption revenue (cumulative) = A × R / N
    proportional: revenue (cumulative) = A × R / T,  T = max(R, min(N × (1 − rate), N − E))
    remote:       revenue (cumulative) = A × (R + E) / N
    breakage revenue (cumulative)   = revenue − redemption revenue

``A`` is the allocation (rounded), ``rate`` the estimate's constrained rate when it has one, else its
breakage rate. ``T`` is the redemptions expected in total: never fewer than those made, never more
than the points not lost to expiry. Once no point is outstanding, ``T = R`` and the liability is 0.
Redeemed means leaving the customers to a reward: redeemed, captured, converted to store credit or
exchanged out to a partner. The pool is the programme's, not a cohort's: points issued without a
sale (engagement awards, partner exchange in, adjustments) carry no allocation but count in R, E and
O like any other, so the allocation is recognised at the pool's pace.

A change of estimate at instant t is a **cumulative catch-up** at t: revenue at t under the new
estimate minus revenue at t under the old, all of it breakage; the allocation of earlier orders is
never changed. Over a window ``(start, end]``::

    opening  = A(start) − revenue(start)
    + allocated − reversed by refunds
    − recognised on redemption − recognised as breakage − catch-up
    = closing = A(end) − revenue(end)

Worked example (the issue's; point value 0.01, breakage 20 %): 1,000 orders of 100.00 earning
100 points: SSP 0.008 per point, allocated 100,000.00 × 800 / 100,800 = 793.65 (per order 0.79:
790.00, wrong), goods 99,206.35. 30,000 redeemed by 28 Feb: T = 80,000, revenue 297.62 of which
redemption 238.10 and breakage 59.52, liability 496.03. Estimate 25 % on 31 Mar: 317.46 − 297.62 =
catch-up 19.84, liability 476.19. 42,000 more redeemed by 30 Jun: 761.90 cumulative, 444.44 in the
quarter (333.33 + 111.11), liability 31.75. The last 28,000 expire: T = R, liability 0.00.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Sequence

from ..errors import InvalidCommand
from ..operations.revenue_estimate import Estimates, RevenueEstimate
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
    "recognised",
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

        moved = self.sale_points - self.refund_points + self.other_points - self.redeemed_points - self.expired_points
        return self.closing_points - (self.opening_points + moved)

    @property
    def ties(self) -> bool:
        """The money rolls forward, the points roll forward, and no money is left once no point is."""

        money = self.opening + self.allocated - self.reversed_by_refunds - self.revenue == self.closing
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
        for refund in self.refunds:
            if refund.order_id not in self.by_order:
                raise InvalidCommand(f"refund #{refund.transaction_id} is of order {refund.order_id}, whose earn is not on the ledger")

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
        """Σ allocation withdrawn by the refunds dated at or before ``moment``: each order's share refunded."""

        share: dict[str, Fraction] = {}
        if moment is not None:
            for refund in self.refunds:
                if refund.at > moment:
                    break
                sale = self.by_order[refund.order_id]
                if sale.amount > 0 and sale.transaction_id in self.priced:
                    share[refund.order_id] = max(share.get(refund.order_id, Fraction(0)), min(Fraction(1), Fraction(refund.refunded_total) / Fraction(sale.amount)))
        return sum((self.priced[self.by_order[o].transaction_id][1] * s for o, s in share.items()), Fraction(0))


# -- recognition --------------------------------------------------------------


def recognised(allocated: Decimal, pool: PoolState, estimates: Estimates | None, *, places: int) -> Recognition:
    """Cumulative revenue on an allocation of ``allocated`` at a pool state, under ``estimates`` (module docstring).

    Customers' net debt counts as no point outstanding. With no estimate in force nothing is
    recognised (and nothing can have been allocated).
    """

    a = Fraction(allocated)
    if a == 0 or estimates is None:
        return Recognition(total=Decimal(0).scaleb(-places), redemption=Decimal(0).scaleb(-places))
    r, e, o = max(0, pool.redeemed), max(0, pool.expired), max(0, pool.outstanding)
    n = r + e + o
    if o == 0:
        share = Fraction(1)
    elif estimates.method == "remote":
        share = Fraction(r + e, n)
    else:
        expected = max(Fraction(r), min(n * (1 - Fraction(estimates.recognition_rate)), Fraction(n - e)))
        share = Fraction(r) / expected if expected > 0 else Fraction(0)
    redemption = Fraction(r, n) if n > 0 else Fraction(0)
    return Recognition(total=_round(a * min(Fraction(1), share), places), redemption=_round(a * redemption, places))


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
    pools: dict[datetime, PoolState],
    other_points: int,
) -> RevenueSchedule:
    """The schedule over ``(start, end]`` from the records up to ``end`` and the pool at ``start``, ``end`` and each change.

    ``pools`` holds the pool state at ``start`` (unless None), ``end`` and the effective instant of
    every estimate changing inside the window; ``other_points`` the window's points movements that are
    not sales, refunds, redemptions or expiries (from the points roll-forward). Raises InvalidCommand
    when a refund has no order or a pool state is missing; an order with no estimate or exchange rate
    in force is left out of the allocation and listed in ``unpriced``.
    """

    timeline = _Timeline(estimates)
    book = _Allocations(sales, refunds, timeline, currency=currency, point_value=point_value)

    def pool(moment: datetime | None) -> PoolState:
        if moment is None:
            return PoolState(outstanding=0, redeemed=0, expired=0)
        try:
            return pools[moment]
        except KeyError:
            raise InvalidCommand(f"no pool state read at {iso_instant(moment)}") from None

    def allocated(moment: datetime | None) -> tuple[Decimal, Decimal, Decimal]:
        price, sold = book.sold(moment)
        return _round(price, places), _round(sold, places), _round(book.withdrawn(moment), places)

    def revenue_at(moment: datetime | None, estimate: RevenueEstimate | None) -> Recognition:
        _, sold, withdrawn = allocated(moment)
        if sold == withdrawn:  # nothing allocated: nothing to recognise, whatever the pool
            return recognised(Decimal(0), PoolState(outstanding=0, redeemed=0, expired=0), None, places=places)
        return recognised(sold - withdrawn, pool(moment), estimate.estimates if estimate else None, places=places)

    start = utc(start) if start is not None else None
    end = utc(end)
    price0, sold0, withdrawn0 = allocated(start)
    price1, sold1, withdrawn1 = allocated(end)
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
    catch_up = sum((c.amount for c in catch_ups), Decimal(0).scaleb(-places))
    redemption = rec1.redemption - rec0.redemption
    in_force = ((at_start,) if at_start is not None else ()) + tuple(timeline.changes(start, end))
    p0, p1 = pool(start), pool(end)
    window_sales = [s for s in book.sales if (start is None or s.at > start) and s.at <= end]
    window_refunds = [r for r in book.refunds if (start is None or r.at > start) and r.at <= end]
    return RevenueSchedule(
        programme=programme,
        currency=currency,
        start=start,
        end=end,
        estimates=in_force,
        sales_price=price1 - price0,
        allocated_to_goods=(price1 - price0) - (sold1 - sold0),
        opening=(sold0 - withdrawn0) - rec0.total,
        allocated=sold1 - sold0,
        reversed_by_refunds=withdrawn1 - withdrawn0,
        recognised_redemption=redemption,
        recognised_breakage=(rec1.total - rec0.total) - catch_up - redemption,
        catch_up=catch_up,
        closing=(sold1 - withdrawn1) - rec1.total,
        catch_ups=tuple(catch_ups),
        unpriced=tuple(book.unpriced),
        opening_points=p0.outstanding,
        sale_points=sum(s.points for s in window_sales),
        refund_points=sum(r.points for r in window_refunds),
        other_points=other_points,
        redeemed_points=p1.redeemed - p0.redeemed,
        expired_points=p1.expired - p0.expired,
        closing_points=p1.outstanding,
    )
