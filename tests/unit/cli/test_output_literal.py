"""Tables print ledger addresses and ids as they are: no emoji codes, no markup."""

from __future__ import annotations

import pytest

from loyalty_accounts.cli.output import Format, emit_mapping, emit_rows


def test_a_table_prints_an_address_holding_an_emoji_code_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    address = "catalogue:HEADPHONES:stock"
    emit_rows([{"source": "customers:smile:points:20270101", "destination": address, "amount": 1}], Format.table)
    out = capsys.readouterr().out
    assert address in out
    assert "customers:smile:points:20270101" in out


def test_a_record_prints_a_value_holding_an_emoji_code_or_brackets_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    emit_mapping({"reward": "HEADPHONES", "account": "catalogue:HEADPHONES:delivered", "note": "[bold]x[/bold]"}, Format.table)
    out = capsys.readouterr().out
    assert "catalogue:HEADPHONES:delivered" in out
    assert "[bold]x[/bold]" in out
