"""The programme service on an in-memory ledger whose scripts run in Formance's interpreter.

Every expectation is worked out by hand from the commands the test runs.
The same stories run against the real server in tests/integration/test_program.py.
"""

from __future__ import annotations

from datetime import date

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, days, programme, usd

from loyalty_accounts.errors import DuplicateOperation, InsufficientPoints, InvalidCommand, OperationRefused, UnknownEntity
from loyalty_accounts.operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)


def earn(customer: str, order: str, amount: str, at=T0) -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at)


def trial_balance_holds(ledger: FakeLedger) -> None:
    assert all(v == 0 for v in ledger.aggregate_balances("").values())


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


def test_init_is_idempotent(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    again = program.init()
    assert again["ledger_created"] is False and again["schema_applied"] is False
    assert ledger.list_schema_versions() == [program.schema_version]


def test_earn_lands_pending_then_release_makes_it_spendable(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=14, expiry_days=365)
    result = program.earn(earn("c1", "o1", "120.50"))
    assert result.points == 120 and not result.replayed
    bal = program.balance("c1")
    assert (bal.pending, bal.spendable) == (120, 0)
    assert bal.pending_buckets[0].release == date(2026, 1, 24)
    assert bal.pending_buckets[0].expiry == date(2027, 1, 10)

    early = program.release(T0 + days(13))
    assert early.posted == 0
    done = program.release(T0 + days(14))
    assert (done.posted, done.points) == (1, 120)
    bal = program.balance("c1")
    assert (bal.pending, bal.spendable) == (0, 120)
    assert bal.buckets[0].expiry == date(2027, 1, 10)
    assert program.release(T0 + days(15)).posted == 0
    trial_balance_holds(ledger)


def test_repeating_an_earn_posts_once_and_a_changed_one_is_refused(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    first = program.earn(earn("c1", "o1", "10"))
    again = program.earn(earn("c1", "o1", "10"))
    assert again.replayed and again.transactions[0].id == first.transactions[0].id
    with pytest.raises(DuplicateOperation):
        program.earn(earn("c1", "o1", "11"))
    assert ledger.posts == 1


def test_redeem_spends_soonest_expiring_first(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, expiry_days=365)
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
    program = programme(ledger, pending_days=0)
    with pytest.raises(UnknownEntity):
        program.redeem(RedeemCommand(customer="ghost", redemption_id="r1", points=1, at=T0))
    with pytest.raises(UnknownEntity):
        program.balance("ghost")
    assert ledger.posts == 0


def test_capture_part_of_a_hold_returns_the_rest_to_its_buckets(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, expiry_days=365)
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
    program = programme(ledger, pending_days=0, expiry_days=365)
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
    program = programme(ledger, pending_days=0, expiry_days=365)
    program.earn(earn("c1", "o1", "30", at=T0))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=20, at=T0 + days(1)))
    program.capture(CaptureCommand(customer="c1", hold_id="h1", points=20, at=T0 + days(1)))
    with pytest.raises(OperationRefused, match="was captured") as refused:
        program.void("c1", "h1")
    assert refused.value.exit_code == 1


def test_lapsed_holds_are_voided_in_bulk(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, hold_ttl_minutes=30)
    program.earn(earn("c1", "o1", "100"))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=10, at=T0))
    program.hold(HoldCommand(customer="c1", hold_id="h2", points=10, at=T0 + days(1)))
    result = program.void_lapsed(T0 + days(1))
    assert (result.posted, result.points) == (1, 10)
    assert {h.hold_id for h in program.balance("c1").holds} == {"h2"}


def test_expiry_drains_due_buckets_once(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, expiry_days=30)
    program.earn(earn("c1", "o1", "10", at=T0))
    program.earn(earn("c2", "o2", "20", at=T0))
    program.earn(earn("c2", "o3", "5", at=T0 + days(20)))
    assert program.expire(T0 + days(29)).posted == 0
    run = program.expire(T0 + days(30))
    assert (run.posted, run.points) == (2, 30)
    assert program.expire(T0 + days(30)).posted == 0
    assert program.expire(T0 + days(31)).posted == 0
    assert ledger.account("program:points:expired").balance("PTS") == 30
    assert program.balance("c2").spendable == 5
    trial_balance_holds(ledger)


