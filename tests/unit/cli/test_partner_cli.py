"""``loyalty partner statement`` on an in-memory ledger: table, CSV, JSON, exit 1 on a break, exit 2 on bad input.

History (skyway: out 0.0125 USD per mile, in 0.0080; half_even to the cent)::

    2026-01-11  X-1  out 40 miles   0.50    balance -0.50
    2026-01-20  X-2  out  1 mile    0.01    balance -0.51   (0.0125: rounding -0.0025)
    2026-01-21  X-3  in   1 mile    0.01    balance -0.50   (0.0080: rounding +0.0020)
    2026-01-25  X-4  out  2 miles   0.02    balance -0.52   (0.0250: rounding -0.0050)

The window (2026-01-15, 2026-01-31] opens at -0.50 and closes at -0.52: 0.52 payable.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
import typer
from support.fake_ledger import FakeLedger
from support.finance_books import MOVE
from support.programme import T0, earn, programme
from support.report_books import ROOT
from typer.testing import CliRunner

from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.cli.context import AppContext
from loyalty_accounts.cli.partner import PARTNER_STATEMENT_COLUMNS
from loyalty_accounts.cli.partner import app as partner_app
from loyalty_accounts.operations import ExchangeInCommand, ExchangeOutCommand
from loyalty_accounts.types import AccountState, TransactionPlan, Volume

runner = CliRunner()
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
WINDOW = ["--from", "2026-01-15", "--to", "2026-01-31"]


def books() -> tuple[FakeLedger, Any]:
    ledger = FakeLedger(clock=lambda: NOW)
    program = programme(ledger, pending_days=0, clock=lambda: NOW)
    program.earn(earn("c1", "o-1", "500.00"))
    for key, miles, direction, day in (("X-1", 40, "out", 11), ("X-2", 1, "out", 20), ("X-3", 1, "in", 21), ("X-4", 2, "out", 25)):
        at = T0.replace(day=day)
        if direction == "out":
            program.exchange_out(ExchangeOutCommand(customer="c1", exchange_id=key, partner="skyway", partner_points=miles, at=at))
        else:
            program.exchange_in(ExchangeInCommand(customer="c1", exchange_id=key, partner="skyway", partner_points=miles, at=at))
    return ledger, program


def cli_on(ledger: Any) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _options(ctx: typer.Context) -> None:
        ctx.obj = AppContext(None, None, ROOT / "chart_of_accounts.yaml", None, _client=ledger)

    root.add_typer(partner_app, name="partner")
    return root


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    return cli_on(books()[0])


def run(cli: typer.Typer, *args: str) -> Any:
    return runner.invoke(cli, ["partner", "statement", "--partner", "skyway", *args])


def test_the_table_shows_each_exchange_its_rounding_the_tie_and_the_net(cli: typer.Typer) -> None:
    result = run(cli, *WINDOW)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    one_mile = next(line for line in lines if " X-2 " in line).split()
    assert one_mile[1:] == ["2026-01-20", one_mile[2], "exchange_out", "X-2", "c1", "3", "1", "0.0125", "0.0125", "0.01", "-0.0025", "-0.01", "-0.51"]
    assert "X-1" not in result.stdout  # before the window: in the opening
    assert next(line for line in lines if line.startswith("opening")).split()[-1] == "-0.50"
    assert next(line for line in lines if line.startswith("closing")).split()[-1] == "-0.52"
    assert "out -0.0075, in +0.0020; on the balance +0.0095 USD" in result.stdout
    assert "ties: yes, the ledger's partners:skyway:settlement at 2026-01-31T23:59:59.999999+00:00 is -0.52 USD" in result.stdout
    assert "Net payable to Skyway Airlines (skyway) at 2026-01-31T23:59:59.999999+00:00: 0.52 USD" in result.stdout


def test_the_csv_holds_one_kind_of_row_whose_movements_sum_to_closing_less_opening(cli: typer.Typer) -> None:
    result = run(cli, *WINDOW, "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == PARTNER_STATEMENT_COLUMNS
    assert [(r["line"], r["business_key"], r["direction"], r["settled"], r["rounding"]) for r in rows] == [
        ("exchange", "X-2", "out", "0.01", "-0.0025"),
        ("exchange", "X-3", "in", "0.01", "0.0020"),
        ("exchange", "X-4", "out", "0.02", "-0.0050"),
    ]
    assert sum(Decimal(r["movement"]) for r in rows) == Decimal("-0.02")  # -0.52 - (-0.50)


def test_the_json_carries_the_totals_the_tie_and_the_position(cli: typer.Typer) -> None:
    result = run(cli, *WINDOW, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["report"], doc["account"], doc["currency"], doc["settlement_rounding"]) == (
        "partner_statement", "partners:skyway:settlement", "USD", "half_even"
    )
    assert (doc["opening"], doc["closing"], doc["ledger_closing"], doc["difference"], doc["ties"], doc["ok"]) == (
        "-0.50", "-0.52", "-0.52", "0.00", True, True
    )
    out, inbound = doc["totals"]
    assert (out["direction"], out["exchanges"], out["partner_points"], out["exact"], out["settled"], out["rounding"]) == (
        "out", 2, 3, "0.0375", "0.03", "-0.0075"
    )
    assert (inbound["direction"], inbound["exchanges"], inbound["exact"], inbound["settled"], inbound["rounding"]) == (
        "in", 1, "0.0080", "0.01", "0.0020"
    )
    assert (doc["position"], doc["net_amount"], doc["rounding_on_balance"]) == ("payable", "0.52", "0.0095")


class Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ledger was read: {name}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--partner", "railco"], "unknown partner 'railco' (declared: cityrail, skyway)"),
        (["--partner", "skyway", "--from", "2026-02-01", "--to", "2026-01-01"], "--from 2026-02-01 must come before --to 2026-01-01"),
        (["--partner", "skyway", "--to", "2026-01-31T00:00:00"], "--to"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_reads_nothing(args: list[str], message: str) -> None:
    result = runner.invoke(cli_on(Untouchable()), ["partner", "statement", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_exchange_settled_off_its_rate_is_shown_and_exits_1() -> None:
    ledger, program = books()
    # A posting that says it is a 40-mile exchange at 0.0125 but moved 0.60 (0.50 is the rate's).
    plan = TransactionPlan(
        operation="exchange_out",
        template="none",
        script=MOVE,
        vars={"amount": "USD/2 60", "from": "partners:skyway:settlement", "to": "program:exchange:cost"},
        reference="exchange_out:X-9",
        command_hash="hand-made",
        metadata={"partner": "skyway", "exchange_id": "X-9", "customer": "c1", "points": "120", "partner_points": "40",
                  "price_per_partner_point": "0.0125"},
        timestamp=T0.replace(day=28),
    )
    ledger.post(plan, schema_version=program.schema_version)
    result = run(cli_on(ledger), *WINDOW)
    assert result.exit_code == 1, result.output
    assert "OFF TERMS: 40 × 0.0125 rounded half_even is 0.50" in result.stdout
    assert "ties: yes" in result.stdout  # it ties: the ledger moved what the statement shows
    assert json.loads(run(cli_on(ledger), *WINDOW, "-f", "json").stdout)["off_terms"] == [ledger.txs[-1].id]


class OneCentMore:
    """The ledger, but its settlement account reads a cent more at any instant than its transactions explain."""

    def __init__(self, ledger: FakeLedger) -> None:
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        state = self._ledger.account(address, pit=pit)
        if pit is not None and pit > T0.replace(day=30):
            volume = state.volumes["USD/2"]
            return state.model_copy(update={"volumes": {"USD/2": Volume(input=volume.input + 1, output=volume.output)}})
        return state


def test_a_statement_that_does_not_tie_says_by_how_much_and_exits_1() -> None:
    result = run(cli_on(OneCentMore(books()[0])), *WINDOW)
    assert result.exit_code == 1, result.output
    assert "ties: NO, the ledger's partners:skyway:settlement at 2026-01-31T23:59:59.999999+00:00 is -0.51 USD, " \
        "+0.01 USD from the statement's closing -0.52" in result.stdout


def test_partner_is_in_the_finance_panel() -> None:
    result = runner.invoke(loyalty_app, ["--help"])
    assert result.exit_code == 0
    assert "partner" in result.stdout[result.stdout.index("Finance"):]
