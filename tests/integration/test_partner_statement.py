"""The partner statement on the real Formance Ledger: exchanges each way (small ones that round, a back-dated
one), a posting made by hand and a revert, tied to the settlement account read on its own at both ends.

History (skyway: out 0.0125 USD per mile, in 0.0080; half_even to the cent), in the order posted::

    2026-01-05  earn c1 o-1 (points to spend)
    2026-01-10  X-1  c1 out 40 miles  0.50                      before the window
    2026-02-03  X-2  c1 out  1 mile   0.01 (0.0125: -0.0025)
    2026-02-05  X-3  c1 in   1 mile   0.01 (0.0080: +0.0020)
    2026-02-10  X-4  c1 out  2 miles  0.02 (0.0250: -0.0050)
    2026-02-20  X-5  c1 in 100 miles  0.80
    2026-03-05  X-6  c1 out  3 miles  0.04 (0.0375: +0.0025)    after the window
    2026-02-14  X-7  c1 out  6 miles  0.08 (0.0750: +0.0050)    back-dated into the window
    2026-01-20  X-8  c2 in  10 miles  0.08                      back-dated before the window
    2026-02-25  pay-1  world → partners:skyway:settlement 0.50 (a posting by hand)
    now         revert of X-3 (the server dates a revert when it is made)

Window (2026-01-31T23:59:59.999999Z, 2026-02-28T23:59:59.999999Z]:
opening -0.50 + 0.08 = -0.42; movements -0.01 +0.01 -0.02 -0.08 +0.80 +0.50 = +1.20; closing 0.78, receivable.
Rounding: out -0.0025 - 0.0050 + 0.0050 = -0.0025; in +0.0020; on the balance +0.0045.
After it, to now: X-6 -0.04 and the revert -0.01: closing 0.73.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from support.finance_books import MOVE
from support.programme import earn, programme
from typer.testing import CliRunner

from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import ExchangeInCommand, ExchangeOutCommand
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.types import PostedTransaction, TransactionPlan

pytestmark = pytest.mark.integration

UTC = timezone.utc
SETTLEMENT = "partners:skyway:settlement"
START = datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
END = datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cents_at(client: LedgerClient, pit: datetime) -> int:
    """The settlement account's balance at ``pit``, read on its own (the aggregate, not the account)."""

    return client.aggregate_balances(SETTLEMENT, pit=pit).get("USD/2", 0)


