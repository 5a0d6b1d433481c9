"""Breakage: cohorts, the pure estimate on hand-made positions, and the service on the scripted history."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from support.finance_books import at
from support.report_books import (
    AS_OF,
    FakeBooks,
    acct,
    breakage_without_closed_cohorts,
    reports,
)

from loyalty_accounts.chart import Chart
from loyalty_accounts.reports.breakage import breakage_report, closed_cohorts, cohort_of, refunded_by_cohort
from loyalty_accounts.types import PostedTransaction, Posting


def test_cohorts_close_when_their_last_bucket_is_due() -> None:
    # January 2025 earns expire from 2026-01-01 (Jan 1 + 365) to 2026-01-31.
    assert cohort_of(date(2026, 1, 31), 365) == date(2025, 1, 1)
    assert cohort_of(date(2027, 3, 1), 365) == date(2026, 3, 1)
    assert closed_cohorts(date(2026, 1, 31), 365, 2) == (date(2024, 12, 1), date(2025, 1, 1))
    assert closed_cohorts(date(2026, 1, 30), 365, 2) == (date(2024, 11, 1), date(2024, 12, 1))
    assert closed_cohorts(date(2026, 5, 1), 365, 1) == (date(2025, 4, 1),)


def test_breakage_estimate_from_closed_cohorts(chart: Chart) -> None:
    positions = [
        acct("customers:a:points:20270301", 140),  # cohort 2026-03, not due
        acct("customers:b:pending:20260415:20270401", 80),  # cohort 2026-04
        acct("customers:c:points:20260420", 9),  # cohort 2025-04: closed, due, not swept
        acct("customers:d:points:noexpiry", 10),  # never expires
    ]
    report = breakage_report(
        start=None,
        end=AS_OF,
        chart=chart,
        realised=120,
        positions=positions,
        expired_by_expiry={date(2026, 1, 10): 70, date(2026, 1, 20): 50},
        issued_by_cohort={date(2025, 1, 1): 150, date(2025, 4, 1): 21},
    )
    # rate = (120 + 9 awaiting in 2025-04) / (150 + 21) = 129 / 171
    assert report.rate == Decimal("0.754386")
    cohorts = {c.cohort: c for c in report.cohorts}
    assert (cohorts["2025-01"].issued, cohorts["2025-01"].expired, cohorts["2025-01"].rate) == (150, 120, Decimal("0.8"))
    assert cohorts["2025-04"].awaiting_expiry == 9 and cohorts["2025-04"].status == "closed"
    assert cohorts["2026-03"].estimated == 106  # 140 × 129/171 = 105.6 → 106
    assert cohorts["2026-04"].estimated == 60  # 80 × 129/171 = 60.4 → 60
    assert report.estimated_points == 166 and report.estimated_value == Decimal("1.66")
    assert report.awaiting_expiry_points == 9
    assert report.realised_value == Decimal("1.20")
    assert "expiry date minus policies.expiry_days" in report.method
    assert report.rate_cohorts[-1] == "2025-04" and len(report.rate_cohorts) == 12


def test_breakage_without_closed_cohorts_gives_no_rate(chart: Chart) -> None:
    report = breakage_without_closed_cohorts(chart)
    assert report.rate is None and report.estimated_points is None and report.estimated_value is None
    assert report.note is not None and "too little history" in report.note
    assert [(c.status, c.outstanding, c.estimated) for c in report.cohorts] == [("open", 140, None)]


def test_realised_breakage_and_estimate(full: FakeBooks) -> None:
    service = reports(full)
    report = service.breakage()
    assert (report.realised_points, report.realised_value) == (120, Decimal("1.20"))
    assert report.rate == Decimal("0.800000")  # January 2025: 120 of 150 expired
    cohorts = {c.cohort: c for c in report.cohorts}
    assert set(cohorts) == {"2025-01", "2026-03", "2026-04"}
    assert (cohorts["2025-01"].issued, cohorts["2025-01"].expired) == (150, 120)
    assert (cohorts["2026-03"].outstanding, cohorts["2026-03"].estimated) == (140, 112)
    assert (cohorts["2026-04"].outstanding, cohorts["2026-04"].estimated) == (80, 64)
    assert (report.estimated_points, report.estimated_value) == (176, Decimal("1.76"))
    assert report.awaiting_expiry_points == 0

    window = service.breakage(at("2026-02-01T00:00:00"), AS_OF)
    assert window.realised_points == 0 and window.estimated_points == 176
    january = service.breakage(at("2026-01-01T00:00:00"), at("2026-02-01T00:00:00"))
    assert january.realised_points == 120 and january.rate == Decimal("0.800000")


def test_breakage_before_any_cohort_closed_says_so(full: FakeBooks) -> None:
    report = reports(full).breakage(None, at("2026-01-25T00:00:00"))
    assert report.realised_points == 120  # expired on 2026-01-21
    assert report.rate is None and report.estimated_points is None
    assert "too little history" in (report.note or "")


def test_points_a_refund_takes_back_leave_their_cohorts_issued_total(chart: Chart) -> None:
    def refund(tx_id: int, *postings: tuple[str, str, int], reverted: bool = False, operation: str = "refund") -> PostedTransaction:
        return PostedTransaction(
            id=tx_id, timestamp=datetime(2026, 3, 1, tzinfo=timezone.utc), metadata={"operation": operation}, reverted=reverted,
            postings=tuple(Posting(source=s, destination=d, amount=a, asset="PTS") for s, d, a in postings),
        )

    found = refunded_by_cohort(chart, [
        refund(1, ("customers:c1:points:20270115", "program:points:issued:1", 40), ("customers:c1:clawback", "program:points:issued:1", 60)),
        refund(2, ("customers:c2:pending:20260301:20270210", "program:points:issued:4", 25)),
        refund(3, ("customers:c3:points:20270120", "program:points:issued:2", 99), reverted=True),
        refund(4, ("customers:c3:points:20270120", "program:points:redeemed", 7), operation="redeem"),
    ])
    # buckets expiring 2027-01-15 and 2027-02-10 were earned in January and February 2026 (365 days before)
    assert found == {date(2026, 1, 1): 40, date(2026, 2, 1): 25}
