"""Accounts service: set-up, a customer's balance and history, the programme's accounts; on the in-memory ledger."""

from __future__ import annotations

import pytest
from support.fake_ledger import FakeLedger
from support.programme import ROOT, T0, chart_with, earn, programme

from loyalty_accounts.errors import UnknownEntity
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import ExchangeOutCommand, TransferCommand
from loyalty_accounts.program import LoyaltyProgram


def test_init_is_idempotent(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    again = program.init()
    assert again["ledger_created"] is False and again["schema_applied"] is False
    assert ledger.list_schema_versions() == [program.schema_version]


def test_history_is_the_customers_own_whatever_the_ids_share(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    program.earn(earn("c1", "o1", "10"))
    program.earn(earn("c10", "o2", "20"))
    program.transfer(TransferCommand(customer="c10", to_customer="c1", transfer_id="t1", points=5, at=T0))
    assert [tx.reference for tx in program.history("c1")] == ["earn:o1", "transfer:t1"]
    assert [tx.reference for tx in program.history("c10")] == ["earn:o2", "transfer:t1"]
    with pytest.raises(UnknownEntity):
        program.history("c2")


def test_programme_accounts_are_every_account_but_the_customers_and_world(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    program.earn(earn("c1", "o1", "1000"))
    program.exchange_out(ExchangeOutCommand(customer="c1", exchange_id="x1", partner="skyway", partner_points=10, at=T0))
    addresses = [acct.address for acct in program.programme_accounts()]
    assert addresses and all(a.startswith(("program:", "partners:")) for a in addresses)
    assert "partners:skyway:delivered" in addresses and "program:tiers:qualifying" in addresses
    # the programme's first, then the partners', as the chart declares them
    assert addresses.index("program:tiers:qualifying") < addresses.index("partners:skyway:delivered")


def test_init_creates_the_ledger_in_the_bucket_given_and_a_second_init_leaves_it_there(ledger: FakeLedger) -> None:
    program = LoyaltyProgram(ledger, chart_with(), Catalogue(ROOT / "numscript"), ledger_bucket="programme-2026")
    assert program.init()["ledger_created"] is True
    assert ledger.bucket == "programme-2026"
    assert program.init()["ledger_created"] is False
    assert ledger.bucket == "programme-2026"


def test_without_a_bucket_init_leaves_the_choice_to_the_server(ledger: FakeLedger) -> None:
    programme(ledger, pending_days=0)
    assert ledger.created and ledger.bucket is None
