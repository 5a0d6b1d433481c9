"""``loyalty --version``."""

from __future__ import annotations

from typer.testing import CliRunner

import loyalty_accounts
from loyalty_accounts.cli import app


def test_version_prints_the_package_version_and_exits() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"loyalty-accounts {loyalty_accounts.__version__}\n"


def test_version_needs_no_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "soon")
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
