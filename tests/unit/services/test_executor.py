"""The executor's exactly-once answers: twins, retries of the same command, refusals that are not, re-plans.

The in-memory ledger checks a reference before it runs the script; the real
server (v2.4.12) runs the script and its balance checks first, so the losing
twin of the same spend sent twice at once is refused for funds although its
twin posted it. ``FundsBeforeReference`` keeps the server's order and can let
a twin win the race. The same stories run against the real server in
tests/integration/test_exactly_once.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, programme, story_clock, trial_balance_holds, usd
from support.races import FundsBeforeReference, TwinAfterLookup

from loyalty_accounts.chart import Chart
from loyalty_accounts.errors import DuplicateOperation, InsufficientPoints
from loyalty_accounts.numscript import Catalogue, monetary
from loyalty_accounts.operations import (
    OPERATIONS,
    AdjustCommand,
    CaptureCommand,
    Command,
    ConvertCommand,
    EarnCommand,
    ExchangeOutCommand,
    HoldCommand,
    Operation,
    Reading,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
    Writes,
)
from loyalty_accounts.operations.base import build_plan
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.services.executor import Executor
from loyalty_accounts.services.results import OperationResult
from loyalty_accounts.types import TransactionPlan
from loyalty_accounts.vocabulary.amounts import Points
from loyalty_accounts.vocabulary.ids import BusinessKey, CustomerId
from loyalty_accounts.vocabulary.instants import Instant


def earn(order: str, amount: str, customer: str = "c1") -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=T0)


def funded(ledger: FundsBeforeReference) -> LoyaltyProgram:
    """c1 with 100 spendable points (100.00 USD at ×1, no chargeback window) and c2 known."""

    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00"))
    program.earn(earn("o2", "1.00", customer="c2"))
    return program


# Each spends more than half of c1's 100 points, so after its twin the same plan is short.
SPENDS: dict[str, Callable[[LoyaltyProgram], OperationResult]] = {
    "redeem": lambda p: p.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0)),
    "hold": lambda p: p.hold(HoldCommand(customer="c1", hold_id="h1", points=100, at=T0)),
    "transfer": lambda p: p.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t1", points=100, at=T0)),
    "convert": lambda p: p.convert(ConvertCommand(customer="c1", conversion_id="v1", points=100, at=T0)),
    # 20 miles × 3 points = 60 points
    "exchange_out": lambda p: p.exchange_out(
        ExchangeOutCommand(customer="c1", exchange_id="x1", partner="skyway", partner_points=20, at=T0)
    ),
    "adjust": lambda p: p.adjust(
        AdjustCommand(customer="c1", adjustment_id="j1", direction="debit", points=100, reason="fraud-review", at=T0)
    ),
}


@pytest.mark.parametrize("operation", sorted(SPENDS))
def test_the_losing_twin_of_a_spend_gets_the_original_not_insufficient_points(operation: str) -> None:
    ledger = FundsBeforeReference()
    program = funded(ledger)
    posts = ledger.posts
    ledger.twin = operation
    result = SPENDS[operation](program)
    original = ledger.find_by_reference(result.reference)
    assert original is not None
    assert result.replayed is True  # the twin, an earlier call, posted it
    assert [tx.id for tx in result.transactions] == [original.id]
    assert ledger.posts == posts + 1  # the twin's posting only


def test_the_losing_twin_of_a_capture_gets_the_original() -> None:
    ledger = FundsBeforeReference()
    program = funded(ledger)
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=100, at=T0))
    ledger.twin = "capture"
    result = program.capture(CaptureCommand(customer="c1", hold_id="h1", points=70, at=T0))
    assert result.replayed is True and result.points == 70
    assert program.balance("c1").spendable == 30  # 100 held, 70 captured once, 30 back
    assert ledger.account("program:points:redeemed").balance("PTS") == 70


def test_a_spend_refused_for_funds_whose_reference_another_command_took_is_a_duplicate() -> None:
    ledger = FundsBeforeReference()
    program = funded(ledger)
    ledger.twin, ledger.twin_hash = "redeem", "another-command"
    with pytest.raises(DuplicateOperation, match="redeem:r1"):
        SPENDS["redeem"](program)


def test_a_spend_refused_for_funds_with_its_reference_free_is_still_refused() -> None:
    ledger = FundsBeforeReference()
    program = funded(ledger)
    with pytest.raises(InsufficientPoints):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=101, at=T0))
    assert ledger.find_by_reference("redeem:r1") is None


def test_the_losing_twin_of_an_award_gets_the_original_not_limit_reached() -> None:
    ledger = FundsBeforeReference()
    program = programme(ledger, clock=story_clock, pending_days=0)
    ledger.twin = "engage"  # sign_up: once per customer, so the twin took the only slot
    result = program.engage("c1", "sign_up", "k1", T0)
    assert result.replayed is True and result.points == 500
    assert ledger.account("customers:c1:engagement:sign_up").balance("AWARDS") == -1
    assert program.balance("c1").spendable == 500


# -- the same command again: defaults that are not what the command is ---------------------


def test_an_earn_whose_order_time_was_not_given_is_the_same_command_a_second_later() -> None:
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)

    def unstated(at_now: timedelta) -> EarnCommand:
        return EarnCommand(
            customer="c1", order_id="A-1", amount=usd("25.90"), ordered_at=T0 + at_now, unstated=frozenset({"ordered_at"})
        )

    first = program.earn(unstated(timedelta(0)))
    again = program.earn(unstated(timedelta(seconds=1)))
    assert first.replayed is False and first.points == 25
    assert again.replayed is True and again.transactions[0].id == first.transactions[0].id
    assert ledger.posts == 1
    # A stated time is what the order is: another one is another order under the same key.
    with pytest.raises(DuplicateOperation):
        program.earn(EarnCommand(customer="c1", order_id="A-1", amount=usd("25.90"), ordered_at=T0 + timedelta(days=1)))
    with pytest.raises(DuplicateOperation):
        program.earn(unstated(timedelta(seconds=2)).model_copy(update={"amount": usd("26.00")}))


# -- the twin posts between our lookup and the reads our plan is built from ---------------


def test_a_twin_posted_before_the_balances_were_read_is_a_replay_not_a_refusal() -> None:
    ledger = TwinAfterLookup()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00"))
    spend = RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0)
    ledger.reference, ledger.twin = "redeem:r1", lambda: program.redeem(spend)
    result = program.redeem(spend)  # its plan, from buckets the twin emptied, would refuse
    assert result.replayed is True and result.points == 100
    assert ledger.account("program:points:redeemed").balance("PTS") == 100


def test_a_twin_award_counted_before_the_counters_were_read_is_a_replay_not_limit_reached() -> None:
    ledger = TwinAfterLookup()
    program = programme(ledger, clock=story_clock, pending_days=0)
    ledger.reference, ledger.twin = "engage:sign_up:c1:k1", lambda: program.engage("c1", "sign_up", "k1", T0)
    result = program.engage("c1", "sign_up", "k1", T0)
    assert result.replayed is True and result.points == 500
    assert program.balance("c1").spendable == 500


def test_a_twin_refund_read_as_an_earlier_refund_is_a_replay_not_a_small_refund() -> None:
    ledger = TwinAfterLookup()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00"))
    refund = RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("100.00"), at=T0)
    ledger.reference, ledger.twin = "refund:f1", lambda: program.refund(refund)
    result = program.refund(refund)
    assert result.replayed is True and result.points == 100
    earn_tx = ledger.find_by_reference("earn:o1")
    assert earn_tx is not None and not any(key.startswith("small_refund:") for key in earn_tx.metadata)
    assert program.balance("c1").spendable == 0


# -- the same command twice, and a spend raced by another one -------------------------------


def test_repeating_an_earn_posts_once_and_a_changed_one_is_refused() -> None:
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    first = program.earn(earn("o1", "10"))
    again = program.earn(earn("o1", "10"))
    assert again.replayed and again.transactions[0].id == first.transactions[0].id
    with pytest.raises(DuplicateOperation):
        program.earn(earn("o1", "11"))
    assert ledger.posts == 1


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
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100"))
    ledger.armed = True
    result = program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=60, at=T0))
    assert result.points == 60 and program.balance("c1").spendable == 10

    ledger.armed, ledger.steal = True, 5
    with pytest.raises(InsufficientPoints):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=10, at=T0))
    assert program.balance("c1").spendable == 5
    assert ledger.find_by_reference("redeem:r2") is None
    trial_balance_holds(ledger)



# -- a new operation is one registry entry: the executor runs it, no service needed ----------


class BonusCommand(Command):
    """A bonus of ``points`` to a known customer, into points that never expire (a test-only operation)."""

    operation = "bonus"
    key_field = "bonus_id"
    customer: CustomerId
    bonus_id: BusinessKey
    points: Points
    at: Instant


def read_bonus(command: BonusCommand, reading: Reading) -> int:
    reading.require_known(command.customer)
    return reading.balance(reading.chart.bucket(command.customer, None), reading.chart.points_asset)


def plan_bonus(command: BonusCommand, chart: Chart, catalogue: Catalogue, never_expiring: int) -> TransactionPlan | None:
    if never_expiring >= 1000:
        return None  # enough already
    return build_plan(
        chart=chart,
        catalogue=catalogue,
        operation=command.operation,
        template="adjust_credit",
        values={
            "points": monetary(chart.points_asset, command.points),
            "adjustments": chart.adjustments(),
            "bucket": chart.bucket(command.customer, None),
        },
        reference=command.reference(),
        command_hash=command.fingerprint(),
        metadata={"customer": command.customer, "points": str(command.points)},
        timestamp=command.at,
    )


BONUS: Operation[BonusCommand, int] = Operation(
    command=BonusCommand,
    templates=("adjust_credit",),
    read=read_bonus,
    plan=plan_bonus,
    writes=Writes(required=frozenset({"customer", "points"})),
    no_plan_note=lambda never_expiring: f"{never_expiring} points that never expire are enough",
)


def test_a_registered_operation_runs_read_plan_post_exactly_once() -> None:
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00"))
    executor = Executor(ledger, program.chart, program.catalogue, program.rules, registry={**OPERATIONS, "bonus": BONUS})
    first = executor.run(BonusCommand(customer="c1", bonus_id="b1", points=600, at=T0))
    assert (first.operation, first.reference, first.points, first.replayed) == ("bonus", "bonus:b1", 600, False)
    assert executor.run(BonusCommand(customer="c1", bonus_id="b1", points=600, at=T0)).replayed
    with pytest.raises(DuplicateOperation):
        executor.run(BonusCommand(customer="c1", bonus_id="b1", points=601, at=T0))
    assert executor.run(BonusCommand(customer="c1", bonus_id="b2", points=600, at=T0)).posted
    enough = executor.run(BonusCommand(customer="c1", bonus_id="b3", points=1, at=T0))
    assert not enough.transactions and enough.note == "1200 points that never expire are enough"
    assert program.balance("c1").spendable == 1300
    trial_balance_holds(ledger)
