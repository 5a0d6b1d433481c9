"""Liability: the pure statement on hand-made balances, and the service on the scripted history."""

from __future__ import annotations

from decimal import Decimal

from support.finance_books import at
from support.report_books import (
    AS_OF,
    FakeBooks,
    acct,
    liability_with_negative_balances,
    reports,
)

from loyalty_accounts.chart import Chart
from loyalty_accounts.reports.liability import liability_statement


def test_liability_moves_negative_balances_to_their_own_line(chart: Chart) -> None:
    report = liability_with_negative_balances(chart)
    lines = {line.state: line for line in report.lines}
    assert {s: (l.points, l.customers) for s, l in lines.items()} == {
        "spendable": (100, 1),
        "pending": (40, 1),
        "held": (5, 1),
        "negative": (-50, 2),
        "other": (7, 1),
    }
    assert lines["negative"].value == Decimal("-0.50")
    assert report.total_points == 102 and report.total_value == Decimal("1.02")
    assert report.ties and report.difference == 0
    assert report.customers_with_position == 4  # a, b, c, e (d holds store credit only)
    assert [a.address for a in report.accounts_below_zero] == ["customers:a:points:20270201", "customers:c:clawback"]


def test_liability_that_does_not_add_up_says_so(chart: Chart) -> None:
    report = liability_statement(
        as_of=AS_OF, chart=chart, by_kind={"customer_points": 10}, ledger_total=12, accounts=[acct("customers:a:points:noexpiry", 10)]
    )
    assert not report.ties and report.difference == -2


def test_liability_now(full: FakeBooks) -> None:
    report = reports(full).liability()
    assert report.as_of == AS_OF
    lines = {line.state: (line.points, line.value, line.customers) for line in report.lines}
    assert lines == {
        "spendable": (150, Decimal("1.50"), 2),  # c1 140, c5 10
        "pending": (80, Decimal("0.80"), 1),  # c3
        "held": (60, Decimal("0.60"), 1),  # c1's hold h-1
        "negative": (-30, Decimal("-0.30"), 1),  # c4's clawback debt
        "other": (0, Decimal("0.00"), 0),
    }
    assert (report.total_points, report.total_value) == (260, Decimal("2.60"))
    assert report.ties and report.ledger_total_points == 260
    assert report.customers_with_position == 4
    assert [a.address for a in report.accounts_below_zero] == ["customers:c4:clawback"]


def test_liability_at_a_past_instant_uses_point_in_time_reads(full: FakeBooks) -> None:
    report = reports(full).liability(at("2025-06-01T00:00:00"))
    points = {line.state: line.points for line in report.lines}
    assert points == {"spendable": 120, "pending": 0, "held": 0, "negative": 0, "other": 0}
    assert report.total_value == Decimal("1.20") and report.customers_with_position == 2 and report.ties
