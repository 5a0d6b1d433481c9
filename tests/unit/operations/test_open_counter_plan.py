"""Open counter: one awards unit from world to a never-used counter and back, so the counter gets a balance row."""

from __future__ import annotations

from datetime import date

import pytest
from support.interpreter import run_script

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import OpenCounterCommand, open_counter


def test_a_day_counter_is_opened_by_a_posting_to_itself_that_leaves_its_balance_alone(chart, catalogue):
    command = OpenCounterCommand(customer="c42", event="review_written", day=date(2026, 6, 1))
    plan = open_counter.plan(command, chart, catalogue)
    counter = "customers:c42:engagement:review_written:20260601"
    assert plan.reference == "open_counter:review_written:c42:20260601"
    assert plan.vars == {"one": "AWARDS 1", "counter": counter}
    assert plan.metadata == {"customer": "c42", "event": "review_written", "day": "2026-06-01"}
    assert plan.timestamp is None  # dated by the ledger: every opener sends the same body
    # A counter already down to -2 (a concurrent award got there first): still -2 after the posting,
    # and no other account moves.
    postings = run_script(plan.script, plan.vars, {counter: {"AWARDS": -2}})
    assert postings == [{"source": counter, "destination": counter, "amount": 1, "asset": "AWARDS"}]


def test_the_ever_counter_has_a_reference_of_its_own(chart, catalogue):
    command = OpenCounterCommand(customer="c42", event="sign_up")
    plan = open_counter.plan(command, chart, catalogue)
    assert plan.reference == "open_counter:sign_up:c42"
    assert plan.vars["counter"] == "customers:c42:engagement:sign_up"
    assert plan.metadata == {"customer": "c42", "event": "sign_up"}


def test_two_openers_of_one_counter_send_the_same_command(chart, catalogue):
    one = open_counter.plan(OpenCounterCommand(customer="c1", event="sign_up"), chart, catalogue)
    two = open_counter.plan(OpenCounterCommand(customer="c1", event="sign_up"), chart, catalogue)
    other_day = open_counter.plan(OpenCounterCommand(customer="c1", event="sign_up", day=date(2026, 1, 2)), chart, catalogue)
    assert one.command_hash == two.command_hash
    assert one.command_hash != other_day.command_hash


@pytest.mark.parametrize("fields", [{"customer": "", "event": "sign_up"}, {"customer": "c1", "event": "Sign Up"}])
def test_malformed_ids_are_refused(fields):
    with pytest.raises(InvalidCommand):
        OpenCounterCommand(**fields)
