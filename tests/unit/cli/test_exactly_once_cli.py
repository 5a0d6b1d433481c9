"""Exactly-once answers at the command line: the README line run twice, a lost race, an unknown outcome."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from support.fake_ledger import FakeLedger
from support.races import FundsBeforeReference
from typer.testing import CliRunner

from loyalty_accounts.cli import app, ops
from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.cli.inputs import parse_instant
from loyalty_accounts.errors import OutcomeUnknown
from loyalty_accounts.types import PostedTransaction, TransactionPlan

runner = CliRunner()
NOW = datetime(2026, 3, 2, 9, 30, 0, 250_000, tzinfo=timezone.utc)


class NoAnswer(FakeLedger):
    """A ledger whose writes of one operation go unanswered until the retry budget is spent."""

    def __init__(self, operation: str) -> None:
        super().__init__()
        self.operation = operation

    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        if plan.operation == self.operation:
            raise OutcomeUnknown(
                "post transaction: no definite answer from the Formance ledger at http://ledger.test after 9 attempt(s) "
                "over 45.3 s. It may have been posted: run the same command again to learn",
                code=None,
            )
        return super().post(plan, schema_version=schema_version)


def use(monkeypatch: pytest.MonkeyPatch, fake: FakeLedger) -> FakeLedger:
    def client(self: AppContext) -> FakeLedger:
        fake.ledger = self.app.ledger_name
        return fake

    monkeypatch.setattr(AppContext, "client", client)
    # As `loyalty init` leaves it: the ledger refuses writes naming a schema it does not hold.
    assert runner.invoke(app, ["init"]).exit_code == 0
    return fake


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """"Now" for the CLI's defaults: NOW, then one second later at each use."""

    used: list[datetime] = []

    def now_or_given(text: str | None, *, option: str = "--at") -> datetime:
        if text is not None:
            return parse_instant(text, option=option)
        used.append(NOW + timedelta(seconds=len(used)))
        return used[-1]

    monkeypatch.setattr(ops, "parse_instant", now_or_given)
    yield used


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_the_readme_earn_line_run_twice_a_second_apart_is_one_earn(
    monkeypatch: pytest.MonkeyPatch, clock: list[datetime]
) -> None:
    ledger = use(monkeypatch, FakeLedger())
    line = ("earn", "-c", "alice", "--order", "A-1", "--amount", "25.90", "--json")
    first = invoke(*line)
    second = invoke(*line)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert clock == [NOW, NOW + timedelta(seconds=1)]  # two different "now"s were used
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    # order_defaults (general ×1 in store): 25.90 USD → floor(25.90) = 25 points
    assert (one["replayed"], one["points"]) == (False, 25)
    assert (two["replayed"], two["points"], two["transactions"]) == (True, 25, one["transactions"])
    assert ledger.posts == 1
    # The order time recorded is the first run's.
    tx = ledger.find_by_reference("earn:A-1")
    assert tx is not None and tx.metadata["ordered_at"] == "2026-03-02T09:30:00.250000Z"
    # A stated, different order time is another order under the same key: refused.
    other = invoke(*line[:-1], "--ordered-at", "2026-03-01T09:30:00Z")
    assert other.exit_code == 1 and "earn:A-1" in other.stderr


def test_the_losing_twin_of_a_redemption_exits_0_with_the_original(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = use(monkeypatch, FundsBeforeReference())
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z").exit_code == 0
    assert invoke("release", "--as-of", "2025-02-01T00:00:00Z").exit_code == 0
    ledger.twin = "redeem"  # the same command, sent by another caller, posts first
    result = invoke("redeem", "-c", "c1", "--redemption", "R-1", "-p", "10", "--at", "2025-02-02T00:00:00Z", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    original = ledger.find_by_reference("redeem:R-1")
    assert original is not None
    assert body["replayed"] is True and body["points"] == 10 and body["transactions"] == [original.id]
    assert ledger.account("program:points:redeemed").balance("PTS") == 10


def test_an_unknown_outcome_exits_4_and_says_to_run_the_command_again(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, NoAnswer("redeem"))
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z").exit_code == 0
    assert invoke("release", "--as-of", "2025-02-01T00:00:00Z").exit_code == 0
    result = invoke("redeem", "-c", "c1", "--redemption", "R-1", "-p", "5", "--at", "2025-02-02T00:00:00Z")
    assert result.exit_code == 4
    assert "may have been posted: run the same command again to learn" in result.stderr
