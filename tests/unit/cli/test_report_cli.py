"""``loyalty report ...``, ``loyalty reconcile`` and ``loyalty statement`` on the scripted history (support.report_books)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from support.finance_books import Books
from support.report_books import ROOT, FakeBooks, catalogue, chart, clean, full
from typer.testing import CliRunner

from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.cli.report import app as report_app
from loyalty_accounts.cli.report import reconcile_command, statement_command
from loyalty_accounts.errors import LedgerUnavailable
from loyalty_accounts.types import PostedTransaction, Posting

__all__ = ["catalogue", "chart", "clean", "full"]  # fixtures

runner = CliRunner()


class Unreachable:
    """A port whose every read fails the way the HTTP client does when the server is down."""

    ledger = "down"

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise LedgerUnavailable("Formance ledger at http://127.0.0.1:9 is unavailable")

        return fail


def cli(port: Any) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _options(ctx: typer.Context) -> None:
        ctx.obj = AppContext(None, None, ROOT / "chart_of_accounts.yaml", None, _client=port)

    root.add_typer(report_app, name="report")
    root.command("reconcile")(reconcile_command)
    root.command("statement")(statement_command)
    return root


def test_cli_liability_json_and_csv_carry_the_same_content(full: FakeBooks) -> None:
    app = cli(full.ledger)
    result = runner.invoke(app, ["report", "liability", "--as-of", "2026-05-01T00:00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["total_points"] == 260 and payload["total_value"] == "2.60" and payload["ties"] is True
    csv_result = runner.invoke(app, ["report", "liability", "--as-of", "2026-05-01T02:00:00+02:00", "--csv"])
    assert csv_result.exit_code == 0, csv_result.output
    lines = csv_result.stdout.splitlines()
    assert lines[0] == "as_of,state,points,value,currency,customers"
    # one row per state, no total row: the points column sums to the total
    assert [line.split(",")[1] for line in lines[1:]] == ["spendable", "due", "pending", "held", "negative", "other"]
    assert sum(int(line.split(",")[2]) for line in lines[1:]) == 260
    assert [row["value"] for row in payload["lines"]] == [line.split(",")[3] for line in lines[1:]]


def test_cli_activity_table_says_whether_it_ties(full: FakeBooks) -> None:
    result = runner.invoke(cli(full.ledger), ["report", "activity", "--from", "2026-01-01T00:00:00Z", "--to", "2026-05-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "ties: NO" in result.stdout and "by 10 PTS" in result.stdout


def test_cli_breakage_prints_the_method(full: FakeBooks) -> None:
    result = runner.invoke(cli(full.ledger), ["report", "breakage", "--to", "2026-05-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "Method: rate = expired / issued" in result.stdout and "176 PTS = 1.76 USD" in result.stdout


def test_cli_reconcile_exits_1_on_a_break_and_0_when_clean(full: Books, clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    broken = runner.invoke(cli(full.ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00Z"])
    assert broken.exit_code == 1
    assert "FAIL         expired_holds" in broken.stdout and "customers:c1:holds:h-1" in broken.stdout
    ok = runner.invoke(cli(clean[0].ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00Z", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True


def test_cli_statement_csv(full: FakeBooks) -> None:
    result = runner.invoke(
        cli(full.ledger), ["statement", "--customer", "c1", "--from", "2026-01-01T00:00:00Z", "--to", "2026-05-01T00:00:00Z", "--csv"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "customer,line,timestamp,transaction_id,operation,business_key,points,balance"
    # movements only: from the opening 70 to the closing 200
    assert {line.split(",")[1] for line in lines[1:]} == {"movement"}
    assert sum(int(line.split(",")[6]) for line in lines[1:]) == 200 - 70
    assert lines[-1].endswith(",200")
    longer = runner.invoke(cli(full.ledger), ["statement", "--customer", "c1", "--to", "2026-05-01T00:00:00Z", "--days", "330", "--json"])
    assert json.loads(longer.stdout)["expiring"][-1] == {"customer": "c1", "expires_on": "2027-03-01", "state": "spendable", "points": 140}
    table = runner.invoke(cli(full.ledger), ["statement", "--customer", "c1", "--to", "2026-05-01T00:00:00Z", "--days", "330"])
    assert "Expiring within 330 days" in table.stdout and "2027-03-01" in table.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["report", "liability", "--as-of", "2026-05-01T00:00:00"],
        ["report", "liability", "--as-of", "2026-05-01Z"],
        ["report", "liability", "--as-of", "yesterday"],
        ["report", "activity", "--from", "2026-05-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"],
        ["report", "liability", "--json", "--csv"],
        ["statement", "--customer", "bad id!"],
        ["report", "breakage", "--cohorts", "0"],
        ["report", "breakage", "--cohorts", "100000000"],
        ["statement", "--customer", "c1", "--days", "100000000"],
        ["report", "liability", "--as-of", "0001-01-01"],
        ["reconcile", "--as-of", "9999-12-31T23:59:59-05:00"],
    ],
)
def test_cli_bad_input_exits_2(full: Books, args: list[str]) -> None:
    result = runner.invoke(cli(full.ledger), args)
    assert result.exit_code == 2, result.output


def test_cli_naive_instant_is_explained(full: FakeBooks) -> None:
    result = runner.invoke(cli(full.ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00"])
    assert result.exit_code == 2
    assert "has no UTC offset" in result.stderr


def test_cli_unreachable_ledger_exits_3() -> None:
    for args in (["report", "liability"], ["reconcile"], ["statement", "--customer", "c1"]):
        result = runner.invoke(cli(Unreachable()), args)
        assert result.exit_code == 3, (args, result.output)
        assert "unavailable" in result.stderr


def test_cli_reconcile_counts_history_breaks_beyond_those_it_lists(clean: tuple[FakeBooks, dict[str, PostedTransaction]]) -> None:
    books, _ = clean
    for i in range(1, 8):  # seven customers' buckets below zero for a day in April, back to zero after
        bucket = f"customers:x{i}:points:20270101"
        books.raw((Posting(source=bucket, destination="program:points:redeemed", amount=1, asset="PTS"),), f"2026-04-0{i}T10:00:00")
        books.raw((Posting(source="program:points:redeemed", destination=bucket, amount=1, asset="PTS"),), f"2026-04-0{i}T11:00:00")
    text = runner.invoke(cli(books.ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00Z"])
    assert text.exit_code == 1
    assert "FAIL         negative_at_any_instant" in text.stdout
    assert "    ! customers:x1:points:20270101 PTS: -1 at 2026-04-01T10:00:00Z" in text.stdout
    assert "    ! ... 2 more, 7 in all" in text.stdout
    body = json.loads(runner.invoke(cli(books.ledger), ["reconcile", "--as-of", "2026-05-01T00:00:00Z", "--json"]).stdout)
    check = {c["check"]: c for c in body["checks"]}["negative_at_any_instant"]
    assert (check["count"], len(check["offending"])) == (7, 5)
    assert {c["check"]: c["count"] for c in body["checks"]}["negative_balances"] == 0  # fine at the as-of instant


def test_cli_reconcile_resumes_the_log_chain_and_full_reads_it_all() -> None:
    from support.ledger_logs import HashedLogs, hashed_chain

    ledger = HashedLogs()
    ledger.served = hashed_chain(list(range(1, 6)))
    lines = []
    for extra in ([], [], ["--full"]):
        result = runner.invoke(cli(ledger), ["reconcile", "--as-of", "2026-06-02T00:00:00Z", *extra])
        assert result.exit_code == 0, result.output
        lines.append(next(line for line in result.stdout.splitlines() if "log_chain:" in line))
    assert lines[0].startswith("PASS         log_chain: 5 log(s) read")
    assert lines[1].startswith("PASS         log_chain: 2 log(s) read: resumed at the checkpoint (log 5)")
    assert lines[2].startswith("PASS         log_chain: 5 log(s) read")
