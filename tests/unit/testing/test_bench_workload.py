"""The benchmark's workload: deterministic commands, a streamed order file, clones of a recorded post."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.testing.bench_workload import (
    ORDER_COLUMNS,
    bulk_body,
    clone_post,
    customer_ids,
    earn_commands,
    order_rows,
    redeem_commands,
    write_orders_csv,
)

AT = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def test_earns_take_customers_in_turn_with_unique_orders() -> None:
    customers = customer_ids("s", 3)
    earns = earn_commands("e", 7, customers, AT, seed=4)
    assert [e.customer for e in earns] == [customers[i % 3] for i in range(7)]
    assert len({e.order_id for e in earns}) == 7
    assert all(Decimal("5.00") <= e.amount.amount <= Decimal("250.00") for e in earns)
    assert earns == earn_commands("e", 7, customers, AT, seed=4)  # same seed, same workload
    assert [e.amount for e in earns] != [e.amount for e in earn_commands("e", 7, customers, AT, seed=5)]


def test_commands_need_customers() -> None:
    with pytest.raises(ValueError):
        earn_commands("e", 1, [], AT)
    with pytest.raises(ValueError):
        redeem_commands("r", 1, [], AT)
    assert earn_commands("e", 0, [], AT) == []


def test_redeems() -> None:
    redeems = redeem_commands("d", 4, ["a1", "b2"], AT, points=3)
    assert [(r.customer, r.points) for r in redeems] == [("a1", 3), ("b2", 3), ("a1", 3), ("b2", 3)]
    assert len({r.redemption_id for r in redeems}) == 4


def test_order_file_reads_back_as_earn_commands(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    written = write_orders_csv(path, order_rows(25, prefix="i", customers=4, start=AT, seed=2))
    assert written == 25
    with path.open(newline="") as source:
        reader = csv.DictReader(source)
        assert tuple(reader.fieldnames or ()) == ORDER_COLUMNS
        rows = list(reader)
    commands = [
        EarnCommand(
            customer=r["customer"],
            order_id=r["order_id"],
            amount={"amount": r["amount"], "currency": r["currency"]},
            ordered_at=r["ordered_at"],
        )
        for r in rows
    ]
    assert len({c.order_id for c in commands}) == 25
    assert len({c.customer for c in commands}) <= 4
    assert [c.ordered_at for c in commands] == sorted(c.ordered_at for c in commands)
    assert commands[0].ordered_at == AT


def test_clone_replaces_every_occurrence() -> None:
    template = json.dumps(
        {"reference": "earn:TPLO", "metadata": {"customer": "TPLC", "order_id": "TPLO"}, "script": {"vars": {"d": "customers:TPLC:pending"}}}
    ).encode()
    body = clone_post(template, {"TPLC": "c7", "TPLO": "o7"})
    assert body == {"reference": "earn:o7", "metadata": {"customer": "c7", "order_id": "o7"}, "script": {"vars": {"d": "customers:c7:pending"}}}
    with pytest.raises(ValueError, match="NOPE"):
        clone_post(template, {"NOPE": "x"})


def test_bulk_body_keys_each_element_by_reference() -> None:
    elements = bulk_body([{"reference": "earn:a"}, {"reference": "earn:b"}], key_prefix="seed")
    assert [e["action"] for e in elements] == ["CREATE_TRANSACTION"] * 2
    assert [e["ik"] for e in elements] == ["seed:earn:a", "seed:earn:b"]
    assert elements[1]["data"] == {"reference": "earn:b"}
