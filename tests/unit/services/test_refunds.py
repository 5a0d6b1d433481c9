"""Refunds on the in-memory ledger: proportional reversal, clawback or write-off, small refunds that add up.

Every expectation is worked out by hand from the commands the test runs.
The same stories run against the real server in tests/integration/test_program.py.
"""

from __future__ import annotations

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme, story_clock, trial_balance_holds, usd

from loyalty_accounts.errors import DuplicateOperation, OperationRefused, UnknownEntity
from loyalty_accounts.operations import RedeemCommand, RefundCommand


def test_refund_after_spending_claws_back_from_the_next_earn(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, refund_shortfall="claw_back")
    program.earn(earn("c1", "o1", "100"))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=90, at=T0))
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("50"), at=T0))
    bal = program.balance("c1")
    assert (bal.spendable, bal.clawback) == (0, -40)
    program.earn(earn("c1", "o2", "60"))
    bal = program.balance("c1")
    assert (bal.spendable, bal.clawback) == (20, 0)
    # the second half of the refund reverses the other 50 points: 20 spendable, 30 as debt
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f2", amount=usd("50"), at=T0))
    bal = program.balance("c1")
    assert (bal.spendable, bal.clawback) == (0, -30)
    with pytest.raises(OperationRefused, match="more than its amount"):
        program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f3", amount=usd("1"), at=T0))
    trial_balance_holds(ledger)

def test_refund_shortfall_written_off_leaves_no_debt(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, refund_shortfall="write_off")
    program.earn(earn("c1", "o1", "100"))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0))
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("100"), at=T0))
    assert program.balance("c1").total == 0
    assert ledger.account("program:points:written_off").balance("PTS") == -100
    trial_balance_holds(ledger)

def test_refund_of_an_unknown_order_posts_nothing(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "10"))
    with pytest.raises(UnknownEntity):
        program.refund(RefundCommand(customer="c1", order_id="nope", refund_id="f1", amount=usd("1"), at=T0))
    assert ledger.posts == 1

def test_small_refunds_add_up_even_when_each_reverses_no_whole_point(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100"))  # 100 points for 100.00 USD
    first = program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("0.50"), at=T0))
    assert first.points == 0 and not first.transactions  # floor(100 x 0.50 / 100) = 0
    again = program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("0.50"), at=T0))
    assert again.replayed
    with pytest.raises(DuplicateOperation):
        program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("0.60"), at=T0))
    second = program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f2", amount=usd("0.50"), at=T0))
    assert second.points == 1  # floor(100 x 1.00 / 100) - 0 = 1
    assert program.balance("c1").spendable == 99
    # the order's refunds cannot exceed its amount, small ones included
    with pytest.raises(OperationRefused, match="more than its amount"):
        program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f3", amount=usd("99.01"), at=T0))
    trial_balance_holds(ledger)
