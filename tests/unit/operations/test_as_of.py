"""Reads as of an instant: what each account of a customer can give from then on, on the in-memory ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.fake_ledger import FakeLedger
from support.finance_books import MOVE

from loyalty_accounts.errors import InsufficientPoints
from loyalty_accounts.operations import ExpireCommand, Reading, RedeemCommand, expire, redeem
from loyalty_accounts.types import TransactionPlan

JAN = datetime(2026, 1, 10, tzinfo=timezone.utc)
FEB = datetime(2026, 2, 1, tzinfo=timezone.utc)
MAR = datetime(2026, 3, 1, tzinfo=timezone.utc)
APR = datetime(2026, 4, 1, tzinfo=timezone.utc)
ISSUED = "program:points:issued:1"
BUCKET = "customers:c1:points:20270110"
SHORT = "customers:c1:points:20260301"


def move(ledger: FakeLedger, source: str, destination: str, points: int, when: datetime) -> None:
    ledger.post(
        TransactionPlan(
            operation="manual",
            template="none",
            script=MOVE,
            vars={"amount": f"PTS {points}", "from": source, "to": destination},
            reference=f"manual-{len(list(ledger.transactions())) + 1}",
            command_hash="h",
            metadata={},
            timestamp=when,
        )
    )


def test_a_back_dated_spend_sees_only_what_every_later_instant_keeps(chart, catalogue):
    ledger = FakeLedger()
    move(ledger, ISSUED, BUCKET, 100, JAN)
    move(ledger, BUCKET, "program:points:redeemed", 100, MAR)
    move(ledger, ISSUED, BUCKET, 30, APR)
    reading = Reading(ledger, chart)
    assert reading.at(FEB).buckets("c1") == []  # 100 then, but 0 in March
    assert reading.at(FEB).available("c1", BUCKET) == 0
    assert [b.points for b in reading.at(APR).buckets("c1")] == [30]
    command = RedeemCommand(customer="c1", redemption_id="r-1", points=10, at=FEB)
    with pytest.raises(InsufficientPoints, match="customer c1 has 0 spendable points; 10 needed"):
        redeem.OPERATION.plan(command, chart, catalogue, redeem.OPERATION.read(command, reading))


def test_points_earned_later_are_not_there_before(chart, catalogue):
    ledger = FakeLedger()
    move(ledger, ISSUED, BUCKET, 60, MAR)
    reading = Reading(ledger, chart)
    assert reading.at(FEB).buckets("c1") == []
    assert [b.points for b in reading.at(MAR).buckets("c1")] == [60]


def test_a_spend_takes_exactly_what_each_bucket_can_give_then(chart, catalogue):
    ledger = FakeLedger()
    move(ledger, ISSUED, SHORT, 50, JAN)
    move(ledger, ISSUED, BUCKET, 100, JAN)
    move(ledger, SHORT, "program:points:redeemed", 30, FEB + timedelta(days=5))  # 20 left from then on
    reading = Reading(ledger, chart)
    command = RedeemCommand(customer="c1", redemption_id="r-1", points=40, at=FEB)
    plan = redeem.OPERATION.plan(command, chart, catalogue, redeem.OPERATION.read(command, reading))
    assert plan is not None
    assert [(plan.vars[f"buckets_{k}"], plan.vars[f"taken_{k}"]) for k in range(2)] == [(SHORT, "PTS 20"), (BUCKET, "PTS 20")]
    ledger.post(plan)
    # the short bucket never went below zero: 50, 30 (Feb 1), 0 (Feb 6)
    assert [ledger.account(SHORT, pit=when).balance("PTS") for when in (FEB, FEB + timedelta(days=5))] == [30, 0]


def test_a_debt_is_repayable_only_as_far_as_it_exists_from_then_on(chart_with):
    chart = chart_with(refund_shortfall="claw_back")
    ledger = FakeLedger()
    clawback = chart.clawback("c1")
    move(ledger, clawback, ISSUED, 50, MAR)  # a refund in March leaves a debt of 50
    reading = Reading(ledger, chart)
    assert reading.at(FEB).clawback_balance("c1") == 0  # no debt in February: nothing to repay then
    assert reading.at(MAR).clawback_balance("c1") == -50
    move(ledger, ISSUED, clawback, 20, APR)  # 20 repaid in April
    assert reading.at(MAR).clawback_balance("c1") == -30
    assert reading.at(APR + timedelta(days=1)).clawback_balance("c1") == -30


def test_an_expiry_run_in_the_past_moves_what_the_bucket_held_then(chart, catalogue):
    ledger = FakeLedger()
    move(ledger, ISSUED, SHORT, 100, JAN)
    move(ledger, SHORT, "customers:c1:holds:h-1", 60, FEB)
    move(ledger, "customers:c1:holds:h-1", SHORT, 60, APR)  # the hold voided in April
    reading = Reading(ledger, chart)
    state = expire.read(reading, None)
    assert list(state) == ["c1"] and [b.expiry.isoformat() for b in state["c1"]] == ["2026-03-01"]
    (plan,) = expire.plan(ExpireCommand(customer="c1", as_of=MAR + timedelta(hours=3)), chart, catalogue, state["c1"])
    assert plan.vars["points"] == "PTS 40"
    ledger.post(plan)
    (plan,) = expire.plan(ExpireCommand(customer="c1", as_of=APR + timedelta(hours=3)), chart, catalogue, expire.read(reading, "c1")["c1"])
    assert plan.vars["points"] == "PTS 60"
    ledger.post(plan)
    assert expire.read(reading, "c1") == {}
    for when in (MAR, MAR + timedelta(hours=3), APR, APR + timedelta(hours=3)):
        assert ledger.account(SHORT, pit=when).balance("PTS") >= 0
