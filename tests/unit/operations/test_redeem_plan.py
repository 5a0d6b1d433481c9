"""Redeem: FIFO buckets to redeemed."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets

from loyalty_accounts.errors import InsufficientPoints
from loyalty_accounts.operations import RedeemCommand, redeem
from loyalty_accounts.types import TransactionPlan

REDEEM_SCRIPT_2 = """\
vars {
  monetary $points
  monetary $taken_0
  monetary $taken_1
  account $buckets_0
  account $buckets_1
  account $redeemed
}

send $points (
  source = {
    max $taken_0 from $buckets_0

    max $taken_1 from $buckets_1

  }
  destination = $redeemed
)
"""


def command(points: int = 70, reward: str | None = None) -> RedeemCommand:
    return RedeemCommand(customer="c42", redemption_id="r-5", points=points, at=AT, reward=reward)


def test_redeem_spends_the_soonest_expiry_then_noexpiry(chart, catalogue):
    plan = redeem.plan(command(), chart, catalogue, buckets(noexpiry=40, d20260930=50))
    assert plan == TransactionPlan(
        operation="redeem",
        template="redeem",
        script=REDEEM_SCRIPT_2,
        vars={
            "points": "PTS 70",
            "taken_0": "PTS 50",
            "taken_1": "PTS 20",
            "buckets_0": "customers:c42:points:20260930",
            "buckets_1": "customers:c42:points:noexpiry",
            "redeemed": "program:points:redeemed",
        },
        reference="redeem:r-5",
        command_hash=command().fingerprint(),
        metadata={"customer": "c42", "redemption_id": "r-5", "points": "70"},
        timestamp=AT,
    )


def test_only_the_buckets_needed_are_listed(chart, catalogue):
    plan = redeem.plan(command(30, reward="sku-123"), chart, catalogue, buckets(noexpiry=40, d20260930=50))
    assert plan.vars == {
        "points": "PTS 30",
        "taken_0": "PTS 30",
        "buckets_0": "customers:c42:points:20260930",
        "redeemed": "program:points:redeemed",
    }
    assert plan.metadata["reward"] == "sku-123"


def test_redeem_more_than_spendable(chart, catalogue):
    with pytest.raises(InsufficientPoints):
        redeem.plan(command(91), chart, catalogue, buckets(noexpiry=40, d20260930=50))
