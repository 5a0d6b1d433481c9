"""Refund: proportional reversal, pending then FIFO buckets then the policy's shortfall account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opsupport import AT, buckets, d

from loyalty_accounts.errors import InvalidCommand, OperationRefused
from loyalty_accounts.operations import EarnRecord, RefundCommand, RefundRecord, refund
from loyalty_accounts.types import TransactionPlan
from loyalty_accounts.vocabulary.amounts import Money

EARN = EarnRecord(
    customer="c42",
    order_id="o-1",
    amount=Money(amount=Decimal("125.90"), currency="USD"),
    points=125,
    ordered_at=AT,
    release_on=d("2026-06-15"),
    expires_on=d("2027-06-01"),
)

REFUND_SCRIPT_3 = """\
vars {
  monetary $points
  monetary $taken_0
  monetary $taken_1
  monetary $taken_2
  account $sources_0
  account $sources_1
  account $sources_2
  account $shortfall
  account $issued
}

send $points (
  source = {
    max $taken_0 from $sources_0

    max $taken_1 from $sources_1

    max $taken_2 from $sources_2

    $shortfall allowing unbounded overdraft
  }
  destination = $issued
)
"""


def command(amount: str, refund_id: str = "rf-1", currency: str = "USD") -> RefundCommand:
    return RefundCommand(
        customer="c42",
        order_id="o-1",
        refund_id=refund_id,
        amount=Money(amount=Decimal(amount), currency=currency),
        at=AT,
    )


def previous(*items: tuple[str, str, int]) -> list[RefundRecord]:
    return [RefundRecord(refund_id=i, amount=Money(amount=Decimal(a), currency="USD"), points=p) for i, a, p in items]


def test_full_refund_under_claw_back(chart, catalogue):
    plan = refund.plan(
        command("125.90"), chart, catalogue, earn=EARN, previous_refunds=[],
        buckets=buckets(d20270601=40, d20260930=0, d20260601=7), pending=60,
    )
    assert plan == TransactionPlan(
        operation="refund",
        template="refund",
        script=REFUND_SCRIPT_3,
        vars={
            "points": "PTS 125",
            "taken_0": "PTS 60",
            "taken_1": "PTS 7",
            "taken_2": "PTS 40",
            "sources_0": "customers:c42:pending:20260615:20270601",
            "sources_1": "customers:c42:points:20260601",
            "sources_2": "customers:c42:points:20270601",
            "shortfall": "customers:c42:clawback",
            "issued": "program:points:issued:7",
        },
        reference="refund:rf-1",
        command_hash=command("125.90").fingerprint(),
        metadata={
            "customer": "c42",
            "order_id": "o-1",
            "refund_id": "rf-1",
            "amount": "125.90",
            "currency": "USD",
            "points": "125",
            "refunded_total": "125.90",
            "shortfall_policy": "claw_back",
        },
        timestamp=AT,
    )


def test_the_refunded_share_of_qualifying_points_leaves_the_orders_day(chart, catalogue):
    earned = EARN.model_copy(update={"qualifying_on": d("2026-06-01")})
    # 50.00 of 125.90 → floor(125 × 50 / 125.90) = 49 points, and as many qualifying points
    plan = refund.plan(command("50.00"), chart, catalogue, earn=earned, previous_refunds=[], buckets=[])
    assert plan is not None
    assert {k: v for k, v in plan.vars.items() if k.startswith(("qualifying", "qualified", "tiers"))} == {
        "qualifying_0": "QPTS 49",
        "qualified_0": "customers:c42:qualifying:20260601",
        "tiers_0": "program:tiers:qualifying",
    }
    assert "send $qualifying_0 (" in plan.script


def test_an_order_earned_before_qualifying_points_returns_none(chart, catalogue):
    plan = refund.plan(command("50.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])
    assert plan is not None
    assert "QPTS" not in " ".join(plan.vars.values()) and "qualifying" not in plan.script


def test_write_off_takes_the_shortfall_from_the_programme(chart_with, catalogue):
    plan = refund.plan(
        command("125.90"), chart_with(refund_shortfall="write_off"), catalogue,
        earn=EARN, previous_refunds=[], buckets=[],
    )
    assert plan is not None
    assert plan.vars["shortfall"] == "program:points:written_off"
    assert plan.metadata["shortfall_policy"] == "write_off"


def test_allow_negative_records_the_debt_on_the_customer(chart_with, catalogue):
    plan = refund.plan(
        command("125.90"), chart_with(refund_shortfall="allow_negative"), catalogue,
        earn=EARN, previous_refunds=[], buckets=[],
    )
    assert plan is not None and plan.vars["shortfall"] == "customers:c42:clawback"


def test_an_earn_without_pending_has_no_pending_source(chart, catalogue):
    earned = EARN.model_copy(update={"release_on": None})
    plan = refund.plan(command("125.90"), chart, catalogue, earn=earned, previous_refunds=[], buckets=[])
    assert plan is not None
    assert set(plan.vars) == {"points", "shortfall", "issued"}
    assert "$pending" not in plan.script


def test_partial_refunds_are_proportional_to_the_cumulative_amount(chart, catalogue):
    # 125 points on 125.90: refunding 50.00 → floor(125 × 50 / 125.90) = 49
    first = refund.plan(command("50.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])
    assert first is not None and first.vars["points"] == "PTS 49"
    # then 25.95 more: floor(125 × 75.95 / 125.90) = 75, minus 49 already = 26
    second = refund.plan(
        command("25.95", "rf-2"), chart, catalogue, earn=EARN,
        previous_refunds=previous(("rf-1", "50.00", 49)), buckets=[],
    )
    assert second is not None and second.vars["points"] == "PTS 26"
    assert second.metadata["refunded_total"] == "75.95"


def test_a_replay_ignores_its_own_earlier_record(chart, catalogue):
    first = refund.plan(command("50.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])
    again = refund.plan(
        command("50.00"), chart, catalogue, earn=EARN, previous_refunds=previous(("rf-1", "50.00", 49)), buckets=[]
    )
    assert again == first


def test_a_refund_reversing_no_whole_point_posts_nothing(chart, catalogue):
    assert refund.plan(command("0.50"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[]) is None


def test_refunding_more_than_the_order(chart, catalogue):
    with pytest.raises(OperationRefused, match="more than its amount 125.9"):
        refund.plan(
            command("80.00", "rf-2"), chart, catalogue, earn=EARN,
            previous_refunds=previous(("rf-1", "50.00", 49)), buckets=[],
        )


def test_refunding_more_than_the_order_at_once_names_the_amounts(chart, catalogue):
    # nothing refunded before: the message says 0.00, it does not fail building an amount of 0
    with pytest.raises(OperationRefused, match=r"would total 200\.00 USD, more than its amount 125\.90 USD \(0\.00 USD refunded already\)"):
        refund.plan(command("200.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])


def test_refund_must_match_the_order(chart, catalogue):
    with pytest.raises(InvalidCommand, match="paid in USD"):
        refund.plan(command("5", currency="EUR"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])
    other = EARN.model_copy(update={"order_id": "o-2"})
    with pytest.raises(InvalidCommand, match="does not match the earn record"):
        refund.plan(command("5"), chart, catalogue, earn=other, previous_refunds=[], buckets=[])
    with pytest.raises(InvalidCommand, match="more than 2 decimals"):
        refund.plan(command("5.001"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])


def test_refund_record_reads_back_the_metadata(chart, catalogue):
    plan = refund.plan(command("50.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[])
    assert plan is not None
    assert RefundRecord.from_metadata(plan.metadata) == previous(("rf-1", "50", 49))[0]


@given(
    earned=st.integers(min_value=0, max_value=100_000),
    order_cents=st.integers(min_value=1, max_value=10**7),
    cuts=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=8),
)
def test_any_split_of_a_full_refund_reverses_exactly_what_was_earned(earned, order_cents, cuts):
    order = Money(amount=Decimal(order_cents) / 100, currency="USD")
    # split the order amount into len(cuts) positive parts proportional to cuts
    total_cut = sum(cuts)
    parts = [order_cents * c // total_cut for c in cuts]
    parts[-1] += order_cents - sum(parts)
    refunded, reversed_so_far = 0, 0
    for part in parts:
        refunded += part
        if refunded == 0:
            continue
        step = refund.points_to_reverse(
            earned, order, Money(amount=Decimal(refunded) / 100, currency="USD"), reversed_so_far
        )
        assert step >= 0
        reversed_so_far += step
        assert reversed_so_far <= earned
    assert reversed_so_far == earned


def test_each_source_gives_at_most_what_it_can_give_and_the_rest_is_the_shortfall(chart, catalogue):
    # 50.00 of 125.90 → 49 points: the pending account can give 10, the bucket 30, the clawback the last 9
    plan = refund.plan(
        command("50.00"), chart, catalogue, earn=EARN, previous_refunds=[],
        buckets=buckets(d20260930=30, d20270601=0), pending=10,
    )
    assert plan is not None
    assert [(plan.vars[f"sources_{k}"], plan.vars[f"taken_{k}"]) for k in range(2)] == [
        ("customers:c42:pending:20260615:20270601", "PTS 10"),
        ("customers:c42:points:20260930", "PTS 30"),
    ]
    assert "sources_2" not in plan.vars and "max $taken_1 from $sources_1" in plan.script
    # nothing to give anywhere: everything from the shortfall account
    plan = refund.plan(command("50.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=[], pending=0)
    assert plan is not None and set(plan.vars) == {"points", "shortfall", "issued"}


def test_a_refund_dated_before_its_order_is_refused(chart, catalogue):
    early = command("10.00").model_copy(update={"at": AT - timedelta(seconds=1)})
    with pytest.raises(InvalidCommand, match=r"refund rf-1 is dated 2026-06-01T09:59:59Z, before its order o-1 \(2026-06-01T10:00:00Z\)"):
        refund.plan(early, chart, catalogue, earn=EARN, previous_refunds=[], buckets=buckets(d20270601=40))
    # at the order's very instant it is accepted
    assert refund.plan(command("10.00"), chart, catalogue, earn=EARN, previous_refunds=[], buckets=buckets(d20270601=40)) is not None


def test_take_in_order_skips_accounts_that_give_nothing():
    assert refund.take_in_order([("a", 0), ("b", -5), ("c", 7), ("d", 9)], 10) == [("c", 7), ("d", 3)]
    assert refund.take_in_order([("a", 4)], 10) == [("a", 4)]