def test_the_statement_ties_to_the_settlement_account_at_both_ends(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    program = programme(client, pending_days=0)
    program.earn(earn("c1", "o-1", "500.00", at("2026-01-05T10:00:00")))
    posted: dict[str, PostedTransaction] = {}

    def exchange(key: str, customer: str, direction: str, miles: int, when: str) -> None:
        fields = dict(customer=customer, exchange_id=key, partner="skyway", partner_points=miles, at=at(when))
        if direction == "out":
            posted[key] = program.exchange_out(ExchangeOutCommand(**fields)).transactions[0]
        else:
            posted[key] = program.exchange_in(ExchangeInCommand(**fields)).transactions[0]

    exchange("X-1", "c1", "out", 40, "2026-01-10T10:00:00")
    exchange("X-2", "c1", "out", 1, "2026-02-03T10:00:00")
    exchange("X-3", "c1", "in", 1, "2026-02-05T10:00:00")
    exchange("X-4", "c1", "out", 2, "2026-02-10T10:00:00")
    exchange("X-5", "c1", "in", 100, "2026-02-20T10:00:00")
    exchange("X-6", "c1", "out", 3, "2026-03-05T10:00:00")
    exchange("X-7", "c1", "out", 6, "2026-02-14T10:00:00")  # back-dated into the window
    exchange("X-8", "c2", "in", 10, "2026-01-20T10:00:00")  # back-dated before it
    payment = client.post(
        TransactionPlan(
            operation="manual",
            template="none",
            script=MOVE,
            vars={"amount": "USD/2 50", "from": "world", "to": SETTLEMENT},
            reference="pay-1",
            command_hash="manual",
            timestamp=at("2026-02-25T10:00:00"),
        ),
        schema_version=program.schema_version,
    )
    revert = client.revert(posted["X-3"].id, metadata={"reason": "exchange cancelled"}, schema_version=program.schema_version)

    reports = FinanceReports(client, program.chart)
    s = reports.partner_statement("skyway", START, END)
    assert cents_at(client, START) == -42 and s.opening == Decimal("-0.42")
    assert cents_at(client, END) == 78 and s.ledger_closing == Decimal("0.78")
    assert [(line.business_key, line.kind, line.movement, line.balance) for line in s.lines] == [
        ("X-2", "exchange", Decimal("-0.01"), Decimal("-0.43")),
        ("X-3", "exchange", Decimal("0.01"), Decimal("-0.42")),
        ("X-4", "exchange", Decimal("-0.02"), Decimal("-0.44")),
        ("X-7", "exchange", Decimal("-0.08"), Decimal("-0.52")),
        ("X-5", "exchange", Decimal("0.80"), Decimal("0.28")),
        ("pay-1", "other", Decimal("0.50"), Decimal("0.78")),
    ]
    assert s.lines[-1].transaction_id == payment.id and s.lines[-1].operation == "manual"
    assert [line.exchange.rounding for line in s.lines if line.exchange] == [
        Decimal("-0.0025"), Decimal("0.0020"), Decimal("-0.0050"), Decimal("0.0050"), Decimal("0.0000")
    ]
    out, inbound = s.totals("out"), s.totals("in")
    assert (out.exchanges, out.points, out.partner_points, out.exact, out.settled) == (3, 27, 9, Decimal("0.1125"), Decimal("0.11"))
    assert (inbound.exchanges, inbound.points, inbound.partner_points, inbound.exact, inbound.settled) == (
        2, 202, 101, Decimal("0.8080"), Decimal("0.81")
    )
    assert (out.rounding, inbound.rounding, s.rounding_on_balance) == (Decimal("-0.0025"), Decimal("0.0020"), Decimal("0.0045"))
    assert s.closing == s.ledger_closing == Decimal("0.78") and s.ties and s.ok
    assert (s.position, s.net_amount) == ("receivable", Decimal("0.78"))

    # From the window's end to now: X-6, then the revert of X-3 (dated when it was made), named after it.
    rest = reports.partner_statement("skyway", END, revert.timestamp)
    assert [(line.kind, line.operation, line.business_key, line.movement) for line in rest.lines] == [
        ("exchange", "exchange_out", "X-6", Decimal("-0.04")),
        ("revert", "revert of exchange_in", f"#{posted['X-3'].id} X-3", Decimal("-0.01")),
    ]
    assert rest.opening == Decimal("0.78") and rest.closing == rest.ledger_closing == Decimal("0.73") and rest.ties
    assert cents_at(client, revert.timestamp) == 73
    whole = reports.partner_statement("skyway", None, revert.timestamp)
    reverted = next(line for line in whole.lines if line.business_key == "X-3")
    assert reverted.reverted_by == revert.id and whole.opening == 0 and whole.closing == Decimal("0.73") and whole.ties

    # The command line on the same ledger: the same figures, exit 0.
    result = CliRunner().invoke(
        loyalty_app,
        ["--ledger-url", ledger_url, "--ledger", ledger_name, "partner", "statement", "--partner", "skyway",
         "--from", "2026-02-01", "--to", "2026-02-28", "-f", "json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["opening"], doc["closing"], doc["ledger_closing"], doc["position"], doc["net_amount"]) == (
        "-0.42", "0.78", "0.78", "receivable", "0.78"
    )
    assert [row["business_key"] for row in doc["lines"]] == ["X-2", "X-3", "X-4", "X-7", "X-5", "pay-1"]
