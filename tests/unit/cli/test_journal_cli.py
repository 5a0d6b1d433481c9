"""``loyalty journal`` on the demo programme (in-memory ledger): the output, --out, and one-line usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from support.cli_apps import app_over, demo_ledger
from typer.testing import CliRunner

from loyalty_accounts.cli import app as loyalty_app
from loyalty_accounts.cli.journal import journal_command

runner = CliRunner()


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    return app_over(demo_ledger(), {"journal": journal_command})


def test_journal_to_stdout_and_to_a_file_are_the_same_bytes(cli: typer.Typer, tmp_path: Path) -> None:
    shown = runner.invoke(cli, ["journal", "--from", "2025-10-01", "--to", "2026-11-30", "--format", "hledger"])
    assert shown.exit_code == 0, shown.output
    assert "2025-10-02 * earn | earn:A-1001  ; ledger-tx:" in shown.stdout
    out = tmp_path / "demo.beancount"
    written = runner.invoke(cli, ["journal", "--from", "2025-10-01", "--to", "2026-11-30", "--out", str(out)])
    assert written.exit_code == 0 and written.stdout == ""
    again = runner.invoke(cli, ["journal", "--from", "2025-10-01", "--to", "2026-11-30"])
    assert out.read_text() == again.stdout and 'option "operating_currency" "USD"' in again.stdout
    # -f like every other command; --out - is stdout, not a file named '-'.
    short = runner.invoke(cli, ["journal", "--from", "2025-10-01", "--to", "2026-11-30", "-f", "hledger", "--out", "-"])
    assert short.exit_code == 0 and short.stdout == shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--from 2026-02-01 must come before --to 2026-01-01"),
        (["--from", "2026-13-01", "--to", "2026-01-01"], "not a calendar date"),
        (["--from", "2026-01-01", "--to", "2026-02-01", "--format", "xml"], "--format xml: choose one of beancount, hledger, csv"),
        (["--from", "2026-01-01T00:00:00", "--to", "2026-02-01"], "--from"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: typer.Typer, args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["journal", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_journal_is_in_the_finance_panel() -> None:
    result = runner.invoke(loyalty_app, ["--help"])
    assert result.exit_code == 0
    finance = result.stdout[result.stdout.index("Finance"):]
    assert "journal" in finance