def test_transfer_keeps_each_points_expiry(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, expiry_days=365)
    program.earn(earn("a", "o1", "10", at=T0))
    program.earn(earn("a", "o2", "10", at=T0 + days(5)))
    program.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t1", points=15, at=T0 + days(6)))
    assert {x.expiry: x.points for x in program.balance("b").buckets} == {date(2027, 1, 10): 10, date(2027, 1, 15): 5}
    assert program.balance("a").spendable == 5


def test_partner_exchange_and_conversion_move_every_leg(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
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


def test_refund_after_spending_claws_back_from_the_next_earn(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, refund_shortfall="claw_back")
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
    with pytest.raises(InvalidCommand):
        program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f3", amount=usd("1"), at=T0))
    trial_balance_holds(ledger)


def test_refund_shortfall_written_off_leaves_no_debt(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, refund_shortfall="write_off")
    program.earn(earn("c1", "o1", "100"))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0))
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("100"), at=T0))
    assert program.balance("c1").total == 0
    assert ledger.account("program:points:written_off").balance("PTS") == -100
    trial_balance_holds(ledger)


def test_refund_of_an_unknown_order_posts_nothing(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    program.earn(earn("c1", "o1", "10"))
    with pytest.raises(UnknownEntity):
        program.refund(RefundCommand(customer="c1", order_id="nope", refund_id="f1", amount=usd("1"), at=T0))
    assert ledger.posts == 1


def test_adjustments_need_a_reason_and_move_both_ways(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
    program.earn(earn("c1", "o1", "10"))
    program.adjust(AdjustCommand(customer="c1", adjustment_id="a1", direction="credit", points=5, reason="goodwill", at=T0))
    program.adjust(AdjustCommand(customer="c1", adjustment_id="a2", direction="debit", points=12, reason="fraud-review", at=T0))
    assert program.balance("c1").spendable == 3
    assert ledger.account("program:points:adjustments").balance("PTS") == 7
    with pytest.raises(InvalidCommand):
        AdjustCommand(customer="c1", adjustment_id="a3", direction="credit", points=5, reason="", at=T0)


class SpendsBehindOurBack(FakeLedger):
    """Another process spends points between our balance read and our post."""

    def __init__(self, steal: int) -> None:
        super().__init__()
        self.steal = steal
        self.armed = False
        self.stolen = 0

    def post(self, plan, *, schema_version=None):  # type: ignore[no-untyped-def]
        if self.armed and plan.operation == "redeem":
            self.armed = False
            self.stolen += 1
            theirs = {"reference": f"redeem:other-{self.stolen}", "command_hash": "other", "vars": {**plan.vars, "points": f"PTS {self.steal}"}}
            self.post(plan.model_copy(update=theirs), schema_version=schema_version)
        return super().post(plan, schema_version=schema_version)


def test_a_concurrent_spend_is_caught_by_the_ledger_and_replanned() -> None:
    ledger = SpendsBehindOurBack(steal=30)
    program = programme(ledger, pending_days=0)
    program.earn(earn("c1", "o1", "100"))
    ledger.armed = True
    result = program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=60, at=T0))
    assert result.points == 60 and program.balance("c1").spendable == 10

    ledger.armed, ledger.steal = True, 5
    with pytest.raises(InsufficientPoints):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=10, at=T0))
    assert program.balance("c1").spendable == 5
    assert ledger.find_by_reference("redeem:r2") is None
    trial_balance_holds(ledger)


def test_small_refunds_add_up_even_when_each_reverses_no_whole_point(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0)
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
    with pytest.raises(InvalidCommand):
        program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f3", amount=usd("99.01"), at=T0))
    trial_balance_holds(ledger)
