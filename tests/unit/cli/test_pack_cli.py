"""``loyalty report pack`` on the demo programme (in-memory ledger): the folder it writes, --force, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from support.cli_apps import app_over, demo_ledger
from typer.testing import CliRunner

from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.cli.pack import pack_command

runner = CliRunner()
PERIOD = ["--from", "2025-10-01", "--as-of", "2026-11-30"]
CSVS = {
    "provenance.csv", "liability_over_time.csv", "roll_forward.csv", "breakage_cohorts.csv", "cohort_triangle_redeemed.csv",
    "cohort_triangle_expired.csv", "cohort_triangle_ties.csv", "partner_balances.csv", "pool_positions.csv", "reconciliation.csv",
    "revenue_schedule.csv", "revenue_estimates.csv", "daily_flows.csv",
}


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    return app_over(demo_ledger(), {"pack": pack_command})


def test_the_pack_is_written_to_a_new_folder(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "pack" / "2026-11"
    result = runner.invoke(cli, ["pack", *PERIOD, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"pack.html", *CSVS}
    assert result.stdout.splitlines()[0] == f"wrote {out / 'pack.html'} and {len(CSVS)} CSV files"
    # --from a date starts the period with that day; --as-of a date ends it with that day
    assert "period (2025-09-30T23:59:59.999999+00:00, 2026-11-30T23:59:59.999999+00:00]" in result.stdout
    page = (out / "pack.html").read_text()
    assert "<svg" in page and "acme-rewards" in page


def test_a_folder_holding_anything_is_refused_unless_forced(cli: typer.Typer, tmp_path: Path) -> None:
    first = runner.invoke(cli, ["pack", *PERIOD, "--out", str(tmp_path)])
    assert first.exit_code == 0, first.output
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    refused = runner.invoke(cli, ["pack", *PERIOD, "--out", str(tmp_path)])
    assert refused.exit_code == 2
    assert refused.stderr.strip() == f"error: --out {tmp_path}: the folder is not empty (--force writes into it, replacing the pack's files)"
    (tmp_path / "notes.txt").write_text("mine")
    forced = runner.invoke(cli, ["pack", *PERIOD, "--out", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    # the same ledger and arguments: the same bytes; a file that is not the pack's is left alone
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "notes.txt"} == written
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-12-01", "--as-of", "2026-11-30"], "error: --from 2026-12-01 must come before --as-of 2026-11-30"),
        (["--as-of", "2026-13-01"], "not a calendar date"),
        (["--as-of", "2026-11-30T00:00:00"], "--as-of"),
        (["--from", "2010-01-01", "--as-of", "2026-11-30"], "at most 120"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: typer.Typer, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["pack", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_file_named_as_the_folder_is_refused(cli: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "pack.html"
    target.write_text("x")
    result = runner.invoke(cli, ["pack", *PERIOD, "--out", str(target)])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: --out {target}: not a folder"


def test_pack_is_a_report_and_its_help_names_the_default_period() -> None:
    listed = runner.invoke(loyalty_app, ["report", "--help"])
    assert listed.exit_code == 0 and "pack" in listed.stdout
    shown = runner.invoke(loyalty_app, ["report", "pack", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "default: twelve months before --as-of" in shown.stdout
