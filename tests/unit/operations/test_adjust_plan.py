"""Adjust: manual credit or debit against program:points:adjustments, with a reason code."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets, d

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand
from loyalty_accounts.operations import AdjustCommand, adjust
from loyalty_accounts.types import TransactionPlan

CREDIT_SCRIPT = """\
vars {
  monetary $points
  account $adjustments
  account $bucket
}

send $points (
  source = $adjustments allowing unbounded overdraft
  destination = $bucket
)
"""

DEBIT_SCRIPT_2 = """\
vars {
  monetary $points
  monetary $taken_0
  monetary $taken_1
  account $buckets_0
  account $buckets_1
  account $adjustments
}

send $points (
  source = {
    max $taken_0 from $buckets_0

    max $taken_1 from $buckets_1

  }
  destination = $adjustments
)
"""


def command(direction: str, points: int, **extra) -> AdjustCommand:
    key = "a-1" if direction == "credit" else "a-2"
    return AdjustCommand(
        customer="c42", adjustment_id=key, direction=direction, points=points, reason="goodwill", at=AT, **extra
    )


def test_credit_goes_to_the_bucket_of_todays_expiry(chart, catalogue):
    plan = adjust.plan(command("credit", 50), chart, catalogue)
    assert plan == TransactionPlan(
        operation="adjust",
        template="adjust_credit",
        script=CREDIT_SCRIPT,
        vars={"points": "PTS 50", "adjustments": "program:points:adjustments", "bucket": "customers:c42:points:20270601"},
        reference="adjust:a-1",
        command_hash=command("credit", 50).fingerprint(),
        metadata={
            "customer": "c42",
            "adjustment_id": "a-1",
            "direction": "credit",
            "points": "50",
            "reason": "goodwill",
            "expires_at": "2027-06-01",
        },
        timestamp=AT,
    )


def test_credit_with_an_explicit_expiry(chart, catalogue):
    plan = adjust.plan(command("credit", 5, expires_on=d("2026-12-31")), chart, catalogue)
    assert plan.vars["bucket"] == "customers:c42:points:20261231"
    with pytest.raises(InvalidCommand, match="born expired"):
        adjust.plan(command("credit", 5, expires_on=d("2026-06-01")), chart, catalogue)


def test_debit_takes_fifo(chart, catalogue):
    plan = adjust.plan(command("debit", 30), chart, catalogue, buckets(d20270601=50, d20260930=10))
    assert plan == TransactionPlan(
        operation="adjust",
        template="adjust_debit",
        script=DEBIT_SCRIPT_2,
        vars={
            "points": "PTS 30",
            "taken_0": "PTS 10",
            "taken_1": "PTS 20",
            "buckets_0": "customers:c42:points:20260930",
            "buckets_1": "customers:c42:points:20270601",
            "adjustments": "program:points:adjustments",
        },
        reference="adjust:a-2",
        command_hash=command("debit", 30).fingerprint(),
        metadata={"customer": "c42", "adjustment_id": "a-2", "direction": "debit", "points": "30", "reason": "goodwill"},
        timestamp=AT,
    )
    with pytest.raises(InsufficientPoints):
        adjust.plan(command("debit", 61), chart, catalogue, buckets(d20270601=50, d20260930=10))


@pytest.mark.parametrize("reason", ["", "Customer called, Jane Doe", "x" * 65])
def test_reason_is_a_mandatory_code(reason):
    with pytest.raises(InvalidCommand, match="reason"):
        AdjustCommand(customer="c42", adjustment_id="a-1", direction="credit", points=1, reason=reason, at=AT)
    with pytest.raises(InvalidCommand, match="reason: required"):
        AdjustCommand(customer="c42", adjustment_id="a-1", direction="credit", points=1, at=AT)


def test_debit_takes_no_expiry():
    with pytest.raises(InvalidCommand, match="credit only"):
        command("debit", 1, expires_on=d("2027-01-01"))
