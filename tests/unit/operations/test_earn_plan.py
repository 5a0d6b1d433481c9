"""Earn: points from an order, at the order's own date, into pending or a bucket."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opsupport import AT

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import EarnCommand, EarnRecord, Money, earn
from loyalty_accounts.types import TransactionPlan, command_fingerprint

EARN_SCRIPT = """\
vars {
  monetary $points
  monetary $debt
  account $issued
  account $clawback
  account $destination
}

send $points (
  source = $issued allowing unbounded overdraft
  destination = {
    max $debt to $clawback
    remaining to $destination
  }
)
"""


def command(amount: str = "125.90", currency: str = "USD", at: datetime = AT) -> EarnCommand:
    return EarnCommand(
        customer="c42", order_id="o-1", amount=Money(amount=Decimal(amount), currency=currency), ordered_at=at
    )


def test_earn_into_pending_repaying_clawback_debt(chart, catalogue):
    plan = earn.plan(command(), chart, catalogue, clawback_balance=-30)

    assert plan == TransactionPlan(
        operation="earn",
        template="earn",
        script=EARN_SCRIPT,
        vars={
            "points": "PTS 125",
            "debt": "PTS 30",
            "issued": "program:points:issued:7",
            "clawback": "customers:c42:clawback",
            "destination": "customers:c42:pending:20260615:20270601",
        },
        reference="earn:o-1",
        command_hash=command_fingerprint(
            {
                "operation": "earn",
                "customer": "c42",
                "order_id": "o-1",
                "amount": {"amount": "125.9", "currency": "USD"},
                "ordered_at": "2026-06-01T10:00:00Z",
            }
        ),
        metadata={
            "customer": "c42",
            "order_id": "o-1",
            "amount": "125.90",
            "currency": "USD",
            "points": "125",
            "ordered_at": "2026-06-01T10:00:00Z",
            "expires_at": "2027-06-01",
            "release_at": "2026-06-15",
            "repaid": "30",
        },
        timestamp=AT,
    )


def test_without_chargeback_window_points_go_straight_to_the_bucket(chart_with, catalogue):
    chart = chart_with(pending_days=0)
    plan = earn.plan(command(), chart, catalogue)
    assert plan is not None
    assert plan.vars["destination"] == "customers:c42:points:20270601"
    assert plan.vars["debt"] == "PTS 0"
    assert "release_at" not in plan.metadata
    assert "repaid" not in plan.metadata


def test_without_expiry_the_bucket_is_noexpiry(chart_with, catalogue):
    chart = chart_with(pending_days=0, expiry_days=None)
    plan = earn.plan(command(), chart, catalogue)
    assert plan is not None
    assert plan.vars["destination"] == "customers:c42:points:noexpiry"
    assert plan.metadata["expires_at"] == "never"


@pytest.mark.parametrize("policy", ["allow_negative", "write_off"])
def test_debt_is_only_repaid_under_claw_back(chart_with, catalogue, policy):
    plan = earn.plan(command(), chart_with(refund_shortfall=policy), catalogue, clawback_balance=-30)
    assert plan is not None
    assert plan.vars["debt"] == "PTS 0"


def test_the_order_date_counts_not_the_posting_date(chart, catalogue):
    late = command(at=datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    plan = earn.plan(late, chart, catalogue)
    assert plan is not None
    # 23:30 at UTC-5 is 2026-01-01 04:30 UTC, and the programme calendar is UTC.
    assert plan.vars["destination"] == "customers:c42:pending:20260115:20270101"
    assert plan.timestamp == datetime(2026, 1, 1, 4, 30, tzinfo=timezone.utc)
    assert plan.metadata["ordered_at"] == "2026-01-01T04:30:00Z"


def test_rate_and_floor_rounding(chart, catalogue):
    eur = earn.plan(command("10.95", "EUR"), chart, catalogue)  # 10.95 × 1.1 = 12.045
    jpy = earn.plan(command("1999", "JPY"), chart, catalogue)  # 1999 × 0.01 = 19.99
    assert eur is not None and eur.vars["points"] == "PTS 12"
    assert jpy is not None and jpy.vars["points"] == "PTS 19"


def test_an_order_earning_no_point_posts_nothing(chart, catalogue):
    assert earn.plan(command("0.99"), chart, catalogue) is None


def test_unknown_currency_and_too_many_decimals(chart, catalogue):
    with pytest.raises(InvalidCommand, match="GBP"):
        earn.plan(command("10", "GBP"), chart, catalogue)
    with pytest.raises(InvalidCommand, match="more than 2 decimals"):
        earn.plan(command("10.001"), chart, catalogue)
    with pytest.raises(InvalidCommand, match="more than 0 decimals"):
        earn.plan(command("100.5", "JPY"), chart, catalogue)


def test_same_money_written_differently_is_the_same_command(chart, catalogue):
    a = earn.plan(command("125.90"), chart, catalogue)
    b = earn.plan(command("125.9"), chart, catalogue)
    assert a is not None and b is not None
    assert a.command_hash == b.command_hash
    assert a == b


def test_earn_record_reads_back_the_metadata(chart, catalogue):
    plan = earn.plan(command(), chart, catalogue)
    assert plan is not None
    record = EarnRecord.from_metadata(plan.metadata)
    assert record.points == 125
    assert record.amount == Money(amount=Decimal("125.90"), currency="USD")
    assert record.release_on is not None and record.release_on.isoformat() == "2026-06-15"
    assert record.expires_on is not None and record.expires_on.isoformat() == "2027-06-01"
    with pytest.raises(InvalidCommand, match="earn metadata"):
        EarnRecord.from_metadata({"customer": "c42"})


cents = st.integers(min_value=1, max_value=10**9)


@given(a=cents, b=cents)
def test_points_are_never_negative_and_grow_with_the_amount(chart, a, b):
    low, high = sorted((a, b))
    p_low = earn.points_for(Money(amount=Decimal(low) / 100, currency="EUR"), chart)
    p_high = earn.points_for(Money(amount=Decimal(high) / 100, currency="EUR"), chart)
    assert 0 <= p_low <= p_high
    assert p_high <= Decimal(high) / 100 * Decimal("1.1")
