"""Finance reports on the real Formance Ledger, against answers worked out by hand from the history posted.

The history is posted with the operations' own plans, through the HTTP
client, on a fresh ledger carrying the chart as its strict schema. Every
expected figure below follows from that history alone (the comments show the
arithmetic); none is read back from a report. The server, not a model of it,
decides the point-in-time reads (``pit``), the volume windows and the log
hashes, which is what these tests are about.

Reverts are avoided: the server dates a reversal when it is made, which
would put it after the as-of instants used here. A hold is settled by a
capture instead.

History (UTC, chart: expiry 365 days, pending 14 days, claw_back, 1 PTS = 0.01 USD)::

    2025-01-10 12:00  earn c1 o-1 100.00 USD  → pending 20250124:20260110  100
    2025-01-20 09:00  earn c2 o-2  50.00 USD  → pending 20250203:20260120   50
    2025-01-25 02:00  release c1 → bucket 20260110 100;  2025-02-01 redeem c1 r-1 30
    2025-02-04 02:00  release c2 → bucket 20260120 50
    2026-01-21 03:00  expire c1 (70) and c2 (50)
    2026-02-01 10:00  earn c4 o-6 30.00 USD; 02-16 release; 02-20 redeem c4 r-2 30
    2026-03-01 10:00  earn c1 o-3 200.00 USD  → pending 20260315:20270301  200
    2026-03-02 10:00  refund c4 o-6 rf-1 30.00 → clawback -30
    2026-03-16 02:00  release c1 → bucket 20270301 200
    2026-03-20 10:00  hold c1 h-1 60; 10:10 capture h-1 60              (140 left)
    ---- the clean history ends here ----
    2026-04-01 10:00  earn c3 o-4 80.00 USD (never released); 12:00 hold c1 h-2 25 (never settled)
    2026-04-05 10:00  earn c2 o-5 40.00 USD, refunded in full on 04-06 (rf-2)
    2026-04-10 10:00  manual posting world → customers:c5:points:noexpiry 10
"""

from __future__ import annotations

import importlib.util
import random
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
from support.finance_books import Books, at, history_to_first_hold, server_books

from loyalty_accounts.reports import FinanceReports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc


AS_OF = at("2026-05-01T00:00:00")


def clean_history(b: Books) -> None:
    h1 = history_to_first_hold(b)["h-1"]
    b.capture(h1, 60, "2026-03-20T10:10:00")


def full_history(b: Books) -> None:
    clean_history(b)
    b.earn("c3", "o-4", "80.00", "2026-04-01T10:00:00")
    b.hold("c1", "h-2", 25, "2026-04-01T12:00:00")
    b.earn("c2", "o-5", "40.00", "2026-04-05T10:00:00")
    b.refund("c2", "o-5", "rf-2", "40.00", "2026-04-06T10:00:00")
    b.manual("world", "customers:c5:points:noexpiry", 10, "2026-04-10T10:00:00")


@pytest.fixture
def books(ledger_url: str, ledger_name: str) -> Iterator[Books]:
    with server_books(ledger_url, ledger_name) as b:
        yield b


def reports(b: Books) -> FinanceReports:
    return FinanceReports(b.ledger, b.chart, clock=lambda: AS_OF)


