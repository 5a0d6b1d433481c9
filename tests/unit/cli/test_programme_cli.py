"""``loyalty report programme`` on the demo year (in-memory ledger): the table, the JSON, one CSV per part, bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from support.cli_apps import app_over, demo_ledger
from typer.testing import CliRunner

from loyalty_accounts.cli.programme_views import PROGRAMME_TABLES
from loyalty_accounts.cli.report import app as report_app

runner = CliRunner()
WINDOW = ["--from", "2025-10-01", "--to", "2026-10-06"]


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    return app_over(demo_ledger(), {}, {"report": report_app})


def test_the_table_names_every_part(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["report", "programme", *WINDOW])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Programme PTS over (2025-09-30T23:59:59.999999+00:00, 2026-10-06T23:59:59.999999+00:00] (UTC days)"
    assert lines[1].startswith("active members 4 of 4   issued 9354   reversed 100   redeemed 5420")
    assert "Anomaly flags: none" in lines and any(line.startswith("Partner performance") for line in lines)
    pools = lines.index(next(line for line in lines if line.startswith("Partner performance in pools")))
    assert lines[pools + 1].split() == ["partner", "pool", "contributed", "funds", "awarded", "redeemed", "paid", "currency"]


def test_the_json_holds_every_part_and_the_thresholds(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["report", "programme", *WINDOW, "-f", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["report"] == "programme" and payload["to"] == "2026-10-06T23:59:59.999999+00:00"
    assert set(PROGRAMME_TABLES) <= set(payload)
    assert sum(day["issued"] for day in payload["daily"]) == payload["totals"]["issued"] == 9354
    skyway = next(p for p in payload["partners"] if p["partner"] == "skyway")
    assert skyway["settlement_net"] == "-0.43"  # exact decimals as text
    # each partner's pool figures are a part of their own (one kind of row per part): one row per pool membership
    assert "pools" not in skyway
    assert {(r["partner"], r["pool"]) for r in payload["partner_pools"]} == {("cityrail", "travel"), ("skyway", "travel")}
    assert all(r["contributed"] == r["funds"] + r["awarded"] + r["redeemed"] for r in payload["partner_pools"])
    assert payload["thresholds"]["anomalies"]["transfer_chain"] == {"within_hours": 72}


@pytest.mark.parametrize("part", list(PROGRAMME_TABLES))
def test_each_part_is_a_csv_of_its_own(cli: typer.Typer, part: str) -> None:
    result = runner.invoke(cli, ["report", "programme", *WINDOW, "-f", "csv", "--table", part])
    assert result.exit_code == 0, result.output
    header = next(csv.reader(io.StringIO(result.stdout)))
    assert tuple(header) == PROGRAMME_TABLES[part][0]


def test_a_table_of_one_part_shows_that_part_alone(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["report", "programme", *WINDOW, "--table", "partner_pools"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("Partner performance in pools") for line in lines)
    assert not any(line.startswith(("Anomaly flags", "Points expiring soon")) for line in lines)


def test_the_daily_csv_sums_to_the_totals(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["report", "programme", *WINDOW, "-f", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sum(int(r["redeemed"]) for r in rows) == 5420 and sum(int(r["expired"]) for r in rows) == 572


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-10-06", "--to", "2025-10-01"], "must come before --to"),
        ([*WINDOW, "--table", "everything"], "--table 'everything' is not a part of the report"),
        ([*WINDOW, "--table", "flags", "-f", "json"], "-f json holds the whole report"),
        (["--from", "2025-10-01T00:00:00", "--to", "2026-10-06"], "--from"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: typer.Typer, args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["report", "programme", *args])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
