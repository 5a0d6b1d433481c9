"""Shared operation counters (operations/counter.py): the count read (and recorded), the legs' vars, the opening."""

from __future__ import annotations

from decimal import Decimal

from opsupport import AT
from support.fake_ledger import FakeLedger

from loyalty_accounts.operations import Reading, restock
from loyalty_accounts.operations.counter import bounded_step, moved, open_missing, read_count, unbounded_step
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.rules import Reward

MUG = Reward(sku="MUG-BLUE", type="product", name="Mug", value=Decimal("12.50"), physical=True)


def test_the_count_is_read_recorded_and_seen_to_move(chart, catalogue):
    ledger = FakeLedger()
    counter = chart.stock_sequence("MUG-BLUE")
    reading = Reading(ledger, chart)
    assert read_count(reading, counter) is None  # no row yet
    ledger.post(restock.plan(RestockCommand(reward="MUG-BLUE", units=2, restock_id="rs-1", at=AT), chart, catalogue, MUG))
    assert not moved(Reading(ledger, chart), {}) and moved(Reading(ledger, chart), reading.counted)
    reading = Reading(ledger, chart)
    assert read_count(reading, counter) == 1 and reading.counted == {counter: 1}
    assert not moved(Reading(ledger, chart), reading.counted)
    ledger.post(restock.plan(RestockCommand(reward="MUG-BLUE", units=1, restock_id="rs-2", at=AT), chart, catalogue, MUG))
    assert moved(Reading(ledger, chart), reading.counted)


def test_a_take_is_bounded_by_the_count_plus_one_and_an_adding_step_is_not(chart):
    counter = chart.pool_sequence("travel")
    step = {"counter_step": "CTL 1", "counter_sequence": counter, "counter_counted": "program:control:sequence"}
    assert unbounded_step(chart, counter) == step
    assert bounded_step(chart, counter, 6) == {**step, "counter_expected": "CTL 7"}
    assert bounded_step(chart, counter, None) == {**step, "counter_expected": "CTL 1"}


def test_only_a_counter_without_a_row_is_opened(chart, catalogue):
    counter = chart.stock_sequence("MUG-BLUE")
    assert open_missing(chart, catalogue, counter, 0) == []
    (opening,) = open_missing(chart, catalogue, counter, None)
    assert (opening.reference, opening.vars["account"]) == (f"open_control:{counter}", counter)
