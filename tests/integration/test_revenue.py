"""The IFRS 15 revenue schedule on the real Formance Ledger: the issue's worked example, to the cent.

1,000 orders of 100.00 USD (ten customers, a hundred orders each) earn 100 points each on
2024-12-31; finance records 20 % breakage at launch; 30,000 points are redeemed in February; the
estimate moves to 25 % on 31 March; 42,000 more are redeemed in June; the remaining 28,000 expire on
31 December (a year after the orders). Every figure asserted is the issue's, worked by hand. The
estimates themselves are ledger transactions: replayed, refused when they clash, and kept out of
closed periods like every other posting.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from support.programme import programme, rules_text, usd

from loyalty_accounts.errors import LoyaltyError
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import EarnCommand, RedeemCommand
from loyalty_accounts.operations.revenue_estimate import Estimates, RevenueEstimateCommand
from loyalty_accounts.reports import FinanceReports, read_movements

pytestmark = pytest.mark.integration

UTC = timezone.utc
CUSTOMERS = [f"m{i:02d}" for i in range(10)]
ORDERED = datetime(2024, 12, 31, 12, tzinfo=UTC)
REVISED = datetime(2025, 3, 31, 12, tzinfo=UTC)
JAN, FEB, MAR, JUN, DEC = (datetime(2025, m, d, 23, 59, 59, 999999, tzinfo=UTC) for m, d in ((1, 31), (2, 28), (3, 31), (6, 30), (12, 31)))
ONE_TIER = rules_text(
    ('    - {name: silver, threshold: 5000, multiplier: "1.25"}\n', ""),
    ('    - {name: gold, threshold: 20000, multiplier: "1.5"}\n', ""),
)


def record(at: datetime, rate: str, **fields: object) -> RevenueEstimateCommand:
    return RevenueEstimateCommand(effective=at, estimates=Estimates(breakage_rate=Decimal(rate), **fields), approved_by="cfo")


def redeem_each(program, points: int, at: datetime, tag: str) -> None:
    for customer in CUSTOMERS:
        program.redeem(RedeemCommand(customer=customer, redemption_id=f"{tag}-{customer}", points=points, reward="voucher", at=at))


def test_the_worked_example_reproduces_to_the_cent_on_the_server(client: LedgerClient) -> None:
    program = programme(client, rules=ONE_TIER, expiry_days=365, pending_days=14)
    program.execute(record(datetime(2024, 12, 1, tzinfo=UTC), "0.2"))
    orders = [EarnCommand(customer=c, order_id=f"{c}-{n:03d}", amount=usd("100.00"), ordered_at=ORDERED) for c in CUSTOMERS for n in range(100)]
    with ThreadPoolExecutor(max_workers=len(CUSTOMERS)) as pool:
        earned = list(pool.map(lambda cs: [program.earn(o).transactions[0] for o in cs], [orders[i::len(CUSTOMERS)] for i in range(len(CUSTOMERS))]))
    assert sum(int(tx.metadata["points"]) for txs in earned for tx in txs) == 100_000
    program.release(datetime(2025, 1, 20, tzinfo=UTC))
    redeem_each(program, 3_000, datetime(2025, 2, 20, tzinfo=UTC), "feb")
    program.execute(record(REVISED, "0.25"))
    redeem_each(program, 4_200, datetime(2025, 6, 20, tzinfo=UTC), "jun")
    program.expire(datetime(2025, 12, 31, 6, tzinfo=UTC))

    reports = FinanceReports(client, program.chart)
    opening = reports.revenue(None, JAN)
    assert (opening.sales_price, opening.allocated, opening.allocated_to_goods, opening.closing) == (
        Decimal("100000.00"), Decimal("793.65"), Decimal("99206.35"), Decimal("793.65"),
    )
    feb = reports.revenue(JAN, FEB)
    assert (feb.revenue, feb.recognised_redemption, feb.recognised_breakage, feb.closing) == (
        Decimal("297.62"), Decimal("238.10"), Decimal("59.52"), Decimal("496.03"),
    )
    mar = reports.revenue(FEB, MAR)
    assert (mar.catch_up, mar.closing) == (Decimal("19.84"), Decimal("476.19"))
    assert [c.at for c in mar.catch_ups] == [REVISED]
    q2 = reports.revenue(MAR, JUN)
    assert (q2.revenue, q2.recognised_redemption, q2.recognised_breakage, q2.closing) == (
        Decimal("444.44"), Decimal("333.33"), Decimal("111.11"), Decimal("31.75"),
    )
    h2 = reports.revenue(JUN, DEC)
    assert (h2.closing, h2.expired_points, h2.closing_points) == (Decimal("0.00"), 28_000, 0)
    life = reports.revenue(None, DEC)
    assert (life.recognised_redemption, life.recognised_breakage + life.catch_up, life.revenue) == (
        Decimal("571.43"), Decimal("222.22"), Decimal("793.65"),
    )
    for schedule in (opening, feb, mar, q2, h2, life):
        assert schedule.ties, schedule
        activity = reports.activity(schedule.start, schedule.end)  # the points, read another way
        lines = {line.line: line.points for line in activity.lines}
        assert schedule.redeemed_points == -(lines["redeemed"] + lines["converted"] + lines["exchanged"])
        assert schedule.expired_points == -lines["expired"]
        assert (schedule.opening_points, schedule.closing_points) == (activity.opening_points, activity.closing_points)
    flows = read_movements(client, program.chart, DEC)  # the pool replayed ends where the ledger's balances do
    assert sum(m.issued + m.added - m.reversed - m.removed - m.redeemed - m.expired for m in flows) == life.closing_points == 0
    assert sum(m.redeemed for m in flows) == 72_000 and sum(m.expired for m in flows) == 28_000
    assert [(e.estimates.breakage_rate, e.approved_by) for e in reports.estimates()] == [(Decimal("0.2"), "cfo"), (Decimal("0.25"), "cfo")]


def test_an_estimate_is_recorded_once_per_instant_and_never_into_closed_books(client: LedgerClient) -> None:
    program = programme(client)
    at = datetime(2025, 6, 1, tzinfo=UTC)
    first = program.execute(record(at, "0.2", fx=(("EUR", Decimal("1.08")),)))
    again = program.execute(record(at, "0.20", fx=(("EUR", Decimal("1.080")),)))
    assert not first.replayed and again.replayed
    assert again.transactions[0].id == first.transactions[0].id
    with pytest.raises(LoyaltyError):
        program.execute(record(at, "0.3"))
    program.close_period(datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))
    with pytest.raises(LoyaltyError, match="closed"):
        program.execute(record(datetime(2025, 9, 1, tzinfo=UTC), "0.3"))
    estimates = FinanceReports(client, program.chart).estimates()
    assert [(e.effective, e.estimates.breakage_rate, e.estimates.rate_of("EUR")) for e in estimates] == [(at, Decimal("0.2"), Decimal("1.08"))]
    assert client.aggregate_balances(program.chart.address("revenue_estimates")) in ({}, {"CTL": 0})
