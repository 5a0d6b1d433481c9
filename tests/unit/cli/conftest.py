"""Fixtures for the CLI tests: the commands run on an in-memory ledger, initialised as `loyalty init` leaves it."""

from __future__ import annotations

import pytest
from support.fake_ledger import FakeLedger
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.cli.context import AppContext


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> FakeLedger:
    """Every command's client is this fake, already initialised: a real server refuses writes naming a
    schema it does not hold."""

    fake = FakeLedger()

    def client(self: AppContext) -> FakeLedger:
        fake.ledger = self.app.ledger_name
        return fake

    monkeypatch.setattr(AppContext, "client", client)
    monkeypatch.delenv("LOYALTY_RULES", raising=False)
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    return fake