def test_reports_on_the_full_history(books: Books) -> None:
    full_history(books)
    service = reports(books)

    # Liability at 2026-05-01: c1 115 in bucket 20270301 (200 - 60 captured - 25 held) + c5 10;
    # c3 80 pending; c1's h-2 25 held; c4 -30 clawback debt. Total 200 = 2.00 USD.
    liability = service.liability(AS_OF)
    assert {line.state: (line.points, line.value, line.customers) for line in liability.lines} == {
        "spendable": (125, Decimal("1.25"), 2),
        "due": (0, Decimal("0.00"), 0),
        "pending": (80, Decimal("0.80"), 1),
        "held": (25, Decimal("0.25"), 1),
        "negative": (-30, Decimal("-0.30"), 1),
        "other": (0, Decimal("0.00"), 0),
    }
    assert (liability.total_points, liability.total_value) == (200, Decimal("2.00"))
    assert liability.ties and liability.ledger_total_points == 200
    assert liability.customers_with_position == 4  # c1, c3, c4, c5

    # At 2025-06-01 only c1's 70 and c2's 50 existed, both spendable.
    past = service.liability(at("2025-06-01T00:00:00"))
    assert {line.state: line.points for line in past.lines}["spendable"] == 120
    assert (past.total_points, past.customers_with_position) == (120, 2) and past.ties

    # Roll-forward over (2026-01-01, 2026-05-01]: 120 + 350 issued (30 + 200 + 80 + 40) - 70 reversed (30 + 40)
    # - 90 redeemed (30 + 60) - 120 expired = 190 expected; closing 200: the manual 10 from world.
    activity = service.activity(at("2026-01-01T00:00:00"), AS_OF)
    assert {line.line: line.points for line in activity.lines if line.explained} == {
        "issued": 350,
        "reversed": -70,
        "redeemed": -90,
        "expired": -120,
        "converted": 0,
        "adjusted": 0,
        "exchanged": 0,
        "written_off": 0,
    }
    assert (activity.opening_points, activity.expected_closing_points, activity.closing_points) == (120, 190, 200)
    assert not activity.ties and activity.difference == 10 and activity.residual == 0
    assert [(line.line, line.account, line.points) for line in activity.lines if not line.explained] == [("world", "world", 10)]
    year_one = service.activity(at("2025-01-01T00:00:00"), at("2026-01-01T00:00:00"))
    assert (year_one.opening_points, year_one.closing_points) == (0, 120) and year_one.ties  # 150 issued - 30 redeemed

    # Breakage: 120 expired; January 2025 issued 150 of which 120 expired, rate 0.8;
    # open cohorts: 2026-03 (c1's 115) → 92, 2026-04 (c3's 80 pending) → 64.
    breakage = service.breakage(None, AS_OF)
    assert (breakage.realised_points, breakage.realised_value) == (120, Decimal("1.20"))
    assert breakage.rate == Decimal("0.800000")
    cohorts = {c.cohort: c for c in breakage.cohorts}
    assert (cohorts["2025-01"].issued, cohorts["2025-01"].expired) == (150, 120)
    assert (cohorts["2026-03"].outstanding, cohorts["2026-03"].estimated) == (115, 92)
    assert (cohorts["2026-04"].outstanding, cohorts["2026-04"].estimated) == (80, 64)
    assert (breakage.estimated_points, breakage.estimated_value) == (156, Decimal("1.56"))
    assert service.breakage(at("2026-02-01T00:00:00"), AS_OF).realised_points == 0

    # Reconciliation names each break, and the server's log chain verifies.
    result = service.reconcile(AS_OF)
    statuses = {c.name: c.status for c in result.checks}
    assert statuses == {
        "trial_balance": "pass",
        "roll_forward": "fail",
        "negative_balances": "pass",
        "expired_holds": "fail",
        "overdue_pending": "fail",
        "overdue_expiry": "pass",
        "transaction_metadata": "fail",
        "log_chain": "pass",
        "negative_at_any_instant": "pass",
        "clawback_never_positive": "pass",
        "liability_ties": "pass",
        "engagement_limits": "not_verified",
        "campaign_caps": "not_verified",
        "order_refunds": "pass",
        "refunds_after_orders": "pass",
        "closed_periods": "pass",
        "future_dated": "pass",
        "personal_data": "pass",
    }, result.checks
    assert result.check("roll_forward").offending == ("world: +10 PTS (world)",)
    assert result.check("negative_balances").info == ("customers:c4:clawback -30 PTS",)
    (lapsed,) = result.check("expired_holds").offending
    assert lapsed.startswith("customers:c1:holds:h-2: 25 points, lapsed at 2026-04-01T12:30:00Z")
    assert result.check("overdue_pending").offending == (
        "customers:c3:pending:20260415:20270401: 80 points, release date 2026-04-15",
    )
    (manual,) = result.check("transaction_metadata").offending
    assert manual.endswith(": unknown operation 'manual'")

    # c1's statement over (2026-01-01, 2026-05-01]: 70 - 70 expired + 200 earned - 60 captured = 140 (115 + 25 held).
    statement = service.statement("c1", at("2026-01-01T00:00:00"), AS_OF, horizon_days=330)
    assert (statement.opening_points, statement.closing_points) == (70, 140) and statement.ties
    assert [(line.operation, line.business_key, line.points) for line in statement.lines] == [
        ("expire", "expire:20260121T030000Z:c1:20260110", -70),
        ("earn", "o-3", 200),
        ("release", "release:20260316T020000Z:c1:20260315:20270301", 0),
        ("hold", "h-1", 0),
        ("capture", "h-1", -60),
        ("hold", "h-2", 0),
    ]
    assert [(str(e.expires_on), e.state, e.points) for e in statement.expiring] == [("2027-03-01", "spendable", 115)]


def test_a_clean_history_ties_and_reconciles(books: Books) -> None:
    clean_history(books)
    service = reports(books)
    # 120 + 230 issued (30 + 200) - 30 reversed - 90 redeemed (30 + 60) - 120 expired = 110 = c1 140 - c4 30.
    activity = service.activity(at("2026-01-01T00:00:00"), AS_OF)
    assert (activity.opening_points, activity.closing_points) == (120, 110)
    assert activity.ties and activity.difference == 0
    result = service.reconcile(AS_OF)
    assert result.ok, result.checks
    assert {c.name: c.status for c in result.checks}["log_chain"] == "pass"
    # Before the hold lapsed nothing was wrong either.
    assert service.reconcile(at("2026-03-20T10:05:00")).ok


def test_the_benchmark_seeding_gives_a_history_that_reconciles(books: Books) -> None:
    spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "scripts" / "bench_reports.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    now = datetime.now(UTC).replace(microsecond=0)
    seeded = bench.seed(
        books.ledger,
        books.chart,
        books.catalogue,
        customers=5,
        transactions=60,
        rng=random.Random(11),
        now=now,
        schema_version=books.schema_version,
    )
    assert seeded.total == len(list(books.ledger.transactions()))
    service = FinanceReports(books.ledger, books.chart, clock=lambda: now)
    result = service.reconcile(now)
    assert result.ok, result.checks
    assert service.liability(now).ties
    assert service.activity(None, now).ties
