"""The operation verbs and the demo, end to end through the CLI, on the in-memory ledger."""

from __future__ import annotations

import json

import pytest
from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.cli.context import AppContext

runner = CliRunner()


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> FakeLedger:
    fake = FakeLedger()

    def client(self: AppContext) -> FakeLedger:
        fake.ledger = self.ledger_name or "loyalty"
        return fake

    monkeypatch.setattr(AppContext, "client", client)
    return fake


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_demo_ends_with_the_hand_computed_balances_and_replays_on_a_second_run(ledger: FakeLedger) -> None:
    first = invoke("demo", "--json")
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    totals = {c["customer"]: c["total"] for c in out["customers"]}
    # worked out in src/loyalty_accounts/demo.py's story, step by step
    assert totals == {"alice": 60, "bob": 8, "carol": 30, "dave": 80}
    assert {c["customer"]: c["credit"] for c in out["customers"]}["bob"] == "2.00"
    assert out["liability_points"] == 178 and out["liability_value"] == "1.78 USD"
    assert all(v == 0 for v in out["trial_balance"].values())
    programme = {(r["account"], r["asset"]): r["balance"] for r in out["programme_accounts"]}
    assert programme[("program:points:expired", "PTS")] == 95
    assert programme[("program:points:redeemed", "PTS")] == 270
    assert programme[("partners:skyway:settlement", "USD/2")] == -75 + 32
    assert ledger.ledger == "demo"
    posted = ledger.posts

    again = invoke("demo", "--json")
    assert again.exit_code == 0, again.output
    assert ledger.posts == posted
    assert json.loads(again.stdout)["liability_points"] == 178


def test_demo_prints_tables_for_people(ledger: FakeLedger) -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert "Customers" in result.stdout and "Trial balance" in result.stdout
    assert "Outstanding points (liability): 178 = 1.78 USD" in result.stdout


def test_earn_then_redeem_and_the_json_output(ledger: FakeLedger) -> None:
    earned = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "25.90", "--ordered-at", "2026-01-01T10:00:00Z", "--json")
    assert earned.exit_code == 0, earned.output
    body = json.loads(earned.stdout)
    assert body["points"] == 25 and body["reference"] == "earn:o1" and body["replayed"] is False
    replay = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "25.90", "--ordered-at", "2026-01-01T10:00:00Z", "--json")
    assert json.loads(replay.stdout)["replayed"] is True
    assert ledger.posts == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("earn", "-c", "c1", "--order", "o1", "--amount", "-5"), 2, "amount"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "1.2.3"), 2, "not a decimal"),
        (("earn", "-c", "c 1", "--order", "o1", "--amount", "5"), 2, "customer"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--currency", "XYZ"), 2, "XYZ"),
        (("earn", "-c", "c1", "--order", "o1", "--amount", "5", "--ordered-at", "2026-01-01T10:00"), 2, "offset"),
        (("redeem", "-c", "ghost", "--redemption", "r1", "-p", "5"), 1, "ghost"),
        (("redeem", "-c", "c1", "--redemption", "r1", "-p", "0"), 2, "points"),
        (("adjust", "-c", "c1", "--adjustment", "a1", "-p", "5", "--reason", ""), 2, "reason"),
    ],
)
def test_bad_input_exits_non_zero_and_posts_nothing(ledger: FakeLedger, args: tuple[str, ...], code: int, message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert ledger.posts == 0


def test_insufficient_points_and_reused_keys_are_business_errors(ledger: FakeLedger) -> None:
    assert invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z").exit_code == 0
    assert invoke("release", "--as-of", "2025-02-01T00:00:00Z").exit_code == 0
    short = invoke("redeem", "-c", "c1", "--redemption", "r1", "-p", "11", "--at", "2025-02-02T00:00:00Z")
    assert short.exit_code == 1 and "10 spendable points; 11 needed" in short.stderr
    reused = invoke("earn", "-c", "c1", "--order", "o1", "--amount", "12", "--ordered-at", "2025-01-01T00:00:00Z")
    assert reused.exit_code == 1 and "earn:o1" in reused.stderr
    assert ledger.posts == 2


def test_balance_table_and_csv(ledger: FakeLedger) -> None:
    invoke("earn", "-c", "c1", "--order", "o1", "--amount", "10", "--ordered-at", "2025-01-01T00:00:00Z")
    table = invoke("balance", "-c", "c1")
    assert table.exit_code == 0 and "pending" in table.stdout and "total points 10" in table.stdout
    csv_out = invoke("balance", "-c", "c1", "--csv")
    assert csv_out.stdout.splitlines()[0] == "state,expiry,release,hold,points"
    assert csv_out.stdout.splitlines()[1].endswith(",10")


@pytest.mark.parametrize(
    "command",
    ["init", "earn", "release", "hold", "capture", "void", "redeem", "expire", "transfer", "exchange", "convert", "refund", "adjust", "balance", "history", "demo"],
)
def test_every_verb_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Usage" in result.stdout
