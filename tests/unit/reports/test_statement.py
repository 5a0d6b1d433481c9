"""Customer statement: the service on the scripted history (movements, reverts, what expires soon)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from support.finance_books import at
from support.report_books import AS_OF, FakeBooks, reports

from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.reports.statement import points_change
from loyalty_accounts.types import PostedTransaction, Posting


def test_customer_statement(full: FakeBooks) -> None:
    statement = reports(full).statement("c1", at("2026-01-01T00:00:00"), AS_OF, horizon_days=330)
    assert (statement.opening_points, statement.closing_points) == (70, 200)
    assert [(line.operation, line.business_key, line.points, line.balance) for line in statement.lines] == [
        ("expire", "expire:20260121T030000Z:c1:20260110", -70, 0),
        ("earn", "o-3", 200, 200),
        ("release", "release:20260316T020000Z:c1:20260315:20270301", 0, 200),
        ("hold", "h-1", 0, 200),
    ]
    assert statement.ties
    assert [(e.expires_on, e.state, e.points) for e in statement.expiring] == [(date(2027, 3, 1), "spendable", 140)]
    assert reports(full).statement("c1", at("2026-01-01T00:00:00"), AS_OF).expiring == ()


def test_statement_lists_a_void_as_a_revert(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, txs = clean
    statement = reports(books).statement("c1", at("2026-03-01T00:00:00"), AS_OF)
    last = statement.lines[-1]
    assert (last.operation, last.business_key, last.points) == ("revert of hold", f"#{txs['h-1'].id} h-1", 0)
    assert statement.closing_points == 200 and statement.ties


def test_statement_refuses_a_bad_customer_id_and_a_reversed_window(full: FakeBooks) -> None:
    with pytest.raises(InvalidCommand):
        reports(full).statement("not a customer!")
    with pytest.raises(InvalidCommand):
        reports(full).activity(AS_OF, at("2026-01-01T00:00:00"))


def test_points_change_counts_only_the_customers_own_accounts_in_points() -> None:
    chart = load_chart()
    c1, c10 = chart.bucket("c1", date(2027, 1, 1)), chart.bucket("c10", date(2027, 1, 1))
    tx = PostedTransaction(
        id=7,
        timestamp=datetime(2026, 3, 1, tzinfo=timezone.utc),
        postings=(
            Posting(source=chart.issued_shard("c1"), destination=c1, amount=50, asset="PTS"),
            Posting(source=c1, destination=c10, amount=20, asset="PTS"),
            Posting(source=chart.tiers_qualifying(), destination=chart.qualifying("c1", date(2026, 3, 1)), amount=50, asset="QPTS"),
        ),
    )
    assert points_change(chart, tx, "c1") == 30
    assert points_change(chart, tx, "c10") == 20
    assert points_change(chart, tx, "c2") == 0


def test_the_opening_of_a_customers_sequence_counter_is_not_a_movement() -> None:
    from support.fake_ledger import FakeLedger
    from support.programme import T0, earn, programme

    from loyalty_accounts.reports.statement import read_statement

    ledger = FakeLedger()
    program = programme(ledger, pending_days=0)
    program.earn(earn("c1", "o1", "25"))
    assert [tx.metadata["operation"] for tx in ledger.txs] == ["open_control", "open_control", "earn"]
    statement = read_statement(ledger, program.chart, "c1", None, T0.replace(year=2030), clock=lambda: T0.replace(year=2030))
    assert [(line.operation, line.points) for line in statement.lines] == [("earn", 25)]
    assert statement.closing_points == 25 and statement.ties
