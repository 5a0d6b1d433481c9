"""Spending on the in-memory ledger: redeem, hold, capture, void, transfer, exchanges, conversion, adjustments.

Every expectation is worked out by hand from the commands the test runs.
The same stories run against the real server in tests/integration/test_program.py.
"""

from __future__ import annotations

from datetime import date

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, days, earn, programme, story_clock, trial_balance_holds

from loyalty_accounts.errors import (
    InsufficientPoints,
    InvalidCommand,
    OperationRefused,
    UnknownEntity,
)
from loyalty_accounts.operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    TransferCommand,
)


def test_redeem_spends_soonest_expiring_first(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=365)
    program.earn(earn("c1", "o1", "50", at=T0))
    program.earn(earn("c1", "o2", "40", at=T0 + days(30)))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=70, at=T0 + days(31)))
    buckets = {b.expiry: b.points for b in program.balance("c1").buckets}
    assert buckets == {date(2027, 2, 9): 20}
    with pytest.raises(InsufficientPoints):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=21, at=T0 + days(31)))
    assert program.balance("c1").spendable == 20
    trial_balance_holds(ledger)

def test_unknown_customer_is_an_error_and_posts_nothing(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    with pytest.raises(UnknownEntity):
        program.redeem(RedeemCommand(customer="ghost", redemption_id="r1", points=1, at=T0))
    with pytest.raises(UnknownEntity):
        program.balance("ghost")
    assert ledger.posts == 0

def test_capture_part_of_a_hold_returns_the_rest_to_its_buckets(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=365)
    program.earn(earn("c1", "o1", "30", at=T0))
    program.earn(earn("c1", "o2", "30", at=T0 + days(1)))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=50, at=T0 + days(2)))
    assert program.balance("c1").held == 50
    program.capture(CaptureCommand(customer="c1", hold_id="h1", points=35, at=T0 + days(2)))
    bal = program.balance("c1")
    assert bal.held == 0 and bal.spendable == 25
    # 30 from the first bucket and 20 from the second were held; 15 come back
    # to the latest-expiring bucket first.
    assert {b.expiry: b.points for b in bal.buckets} == {date(2027, 1, 11): 25}
    assert ledger.account("program:points:redeemed").balance("PTS") == 35
    trial_balance_holds(ledger)

def test_void_returns_points_to_the_very_buckets_and_only_once(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=365)
    program.earn(earn("c1", "o1", "30", at=T0))
    program.earn(earn("c1", "o2", "30", at=T0 + days(1)))
    before = program.balance("c1").buckets
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=40, at=T0 + days(2)))
    voided = program.void("c1", "h1")
    assert voided.points == 40 and not voided.replayed
    assert program.balance("c1").buckets == before
    assert program.void("c1", "h1").replayed
    with pytest.raises(OperationRefused, match="voided"):
        program.capture(CaptureCommand(customer="c1", hold_id="h1", points=10, at=T0 + days(2)))
    trial_balance_holds(ledger)

def test_a_captured_hold_cannot_be_voided_a_business_refusal(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=365)
    program.earn(earn("c1", "o1", "30", at=T0))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=20, at=T0 + days(1)))
    program.capture(CaptureCommand(customer="c1", hold_id="h1", points=20, at=T0 + days(1)))
    with pytest.raises(OperationRefused, match="was captured") as refused:
        program.void("c1", "h1")
    assert refused.value.exit_code == 1

def test_transfer_keeps_each_points_expiry(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=365)
    program.earn(earn("a", "o1", "10", at=T0))
    program.earn(earn("a", "o2", "10", at=T0 + days(5)))
    program.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t1", points=15, at=T0 + days(6)))
    assert {x.expiry: x.points for x in program.balance("b").buckets} == {date(2027, 1, 10): 10, date(2027, 1, 15): 5}
    assert program.balance("a").spendable == 5

def test_partner_exchange_and_conversion_move_every_leg(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "1000"))
    # skyway outbound: 3 PTS per mile, we owe 0.0125 USD per mile.
    program.exchange_out(ExchangeOutCommand(customer="c1", exchange_id="x1", partner="skyway", partner_points=100, at=T0))
    assert program.balance("c1").spendable == 700
    assert ledger.account("partners:skyway:delivered").balance("SKYMILES") == 100
    assert ledger.account("partners:skyway:settlement").balance("USD/2") == -125
    # inbound: 2 PTS per mile, the partner owes 0.0080 USD per mile.
    program.exchange_in(ExchangeInCommand(customer="c1", exchange_id="x2", partner="skyway", partner_points=50, at=T0))
    assert program.balance("c1").spendable == 800
    assert ledger.account("partners:skyway:settlement").balance("USD/2") == -125 + 40
    # 100 PTS buy 1.00 USD of credit; whole units only.
    program.convert(ConvertCommand(customer="c1", conversion_id="v1", points=300, at=T0))
    bal = program.balance("c1")
    assert bal.spendable == 500 and str(bal.credit) == "3.00"
    with pytest.raises(InvalidCommand):
        program.convert(ConvertCommand(customer="c1", conversion_id="v2", points=150, at=T0))
    trial_balance_holds(ledger)

def test_adjustments_need_a_reason_and_move_both_ways(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "10"))
    program.adjust(AdjustCommand(customer="c1", adjustment_id="a1", direction="credit", points=5, reason="goodwill", at=T0))
    program.adjust(AdjustCommand(customer="c1", adjustment_id="a2", direction="debit", points=12, reason="fraud-review", at=T0))
    assert program.balance("c1").spendable == 3
    assert ledger.account("program:points:adjustments").balance("PTS") == 7
    with pytest.raises(InvalidCommand):
        AdjustCommand(customer="c1", adjustment_id="a3", direction="credit", points=5, reason="", at=T0)


def test_a_void_that_loses_to_a_capture_says_captured() -> None:
    class CapturesFirst(FakeLedger):
        """The capture lands between the void's reads and its post."""

        raced = False

        def post(self, plan, **kwargs):  # type: ignore[no-untyped-def]
            if plan.operation == "void" and not self.raced:
                self.raced = True
                program.capture(CaptureCommand(customer="c1", hold_id="h1", points=100, at=T0))
            return super().post(plan, **kwargs)

    ledger = CapturesFirst()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100.00"))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=100, at=T0))
    with pytest.raises(OperationRefused, match="was captured"):
        program.void("c1", "h1")
