"""Order files: CSV and JSON Lines rows, each with its line number and its command or reason."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.services.order_file import file_format, read_orders

PARIS = ZoneInfo("Europe/Paris")


def test_csv_rows_carry_their_line_numbers_and_commands(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "customer,order_id,amount,currency,ordered_at,category,channel\n"
        "c1,o-1,12.50,USD,2026-06-01T10:00:00Z,books,web\n"
        "\n"
        "c2,o-2,abc,USD,2026-06-01,,\n"
        "c3,o-3,9.99,USD,2026-06-02,,\n"
        "c4,o-4,1.00\n"
    )
    rows = list(read_orders(path, PARIS))
    assert [row.line for row in rows] == [2, 4, 5, 6]
    first = rows[0].command
    assert first is not None and first.amount.amount == Decimal("12.50") and first.category == "books"
    assert rows[1].command is None and "amount" in (rows[1].error or "")
    third = rows[2].command
    assert third is not None and third.category is None and third.ordered_at == datetime(2026, 6, 1, 22, 0, tzinfo=timezone.utc)
    assert rows[3].error == "3 cells for 7 columns"


def test_jsonl_rows_read_numbers_from_their_text(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    path.write_text(
        '{"customer": "c1", "order_id": "o-1", "amount": 0.1, "currency": "USD", "ordered_at": "2026-06-01T10:00:00Z"}\n'
        "not json\n"
        '["a list"]\n'
        '{"customer": "c1", "order_id": "o-2", "amount": "3", "currency": "USD", "ordered_at": "2026-06-01T10:00:00Z", "colour": "red"}\n'
    )
    rows = list(read_orders(path, PARIS))
    assert rows[0].command is not None and rows[0].command.amount.amount == Decimal("0.1")
    assert [row.line for row in rows[1:]] == [2, 3, 4]
    assert (rows[1].error or "").startswith("not JSON") and rows[2].error == "not a JSON object"
    assert rows[3].error == "unknown field(s): colour"


def test_a_file_that_cannot_be_read_as_a_whole_is_refused(tmp_path: Path) -> None:
    bad_header = tmp_path / "o.csv"
    bad_header.write_text("customer,order,amount\nc1,o-1,1\n")
    with pytest.raises(InvalidCommand, match="header"):
        list(read_orders(bad_header, PARIS))
    with pytest.raises(InvalidCommand, match="cannot read"):
        list(read_orders(tmp_path / "missing.csv", PARIS))
    with pytest.raises(InvalidCommand, match="extension"):
        file_format(tmp_path / "orders.txt")
    assert file_format(tmp_path / "orders.txt", "jsonl") == "jsonl"
