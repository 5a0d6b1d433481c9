"""The cohort triangle: attribution of redeemed and expired points to earn months and ages, worked by hand."""

from __future__ import annotations

from datetime import date, datetime, timezone

from support.programme import chart_with
from support.report_books import AS_OF, FakeBooks, clean_history

from loyalty_accounts.chart import Chart
from loyalty_accounts.reports.pack import cohort_triangle, read_cohort_triangle
from loyalty_accounts.reports.pack.triangle import first_cohort
from loyalty_accounts.types import PostedTransaction, Posting

UTC = timezone.utc
REDEEMED, EXPIRED = "program:points:redeemed", "program:points:expired"
JAN, FEB = "customers:c1:points:20270110", "customers:c1:points:20270205"  # cohorts 2026-01 and 2026-02
HOLD = "customers:c1:holds:h1"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def tx(tx_id: int, stamp: str, postings: list[tuple[str, str, int]], **metadata: str) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=when(stamp),
        postings=tuple(Posting(source=s, destination=d, amount=a, asset="PTS") for s, d, a in postings),
        metadata=metadata,
    )


HISTORY = [
    tx(1, "2026-01-20T10:00:00", [(JAN, REDEEMED, 30)]),
    # a hold of 40 from both cohorts, captured the same day for 25: 10 go back to February, 5 to January
    tx(2, "2026-02-01T10:00:00", [(JAN, HOLD, 30), (FEB, HOLD, 10)]),
    tx(3, "2026-02-01T10:05:00", [(HOLD, REDEEMED, 25), (HOLD, FEB, 10), (HOLD, JAN, 5)]),
    tx(4, "2026-03-02T10:00:00", [("customers:c2:points:20270205", REDEEMED, 20)]),
    tx(5, "2026-03-05T10:00:00", [(REDEEMED, "customers:c2:points:20270205", 20)]),  # a revert of 4
    tx(6, "2026-04-01T10:00:00", [(FEB, REDEEMED, 6)]),
    tx(7, "2026-03-10T10:00:00", [("customers:c3:points:noexpiry", REDEEMED, 7)]),
    tx(8, "2026-01-15T10:00:00", [("customers:c4:points:20260601", REDEEMED, 4)]),  # cohort 2025-06: earlier
    tx(9, "2027-01-10T00:00:00", [(JAN, EXPIRED, 45)], operation="expire", expires_at="2027-01-10"),
]
SINCE = when("2026-01-01T00:00:00")
AS_OF_JAN = when("2027-01-31T23:59:59.999999")


def build(chart: Chart, history: list[PostedTransaction] = HISTORY, **ledger: int):
    totals = {"redeemed": 72, "expired": 45} | ledger
    return cohort_triangle(
        chart=chart,
        since=SINCE,
        as_of=AS_OF_JAN,
        transactions=history + history[:2],  # a transaction listed twice counts once
        issued={date(2026, 1, 1): 100, date(2026, 2, 1): 50, date(2026, 3, 1): 0},
        ledger=totals,
    )


def test_each_cohort_cumulates_its_points_by_age(chart: Chart) -> None:
    triangle = build(chart)
    assert [row.cohort for row in triangle.rows] == ["2026-01", "2026-02"]  # March issued nothing, moved nothing
    assert triangle.ages == 13  # January 2026 to January 2027
    january, february = triangle.rows
    assert january.issued == 100 and february.issued == 50
    # 30 in January; the hold's 25 captured points came from January's bucket (February's 10 went back)
    assert january.redeemed == (30, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55)
    assert january.expired == (0,) * 12 + (45,)
    # 20 redeemed and reverted in March (age 1), 6 in April (age 2); age 12 is not reached by the as-of date
    assert february.redeemed == (0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, None)
    assert february.expired == (0,) * 12 + (None,)
    assert (january.redeemed_total, february.redeemed_total, january.expired_total) == (55, 6, 45)


def test_earlier_and_unattributed_points_close_the_tie_to_the_ledger(chart: Chart) -> None:
    triangle = build(chart)
    assert triangle.earlier == {"redeemed": 4}
    assert triangle.unattributed == {"redeemed": 7}
    assert triangle.total("redeemed") == 55 + 6 + 4 + 7 == 72
    assert triangle.ties("redeemed") and triangle.ties("expired")
    assert [row.expired_recorded for row in triangle.rows] == [45, 0]
    assert triangle.ok


def test_a_ledger_figure_the_postings_do_not_reach_breaks_the_tie(chart: Chart) -> None:
    triangle = build(chart, redeemed=73)
    assert not triangle.ties("redeemed") and triangle.ties("expired") and not triangle.ok


def test_an_expiry_run_recording_another_cohort_breaks_the_per_cohort_tie(chart: Chart) -> None:
    history = [*HISTORY[:-1], tx(9, "2027-01-10T00:00:00", [(JAN, EXPIRED, 45)], operation="expire", expires_at="2027-02-05")]
    triangle = build(chart, history)
    assert [(r.expired_total, r.expired_recorded) for r in triangle.rows] == [(45, 0), (0, 45)]
    assert triangle.ties("expired") and not triangle.expired_ties_per_cohort and not triangle.ok


def test_a_capture_whose_hold_is_not_in_the_reads_is_unattributed(chart: Chart) -> None:
    history = [tx(3, "2026-02-01T10:05:00", [(HOLD, REDEEMED, 25), (HOLD, FEB, 10)])]
    triangle = build(chart, history, redeemed=25, expired=0)
    assert triangle.unattributed == {"redeemed": 25} and triangle.ties("redeemed")


def test_without_expiry_every_point_is_unattributed() -> None:
    never = chart_with(expiry_days=None)
    triangle = cohort_triangle(
        chart=never, since=SINCE, as_of=AS_OF_JAN, transactions=HISTORY, issued={}, ledger={"redeemed": 72, "expired": 45}
    )
    assert triangle.rows == () and triangle.expiry_days is None
    assert triangle.unattributed == {"redeemed": 72, "expired": 45} and triangle.ok
    assert first_cohort(never, SINCE) is None


def test_the_first_cohort_is_the_oldest_with_a_bucket_live_after_the_start(chart: Chart) -> None:
    # 2026-03-15 less 365 days is 2025-03-15: a bucket of March 2025 may expire after the start
    assert first_cohort(chart, when("2026-03-15T12:00:00")) == date(2025, 3, 1)


def test_read_on_the_scripted_books(chart, catalogue) -> None:  # type: ignore[no-untyped-def]
    books = FakeBooks(chart, catalogue)
    txs = clean_history(books)
    books.void_at(txs["h-1"], "2026-03-20T10:05:00")
    triangle = read_cohort_triangle(books.ledger, chart, when("2025-12-31T23:59:59.999999"), AS_OF)
    # first cohort 2024-12; c1 and c2 earned in January 2025 (150), c4 in February 2026 (30), c1 in March 2026 (200)
    assert [(r.cohort, r.issued) for r in triangle.rows] == [("2025-01", 150), ("2026-02", 30), ("2026-03", 200)]
    january = triangle.rows[0]
    assert triangle.ages == 17 and january.redeemed[:3] == (0, 30, 30) and january.redeemed_total == 30
    assert january.expired[11:13] == (0, 120) and january.expired_total == 120 == january.expired_recorded
    assert triangle.rows[1].redeemed == (30, 30, 30, 30) + (None,) * 13
    assert triangle.rows[2].redeemed_total == 0  # the hold of 60 was voided
    assert triangle.ledger == {"redeemed": 60, "expired": 120} and triangle.ok
