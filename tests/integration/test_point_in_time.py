"""Reads as of a past instant on the real Formance Ledger see what was *effective* then (issue 8, item 2).

Every transaction below is posted now, while this test runs, with a timestamp
in the past. A read as of 2026-06-01 must therefore count every one of them
dated before that instant, although the ledger received them months later: by
insertion order it had received nothing by then, and the reports used to say
so (liability 0 customers and "ties: NO", reconcile passing with a lapsed hold,
statement without expiring lines, breakage without cohorts, balance empty).

History (UTC; chart: pending 14 days, expiry 365 days, holds lapse after
30 minutes, 1 PTS = 0.01 USD; earns at 1 point per dollar)::

    2025-01-10 12:00  earn bob b-1 50.00 USD   → pending 20250124:20260110   50
    2025-01-25 02:00  release bob              → bucket 20260110             50
    2025-02-01 10:00  redeem bob r-b 10                                      40 left
    2026-01-11 03:00  expire bob's bucket 20260110                           40 expired
    2026-03-01 10:00  earn alice a-1 100.00 USD → pending 20260315:20270301 100
    2026-03-15 02:00  release alice            → bucket 20270301            100
    2026-04-01 10:00  hold alice h-a 40 (lapses 10:30, never settled)        60 in the bucket, 40 held

As of 2026-06-01 00:00: alice owes 60 spendable + 40 held = 100 points
(1.00 USD); bob holds nothing (50 issued - 10 redeemed - 40 expired).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
from support.finance_books import Books, at, server_books
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.errors import UnknownEntity
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.rules import load_rules
from loyalty_accounts.services.accounts import Bucket, HeldPoints, PendingPoints

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AS_OF = at("2026-06-01T00:00:00")
AS_OF_TEXT = "2026-06-01T00:00:00Z"


def back_dated_history(b: Books) -> None:
    b.earn("bob", "b-1", "50.00", "2025-01-10T12:00:00")
    b.release("bob", "2025-01-25T02:00:00")
    b.redeem("bob", "r-b", 10, "2025-02-01T10:00:00")
    b.expire("bob", "2026-01-11T03:00:00")
    b.earn("alice", "a-1", "100.00", "2026-03-01T10:00:00")
    b.release("alice", "2026-03-15T02:00:00")
    b.hold("alice", "h-a", 40, "2026-04-01T10:00:00")


@pytest.fixture
def books(ledger_url: str, ledger_name: str) -> Iterator[Books]:
    with server_books(ledger_url, ledger_name) as b:
        back_dated_history(b)
        yield b


def test_the_history_was_posted_after_the_instant_it_is_read_at(books: Books) -> None:
    # The premise of every test here: by insertion date the ledger had nothing at 2026-06-01,
    # by effective date it owed 100 points to customers.
    customers = "customers:..."
    assert books.ledger.aggregate_balances(customers, pit=AS_OF, use_insertion_date=True) == {}
    assert books.ledger.aggregate_balances(customers, pit=AS_OF)["PTS"] == 100

    # One account as of an instant: its effective volumes, and unknown before its first dated movement.
    bucket = books.ledger.account("customers:alice:points:20270301", pit=AS_OF)
    assert (bucket.volumes["PTS"].input, bucket.volumes["PTS"].output, bucket.balance("PTS")) == (100, 40, 60)
    assert books.ledger.account("customers:alice:holds:h-a", pit=AS_OF).balance("PTS") == 40
    with pytest.raises(UnknownEntity):
        books.ledger.account("customers:alice:holds:h-a", pit=at("2026-04-01T09:59:59"))


def test_liability_as_of_a_past_instant_lists_back_dated_points_and_ties(books: Books) -> None:
    liability = FinanceReports(books.ledger, books.chart).liability(AS_OF)
    assert {line.state: (line.points, line.value, line.customers) for line in liability.lines} == {
        "spendable": (60, Decimal("0.60"), 1),
        "due": (0, Decimal("0.00"), 0),
        "pending": (0, Decimal("0.00"), 0),
        "held": (40, Decimal("0.40"), 1),
        "negative": (0, Decimal("0.00"), 0),
        "other": (0, Decimal("0.00"), 0),
    }
    assert (liability.total_points, liability.total_value) == (100, Decimal("1.00"))
    assert liability.ties and liability.ledger_total_points == 100
    assert liability.customers_with_position == 1  # alice; bob's accounts are empty

    # 2025-06-01: only bob's 40 (50 - 10 redeemed), still in his bucket; alice had not started.
    earlier = FinanceReports(books.ledger, books.chart).liability(at("2025-06-01T00:00:00"))
    assert (earlier.total_points, earlier.customers_with_position, earlier.ties) == (40, 1, True)
    # 2026-03-10: alice's 100 pending (release 03-15), bob's expired.
    pending = FinanceReports(books.ledger, books.chart).liability(at("2026-03-10T00:00:00"))
    assert {line.state: line.points for line in pending.lines}["pending"] == 100
    assert (pending.total_points, pending.customers_with_position, pending.ties) == (100, 1, True)


def test_points_past_expiry_and_not_yet_swept_are_due_in_balance_liability_and_reconcile(books: Books) -> None:
    # bob's bucket 20260110 held 40 points on its expiry date; the sweep ran on 2026-01-11 03:00.
    # In between they are due: not spendable, still owed, and the sweep is overdue.
    program = LoyaltyProgram(books.ledger, books.chart, books.catalogue)
    service = FinanceReports(books.ledger, books.chart)
    between, swept = at("2026-01-10T12:00:00"), at("2026-01-11T04:00:00")
    bob = program.balance("bob", pit=between)
    assert (bob.spendable, bob.due, bob.total) == (0, 40, 40)
    assert bob.buckets == (Bucket(expiry=date(2026, 1, 10), points=40, due=True),)
    assert program.balance("bob", pit=at("2026-01-09T23:59:59")).spendable == 40  # the day before: spendable

    lines = {line.state: line.points for line in service.liability(between).lines}
    assert (lines["spendable"], lines["due"]) == (0, 40)
    overdue = service.reconcile(between).check("overdue_expiry")
    assert overdue.status == "fail"
    assert overdue.offending == ("customers:bob:points:20260110: 40 points, expired on 2026-01-10",)

    after = service.liability(swept)
    assert ({line.state: line.points for line in after.lines}["due"], after.total_points) == (0, 0)
    assert service.reconcile(swept).check("overdue_expiry").status == "pass"


def test_reconcile_as_of_a_past_instant_finds_the_lapsed_back_dated_hold(books: Books) -> None:
    service = FinanceReports(books.ledger, books.chart)
    result = service.reconcile(AS_OF)
    assert {c.name: c.status for c in result.checks} == {
        "trial_balance": "pass",
        "roll_forward": "pass",  # 150 issued - 10 redeemed - 40 expired = 100 closing
        "negative_balances": "pass",
        "expired_holds": "fail",
        "overdue_pending": "pass",
        "overdue_expiry": "pass",
        "transaction_metadata": "pass",
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
    assert not result.ok
    (lapsed,) = result.check("expired_holds").offending
    assert lapsed.startswith("customers:alice:holds:h-a: 40 points, lapsed at 2026-04-01T10:30:00Z")
    # Within its 30 minutes the hold was fine, and so was everything else.
    assert service.reconcile(at("2026-04-01T10:15:00")).ok


def test_statement_as_of_a_past_instant_keeps_its_lines_and_expiring_points(books: Books) -> None:
    # Horizon 300 days from 2026-06-01 reaches 2027-03-28: alice's bucket 20270301 (60) expires inside it;
    # the 40 held carry no expiry date.
    statement = FinanceReports(books.ledger, books.chart).statement("alice", None, AS_OF, horizon_days=300)
    assert (statement.opening_points, statement.closing_points) == (0, 100) and statement.ties
    assert [(line.operation, line.business_key, line.points) for line in statement.lines] == [
        ("earn", "a-1", 100),
        ("release", "release:20260315T020000Z:alice:20260315:20270301", 0),
        ("hold", "h-a", 0),
    ]
    assert [(str(e.expires_on), e.state, e.points) for e in statement.expiring] == [("2027-03-01", "spendable", 60)]
    # As of 2026-03-10 the 100 were pending, expiring on the same date.
    early = FinanceReports(books.ledger, books.chart).statement("alice", None, at("2026-03-10T00:00:00"), horizon_days=400)
    assert [(str(e.expires_on), e.state, e.points) for e in early.expiring] == [("2027-03-01", "pending", 100)]


def test_breakage_to_a_past_instant_shows_its_cohorts(books: Books) -> None:
    # Closed cohorts at 2026-06-01 (expiry 365 days): 2024-06 … 2025-05. Bob's 2025-01 cohort issued 50,
    # of which 40 expired: rate 0.8. Open cohort 2026-03: alice's bucket 60 (held points carry no expiry
    # and are not estimated) → 60 × 0.8 = 48.
    report = FinanceReports(books.ledger, books.chart).breakage(None, AS_OF)
    assert (report.realised_points, report.realised_value) == (40, Decimal("0.40"))
    assert report.rate == Decimal("0.800000")
    cohorts = {c.cohort: c for c in report.cohorts}
    assert set(cohorts) == {"2025-01", "2026-03"}
    assert (cohorts["2025-01"].status, cohorts["2025-01"].issued, cohorts["2025-01"].expired) == ("closed", 50, 40)
    assert (cohorts["2026-03"].outstanding, cohorts["2026-03"].estimated) == (60, 48)
    assert (report.estimated_points, report.estimated_value) == (48, Decimal("0.48"))


def test_balance_as_of_a_past_instant(books: Books) -> None:
    program = LoyaltyProgram(books.ledger, books.chart, books.catalogue)

    june = program.balance("alice", pit=AS_OF)
    assert (june.spendable, june.pending, june.held, june.clawback, june.total) == (60, 0, 40, 0, 100)
    assert june.buckets == (Bucket(expiry=date(2027, 3, 1), points=60),)
    assert june.holds == (HeldPoints(hold_id="h-a", points=40),)

    march = program.balance("alice", pit=at("2026-03-10T00:00:00"))
    assert (march.spendable, march.pending, march.held) == (0, 100, 0)
    assert march.pending_buckets == (PendingPoints(release=date(2026, 3, 15), expiry=date(2027, 3, 1), points=100),)

    # Before her first (back-dated) earn alice had nothing; she is known, so that is an empty position.
    before = program.balance("alice", pit=at("2026-02-01T00:00:00"))
    assert (before.total, before.buckets, before.pending_buckets, before.holds) == (0, (), (), ())

    bob = program.balance("bob", pit=at("2025-06-01T00:00:00"))
    assert bob.buckets == (Bucket(expiry=date(2026, 1, 10), points=40),) and bob.total == 40
    assert program.balance("bob").total == 0  # now: expired
    with pytest.raises(UnknownEntity):
        program.balance("carol", pit=AS_OF)


def test_tier_as_of_a_past_instant_counts_back_dated_earns(books: Books) -> None:
    # rules.yaml: rolling 365-day window, silver from 5000. Qualifying points are the earns' points
    # (QPTS, one per point here), kept per order day.
    program = LoyaltyProgram(books.ledger, books.chart, books.catalogue, rules=load_rules(ROOT / "rules.yaml", chart=books.chart))
    # Window [2025-06-01, 2026-06-01): alice's a-1 (100); bob's b-1 of 2025-01-10 is outside it.
    assert program.qualifying_points("alice", AS_OF) == 100
    assert program.qualifying_points("bob", AS_OF) == 0
    # Window [2024-06-01, 2025-06-01): bob's 50 count (redeeming and expiring do not lower them).
    assert program.qualifying_points("bob", at("2025-06-01T00:00:00")) == 50
    # Up to, not including, the instant of alice's order.
    assert program.qualifying_points("alice", at("2026-03-01T10:00:00")) == 0
    status = program.tier("alice", AS_OF)
    assert (status.tier, status.qualifying_points) == ("member", 100)


runner = CliRunner()


def loyalty(ledger_url: str, ledger_name: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--ledger-url", ledger_url, "--ledger", ledger_name, *args])
    return result.exit_code, result.output


def test_the_commands_as_of_a_past_instant(books: Books, ledger_url: str, ledger_name: str) -> None:
    code, out = loyalty(ledger_url, ledger_name, "report", "liability", "--as-of", AS_OF_TEXT, "--json")
    assert code == 0, out
    liability = json.loads(out)
    assert (liability["total_points"], liability["ties"], liability["customers_with_position"]) == (100, True, 1)

    code, out = loyalty(ledger_url, ledger_name, "report", "liability", "--as-of", AS_OF_TEXT)
    assert code == 0 and "ties: yes" in out, out

    code, out = loyalty(ledger_url, ledger_name, "reconcile", "--as-of", AS_OF_TEXT, "--json")
    assert code == 1, out
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert checks["expired_holds"]["status"] == "fail"
    assert checks["expired_holds"]["offending"][0].startswith("customers:alice:holds:h-a: 40 points")

    code, out = loyalty(ledger_url, ledger_name, "balance", "-c", "alice", "--as-of", AS_OF_TEXT, "--json")
    assert code == 0, out
    balance = json.loads(out)
    assert (balance["spendable"], balance["held"], balance["total"]) == (60, 40, 100)
    assert balance["as_of"] == "2026-06-01T00:00:00+00:00"

    code, out = loyalty(ledger_url, ledger_name, "balance", "-c", "alice", "--as-of", "2026-06-01T00:00:00")
    assert code == 2 and "has no UTC offset" in out, out

    code, out = loyalty(ledger_url, ledger_name, "statement", "--customer", "alice", "--to", AS_OF_TEXT, "--days", "300", "--json")
    assert code == 0, out
    statement = json.loads(out)
    assert statement["closing_points"] == 100
    expiring = [(row["expires_on"], row["state"], row["points"]) for row in statement["expiring"]]
    assert expiring == [("2027-03-01", "spendable", 60)]

    code, out = loyalty(ledger_url, ledger_name, "report", "breakage", "--to", AS_OF_TEXT, "--json")
    assert code == 0, out
    breakage = json.loads(out)
    assert breakage["estimated_points"] == 48
    cohorts = {row["cohort"]: row for row in breakage["cohorts"]}
    assert set(cohorts) == {"2025-01", "2026-03"}
