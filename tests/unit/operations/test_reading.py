"""The read-only context the registry entries read their state through, and the entries' own facts."""

from __future__ import annotations

import pytest
from opsupport import AT
from support.fake_ledger import FakeLedger

from loyalty_accounts.errors import InvalidCommand, UnknownEntity
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import (
    OPERATIONS,
    EarnCommand,
    HoldCommand,
    Operation,
    Reading,
    Sweep,
)


def test_without_rules_a_read_that_needs_them_says_so(chart):
    reading = Reading(FakeLedger(), chart)
    with pytest.raises(InvalidCommand, match="earn needs the earning rules"):
        reading.require_rules("earn")


def test_an_account_never_seen_has_balance_0_and_a_customer_never_seen_no_buckets(chart):
    reading = Reading(FakeLedger(), chart)
    assert reading.balance(chart.clawback("c1"), chart.points_asset) == 0
    assert not reading.known("c1")
    assert reading.at(AT).buckets("c1", spendable_only=False) == []
    assert reading.at(AT).clawback_balance("c1") == 0
    with pytest.raises(UnknownEntity, match="customer c1 has no accounts"):
        reading.at(AT).buckets("c1")


def test_buckets_are_read_from_the_chart_addresses_of_the_customer_only(chart, catalogue: Catalogue, rules):
    ledger = FakeLedger()
    reading = Reading(ledger, chart, rules)
    for customer, order in (("c1", "o1"), ("c10", "o2")):
        command = EarnCommand(customer=customer, order_id=order, amount={"amount": "10", "currency": "USD"}, ordered_at=AT)
        entry = OPERATIONS["earn"]
        assert isinstance(entry, Operation)
        plan = entry.plan(command, chart, catalogue, entry.read(command, reading))
        assert plan is not None
        ledger.post(plan)
    # the chart has a chargeback window: the points are pending, no bucket yet
    assert reading.at(AT).buckets("c1", spendable_only=False) == []
    assert reading.known("c1") and reading.known("c10") and not reading.known("c2")
    pending = OPERATIONS["release"]
    assert isinstance(pending, Sweep)
    assert sorted(pending.read(reading, None)) == ["c1", "c10"]
    assert sorted(pending.read(reading, "c1")) == ["c1"]
    assert [p.timeline.current for p in pending.read(reading, "c1")["c1"]] == [10]


def test_every_entry_says_what_it_is():
    for name, entry in OPERATIONS.items():
        assert entry.name == name == entry.command.operation
        assert entry.templates and ("customer" in entry.writes.required or name in ("open_control", "period_close", "revenue_estimate", "pool_contribute", "restock"))
    hold = OPERATIONS["hold"]
    assert isinstance(hold, Operation)
    assert hold.reference(HoldCommand(customer="c1", hold_id="h-1", points=1, at=AT)) == "hold:h-1"
    assert OPERATIONS["earn"].writes.allows("r_c0_cap") and not OPERATIONS["hold"].writes.allows("r_ver")
