"""``loyalty estimate record|list`` and ``loyalty report revenue`` (in-memory ledger): output, replays, one-line errors that post nothing."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app

runner = CliRunner()
RECORD = ["estimate", "record", "--effective", "2025-09-01", "--breakage", "20%", "--approved-by", "cfo", "--fx", "EUR=1.08"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_an_estimate_is_recorded_once_and_listed(ledger: FakeLedger) -> None:
    first = invoke(*RECORD, "-f", "json")
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert (body["breakage_rate"], body["replayed"], body["effective"]) == ("0.2", False, "2025-09-01T00:00:00Z")
    again = invoke(*RECORD[:5], "0.200", *RECORD[6:], "-f", "json")  # the same rate written another way: a replay
    assert again.exit_code == 0 and json.loads(again.stdout)["replayed"] is True
    clash = invoke(*RECORD[:5], "0.3", *RECORD[6:])
    assert clash.exit_code == 1 and clash.stderr.count("\n") == 1
    listed = list(csv.DictReader(io.StringIO(invoke("estimate", "list", "-f", "csv").stdout)))
    assert [(r["effective"], r["breakage_rate"], r["fx"], r["approved_by"]) for r in listed] == [("2025-09-01T00:00:00Z", "0.2", "EUR=1.08", "cfo")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--breakage", "1.5"), "breakage_rate"),
        (("--breakage", "1e-30"), "more than 6 decimals"),
        (("--breakage", "0.19999999999999999999999999999999"), "more than 6 decimals"),
        (("--fx", "EUR=1e999"), "at most 1000000"),
        (("--fx", "EUR=-1"), "above 0"),
        (("--fx", "GBP=1.1"), "--fx GBP: orders are not accepted in it"),
        (("--approved-by", "jane@example.com"), "--approved-by (a value that looks like an email, not repeated) is not valid"),
        (("--breakage", "abc"), "--breakage 'abc' is not a rate"),
        (("--method", "linear"), "method"),
        (("--fx", "EUR"), "--fx 'EUR': write CURRENCY=RATE"),
        (("--fx", "USD=1"), "no exchange rate is needed for USD"),
        (("--approved-by", "Jane Doe"), "--approved-by (a value that looks like a name, not repeated) is not valid"),
        (("--constrained", "0.3"), "may not exceed breakage_rate"),
        (("--effective", "2025-09-01T00:00:00"), "--effective"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_posts_nothing(ledger: FakeLedger, change: tuple[str, str], message: str) -> None:
    before = len(list(ledger.transactions()))
    args = list(RECORD)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args.extend(change)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert len(list(ledger.transactions())) == before


def test_the_demo_years_schedule_rolls_forward_in_both_columns(ledger: FakeLedger) -> None:
    assert invoke("demo").exit_code == 0
    window = ("--from", "2025-09-30", "--to", "2026-10-06")
    rows = list(csv.DictReader(io.StringIO(invoke("report", "revenue", *window, "-f", "csv").stdout)))
    data = json.loads(invoke("report", "revenue", *window, "-f", "json").stdout)
    assert [r["line"] for r in rows] == [line["line"] for line in data["lines"]]
    assert sum(int(r["points"]) for r in rows) == data["closing_points"]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(data["closing"])
    assert data["ties"] is True and Decimal(data["revenue"]) > 0
    assert Decimal(data["allocated_to_points"]) + Decimal(data["allocated_to_goods"]) == Decimal(data["sales_price"])
    assert [e["breakage_rate"] for e in data["estimates"]] == ["0.2", "0.25"] and len(data["catch_ups"]) == 1
    table = invoke("report", "revenue", *window)
    assert table.exit_code == 0 and "ties: yes" in table.stdout and "approved by cfo" in table.stdout


def test_orders_without_an_estimate_are_named_with_the_fix(ledger: FakeLedger) -> None:
    earned = invoke("earn", "--customer", "c1", "--order", "o-1", "--amount", "10.00", "--currency", "USD", "--ordered-at", "2026-01-05T10:00:00Z")
    assert earned.exit_code == 0, earned.output
    result = invoke("report", "revenue", "--from", "2026-01-01", "--to", "2026-01-31")
    assert result.exit_code == 1, result.output  # the schedule is shown, and said to be incomplete
    assert "allocated" in result.stdout and "ties: yes" in result.stdout
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: not allocated: order o-1")]
    assert len(warning) == 1 and "loyalty estimate record" in warning[0]
    data = json.loads(invoke("report", "revenue", "--from", "2026-01-01", "--to", "2026-01-31", "-f", "json").stdout)
    assert [(u["order_id"], u["points"]) for u in data["unpriced"]] == [("o-1", 10)]
