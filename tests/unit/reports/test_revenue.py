"""The IFRS 15 schedule on the issue's worked example, every figure to the cent, and its edges.

1,000 orders of 100.00 each earn 100 points (point value 0.01), expected breakage 20 %. The figures
asserted are the issue's, worked by hand; the pool states are what the ledger would hold.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

from loyalty_accounts.operations.revenue_estimate import Estimates, RevenueEstimate
from loyalty_accounts.reports import Movement, PoolState, RevenueSchedule, Sale, SaleRefund, movement_of, revenue_schedule
from loyalty_accounts.types import PostedTransaction, Posting

UTC = timezone.utc
LAUNCH = datetime(2024, 12, 1, tzinfo=UTC)
ORDERED = datetime(2024, 12, 31, 12, tzinfo=UTC)
JAN, FEB, MAR = (datetime(2025, m, d, 23, 59, 59, tzinfo=UTC) for m, d in ((1, 31), (2, 28), (3, 31)))
JUN, DEC = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
REVISED = datetime(2025, 3, 31, 12, tzinfo=UTC)

SALES = [Sale(transaction_id=100 + i, at=ORDERED, order_id=f"o-{i}", currency="USD", amount=Decimal("100.00"), points=100) for i in range(1000)]


def moves(at: datetime, first_id: int, count: int, **flows: int) -> list[Movement]:
    return [Movement(transaction_id=first_id + i, at=at, operation=None, **flows) for i in range(count)]


# Ten members spend or lose their points in equal parts, as the ledger would record it.
MOVEMENTS = [
    *(Movement(transaction_id=s.transaction_id, at=s.at, operation="earn", issued=s.points) for s in SALES),
    *moves(datetime(2025, 2, 20, tzinfo=UTC), 2000, 10, redeemed=3_000),
    *moves(datetime(2025, 6, 20, tzinfo=UTC), 3000, 10, redeemed=4_200),
    *moves(datetime(2025, 12, 31, 6, tzinfo=UTC), 4000, 10, expired=2_800),
]
POOLS = {
    JAN: PoolState(outstanding=100_000, redeemed=0, expired=0),
    FEB: PoolState(outstanding=70_000, redeemed=30_000, expired=0),
    MAR: PoolState(outstanding=70_000, redeemed=30_000, expired=0),
    JUN: PoolState(outstanding=28_000, redeemed=72_000, expired=0),
    DEC: PoolState(outstanding=0, redeemed=72_000, expired=28_000),
}


def estimate(at: datetime, rate: str, tx: int, **fields: object) -> RevenueEstimate:
    return RevenueEstimate(
        effective=at, estimates=Estimates(breakage_rate=Decimal(rate), **fields), approved_by="cfo", reason=None, transaction_id=tx, recorded_at=None
    )


ESTIMATES = [estimate(LAUNCH, "0.20", 1), estimate(REVISED, "0.25", 2)]


def schedule(start: datetime | None, end: datetime, estimates=ESTIMATES, sales=SALES, refunds=(), pools=POOLS, movements=MOVEMENTS) -> RevenueSchedule:
    return revenue_schedule(
        programme="acme", currency="USD", places=2, point_value=Decimal("0.01"), start=start, end=end,
        estimates=estimates, sales=sales, refunds=refunds, movements=movements, pools=pools, other_points=0,
    )


def test_the_allocation_is_by_relative_ssp_rounded_once_not_per_order():
    s = schedule(None, JAN)
    assert (s.sales_price, s.allocated, s.allocated_to_goods) == (Decimal("100000.00"), Decimal("793.65"), Decimal("99206.35"))
    per_order = (Decimal("100.00") * Decimal("0.80") / Decimal("100.80")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert per_order * 1000 == Decimal("790.00") != s.allocated  # what rounding each order would have booked
    assert (s.closing, s.sale_points, s.closing_points) == (Decimal("793.65"), 100_000, 100_000)


def test_february_redemptions_recognise_redemption_and_proportional_breakage():
    s = schedule(JAN, FEB)
    assert (s.revenue, s.recognised_redemption, s.recognised_breakage, s.catch_up) == (
        Decimal("297.62"), Decimal("238.10"), Decimal("59.52"), Decimal("0.00"),
    )
    assert (s.opening, s.closing, s.redeemed_points) == (Decimal("793.65"), Decimal("496.03"), 30_000)
    assert s.ties


def test_a_new_estimate_is_a_cumulative_catch_up_and_leaves_the_allocation_alone():
    s = schedule(FEB, MAR)
    assert (s.catch_up, s.closing, s.allocated) == (Decimal("19.84"), Decimal("476.19"), Decimal("0.00"))
    assert [(c.at, c.transaction_id, c.amount) for c in s.catch_ups] == [(REVISED, 2, Decimal("19.84"))]
    assert s.recognised_redemption == s.recognised_breakage == Decimal("0.00")
    assert [e.transaction_id for e in s.estimates] == [1, 2]


def test_june_redemptions_under_the_revised_estimate():
    s = schedule(MAR, JUN)
    assert (s.revenue, s.recognised_redemption, s.recognised_breakage) == (Decimal("444.44"), Decimal("333.33"), Decimal("111.11"))
    assert s.closing == Decimal("31.75")
    assert [e.transaction_id for e in s.estimates] == [2]


def test_once_the_rest_expires_nothing_is_owed_and_the_life_adds_up():
    year_end = schedule(JUN, DEC)
    assert (year_end.closing, year_end.recognised_breakage, year_end.expired_points, year_end.closing_points) == (
        Decimal("0.00"), Decimal("31.75"), 28_000, 0,
    )
    life = schedule(None, DEC)
    assert life.recognised_redemption == Decimal("571.43")
    assert life.recognised_breakage + life.catch_up == Decimal("222.22")
    assert life.revenue == life.allocated == Decimal("793.65")


def test_the_periods_add_up_to_the_whole():
    periods = [schedule(a, b) for a, b in ((None, JAN), (JAN, FEB), (FEB, MAR), (MAR, JUN), (JUN, DEC))]
    whole = schedule(None, DEC)
    for name in ("revenue", "recognised_redemption", "recognised_breakage", "catch_up", "allocated"):
        assert sum(getattr(p, name) for p in periods) == getattr(whole, name), name
    assert all(a.closing == b.opening for a, b in zip(periods, periods[1:]))


def test_the_remote_method_recognises_breakage_only_when_points_expire():
    remote = [estimate(LAUNCH, "0.20", 1, method="remote")]
    assert schedule(JAN, FEB, remote).revenue == Decimal("238.10")
    assert schedule(JAN, FEB, remote).recognised_breakage == Decimal("0.00")
    year = schedule(JUN, DEC, remote)
    assert (year.recognised_breakage, year.closing) == (Decimal("222.22"), Decimal("0.00"))


def test_a_constrained_estimate_recognises_less_breakage_but_allocates_as_before():
    constrained = [estimate(LAUNCH, "0.20", 1, constrained_rate=Decimal("0.15"))]
    assert schedule(JAN, FEB, constrained).revenue == Decimal("280.11")
    assert schedule(None, JAN, constrained).allocated == Decimal("793.65")


def test_a_refund_withdraws_the_share_of_the_allocation_it_refunds():
    one = [Sale(transaction_id=1, at=ORDERED, order_id="o-1", currency="USD", amount=Decimal("100.00"), points=100)]
    half = SaleRefund(transaction_id=2, at=ORDERED + timedelta(days=3), order_id="o-1", refunded_total=Decimal("50.00"), points=50)
    pools = {JAN: PoolState(outstanding=50, redeemed=0, expired=0)}
    flows = [Movement(transaction_id=1, at=ORDERED, operation="earn", issued=100), Movement(transaction_id=2, at=half.at, operation="refund", reversed=50)]
    s = schedule(None, JAN, sales=one, refunds=[half], pools=pools, movements=flows)
    assert (s.allocated, s.reversed_by_refunds, s.closing) == (Decimal("0.79"), Decimal("0.40"), Decimal("0.39"))
    assert (s.sale_points, s.refund_points) == (100, 50)


def test_an_order_in_another_currency_is_translated_at_the_rate_in_force_when_placed():
    eur = [Sale(transaction_id=1, at=ORDERED, order_id="e-1", currency="EUR", amount=Decimal("100.00"), points=110)]
    pools = {JAN: PoolState(outstanding=110, redeemed=0, expired=0)}
    rated = [estimate(LAUNCH, "0.20", 1, fx=(("EUR", Decimal("1.08")),)), estimate(REVISED, "0.20", 2, fx=(("EUR", Decimal("2")),))]
    flows = [Movement(transaction_id=1, at=ORDERED, operation="earn", issued=110)]
    s = schedule(None, JAN, rated, sales=eur, pools=pools, movements=flows)
    # 108.00 USD and 110 points worth 0.88: 108 × 0.88 / 108.88 = 0.8729...
    assert (s.sales_price, s.allocated, s.unpriced) == (Decimal("108.00"), Decimal("0.87"), ())
    unrated = schedule(None, JAN, [estimate(LAUNCH, "0.20", 1)], sales=eur, pools=pools, movements=flows)
    assert (unrated.sales_price, unrated.allocated, unrated.sale_points) == (Decimal("0.00"), Decimal("0.00"), 110)
    assert [u.sale.order_id for u in unrated.unpriced] == ["e-1"] and "gives no EUR rate" in unrated.unpriced[0].reason


def test_an_order_placed_before_any_estimate_is_left_out_by_name_and_the_rest_priced():
    late = [*SALES[:2], Sale(transaction_id=5000, at=FEB + timedelta(days=1), order_id="late", currency="USD", amount=Decimal("100.00"), points=100)]
    pools = {MAR: PoolState(outstanding=300, redeemed=0, expired=0)}
    flows = [Movement(transaction_id=s.transaction_id, at=s.at, operation="earn", issued=100) for s in late]
    s = schedule(None, MAR, [estimate(FEB, "0.20", 1)], sales=late, pools=pools, movements=flows)
    assert [u.sale.order_id for u in s.unpriced] == ["o-0", "o-1"]
    assert "order o-0 (earn #100" in s.unpriced[0].reason and "before any revenue estimate" in s.unpriced[0].reason
    assert (s.sales_price, s.allocated, s.sale_points, s.closing_points) == (Decimal("100.00"), Decimal("0.79"), 300, 300)


def test_no_points_left_with_customers_means_no_liability_left_even_with_debt():
    pools = {JAN: PoolState(outstanding=100_000, redeemed=0, expired=0), FEB: PoolState(outstanding=-5, redeemed=100_005, expired=0)}
    flows = [*MOVEMENTS[:1000], Movement(transaction_id=9, at=datetime(2025, 2, 2, tzinfo=UTC), operation="redeem", redeemed=100_005)]
    s = schedule(JAN, FEB, pools=pools, movements=flows)
    assert s.closing == Decimal("0.00") and s.closing_points == -5


def test_a_points_movement_no_line_explains_breaks_the_tie():
    s = revenue_schedule(
        programme="acme", currency="USD", places=2, point_value=Decimal("0.01"), start=JAN, end=FEB,
        estimates=ESTIMATES, sales=SALES, refunds=(), movements=MOVEMENTS,
        pools={JAN: POOLS[JAN], FEB: PoolState(outstanding=70_007, redeemed=30_000, expired=0)}, other_points=0,
    )
    assert s.points_tie == 7 and not s.ties


def test_points_given_away_lower_later_revenue_but_never_take_back_revenue_made():
    award = Movement(transaction_id=5000, at=datetime(2025, 3, 10, tzinfo=UTC), operation="engage", issued=50_000)
    spend = Movement(transaction_id=5001, at=datetime(2025, 4, 10, tzinfo=UTC), operation="redeem", redeemed=10_000)
    apr = datetime(2025, 4, 30, 23, 59, 59, tzinfo=UTC)
    pools = {**POOLS, apr: PoolState(outstanding=110_000, redeemed=40_000, expired=0)}
    flows = [*MOVEMENTS[:1010], award, spend]
    one_rate = [estimate(LAUNCH, "0.20", 1)]
    march = schedule(FEB, MAR, one_rate, pools=pools, movements=flows)
    assert (march.revenue, march.closing) == (Decimal("0.00"), Decimal("496.03"))  # 50,000 free points: nothing reversed
    april = schedule(MAR, apr, one_rate, pools=pools, movements=flows)
    # 496.0317… deferred against 50,000 + 40,000 expected redemptions: 10,000 of them recognise 55.11
    assert april.revenue == Decimal("55.11") and april.closing == Decimal("440.92")


def test_a_partners_settlement_is_the_consideration_of_the_points_it_buys():
    bought = Movement(transaction_id=1, at=ORDERED, operation="exchange_in", issued=1_000, paid=Decimal("8.00"))
    spent = Movement(transaction_id=2, at=datetime(2025, 1, 10, tzinfo=UTC), operation="redeem", redeemed=400)
    pools = {JAN: PoolState(outstanding=600, redeemed=400, expired=0)}
    s = schedule(None, JAN, [estimate(LAUNCH, "0.20", 1)], sales=[], pools=pools, movements=[bought, spent])
    assert (s.from_partners, s.partner_points, s.allocated) == (Decimal("8.00"), 1_000, Decimal("0.00"))
    assert (s.revenue, s.recognised_redemption, s.closing) == (Decimal("4.00"), Decimal("3.20"), Decimal("4.00"))  # 8 × 400/800; 8 × 400/1000
    assert s.ties


def test_a_transactions_points_flows_between_customers_and_programme(chart):
    def tx(operation: str, *postings: tuple[str, str, int, str], **metadata: str) -> PostedTransaction:
        return PostedTransaction(
            id=7, timestamp=ORDERED, metadata={"operation": operation, **metadata},
            postings=tuple(Posting(source=s, destination=d, amount=a, asset=asset) for s, d, a, asset in postings),
        )

    bucket, other = "customers:c1:points:20251231", "customers:c2:points:20251231"
    earn = tx("earn", ("program:points:issued:3", "customers:c1:pending:20250114:20251231", 100, "PTS"), ("program:tiers:qualifying", "customers:c1:qualifying:20241231", 100, "QPTS"))
    assert (movement_of(chart, earn).issued, movement_of(chart, earn).paid) == (100, Decimal(0))
    bought = tx("exchange_in", ("program:points:issued:3", bucket, 80, "PTS"), ("partners:skyway:settlement", "program:exchange:revenue", 32, "USD/2"), settlement="0.32")
    assert (movement_of(chart, bought).issued, movement_of(chart, bought).paid) == (80, Decimal("0.32"))
    spent = tx("exchange_out", (bucket, "partners:skyway:exchanged", 180, "PTS"))
    assert movement_of(chart, spent).redeemed == 180
    assert movement_of(chart, tx("expire", (bucket, "program:points:expired", 12, "PTS"))).expired == 12
    assert movement_of(chart, tx("refund", (bucket, "program:points:issued:3", 9, "PTS"))).reversed == 9
    assert movement_of(chart, tx("adjust", ("program:points:adjustments", bucket, 5, "PTS"))).added == 5
    assert movement_of(chart, tx("transfer", (bucket, other, 30, "PTS"))) is None  # the pool is the same
