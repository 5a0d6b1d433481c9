"""Liability: the pure statement on hand-made balances, and the service on the scripted history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from support.finance_books import at
from support.report_books import (
    AS_OF,
    FakeBooks,
    acct,
    full_history,
    liability_with_negative_balances,
    reports,
)

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.reports.liability import LiabilityStatement, liability_of, liability_statement
from loyalty_accounts.types import Posting


def test_liability_moves_negative_balances_to_their_own_line(chart: Chart) -> None:
    report = liability_with_negative_balances(chart)
    lines = {line.state: line for line in report.lines}
    assert {s: (l.points, l.customers) for s, l in lines.items()} == {
        "spendable": (100, 1),
        "due": (0, 0),
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
        "due": (0, Decimal("0.00"), 0),
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
    assert points == {"spendable": 120, "due": 0, "pending": 0, "held": 0, "negative": 0, "other": 0}
    assert report.total_value == Decimal("1.20") and report.customers_with_position == 2 and report.ties


class Spy:
    """A ledger that records the reads a report makes (and may act between them)."""

    def __init__(self, ledger: Any, on_accounts: Callable[[], None] | None = None) -> None:
        self._ledger = ledger
        self.reads: list[tuple[str, str | None, datetime | None]] = []
        self._on_accounts = on_accounts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def accounts(self, address_filter: str, *, pit: datetime | None = None) -> Any:
        self.reads.append(("accounts", address_filter, pit))
        if self._on_accounts is not None:
            self._on_accounts()
            self._on_accounts = None
        return self._ledger.accounts(address_filter, pit=pit)

    def volumes(self, address_filter: str | None = None, **options: Any) -> Any:
        self.reads.append(("volumes", address_filter, options.get("end")))
        return self._ledger.volumes(address_filter, **options)


def _as_before(books: FakeBooks, pit: datetime) -> LiabilityStatement:
    """The statement read the way it always was: aggregates and every customer account, all at ``pit``."""

    ledger, chart = books.ledger, books.chart
    return liability_of(ledger, chart, pit, list(ledger.accounts(chart.customer_filter(), pit=pit)))


def _kinds(chart: Chart) -> list[str]:
    return [chart.kind_filter(k) for k in ("customer_points", "customer_pending", "customer_hold", "customer_clawback")]


def test_liability_now_reads_the_current_state_and_only_the_points_kinds(chart: Chart, catalogue: Catalogue) -> None:
    books = FakeBooks(chart, catalogue)
    full_history(books)
    spy = Spy(books.ledger)
    report = FinanceReports(spy, chart, clock=lambda: AS_OF).liability()  # type: ignore[arg-type]
    assert report == _as_before(books, AS_OF)
    assert [(f, p) for what, f, p in spy.reads if what == "accounts"] == [(f, None) for f in _kinds(chart)]
    assert all(p is None for what, _, p in spy.reads if what == "volumes")


def test_a_transaction_dated_after_the_instant_means_point_in_time_reads(chart: Chart, catalogue: Catalogue) -> None:
    books = FakeBooks(chart, catalogue)
    full_history(books)
    books.earn("c1", "o-later", "30.00", "2026-05-10T10:00:00")  # after AS_OF
    spy = Spy(books.ledger)
    report = FinanceReports(spy, chart, clock=lambda: AS_OF).liability()  # type: ignore[arg-type]
    assert report == _as_before(books, AS_OF) and report.ties
    assert report.total_points == reports(books).liability(AS_OF).total_points == 260  # the later earn is not in it
    assert {p for what, _, p in spy.reads} == {AS_OF}


def test_a_later_dated_transaction_posted_during_the_reads_is_caught(chart: Chart, catalogue: Catalogue) -> None:
    books = FakeBooks(chart, catalogue)
    full_history(books)
    spy = Spy(books.ledger, on_accounts=lambda: books.earn("c5", "o-during", "50.00", "2026-05-10T10:00:00"))
    report = FinanceReports(spy, chart, clock=lambda: AS_OF).liability()  # type: ignore[arg-type]
    assert report == _as_before(books, AS_OF) and report.total_points == 260
    assert spy.reads[-1] == ("accounts", _kinds(chart)[-1], AS_OF), "read again at pit after the check"


def test_points_in_a_customer_account_of_no_points_kind_list_every_customer_account(chart: Chart, catalogue: Catalogue) -> None:
    books = FakeBooks(chart, catalogue)
    full_history(books)
    books.raw((Posting(source="customers:c2:points:noexpiry", destination="customers:c2:odd", amount=4, asset="PTS"),
               Posting(source="customers:c2:odd", destination="customers:c6:odd", amount=4, asset="PTS")), "2026-04-11T10:00:00")
    spy = Spy(books.ledger)
    report = FinanceReports(spy, chart, clock=lambda: AS_OF).liability()  # type: ignore[arg-type]
    assert report == _as_before(books, AS_OF)
    assert [f for what, f, _ in spy.reads if what == "accounts"] == [chart.customer_filter()]
    other = {line.state: line for line in report.lines}["other"]
    assert (other.points, other.customers) == (4, 1)  # c6; c2's odd account passed them on
