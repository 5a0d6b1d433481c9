"""Hold: FIFO buckets into the hold's own account, with a lapse time."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand
from loyalty_accounts.operations import HoldCommand, hold
from loyalty_accounts.types import TransactionPlan

HOLD_SCRIPT_2 = """\
vars {
  monetary $points
  monetary $taken_0
  monetary $taken_1
  account $buckets_0
  account $buckets_1
  account $hold
}

send $points (
  source = {
    max $taken_0 from $buckets_0

    max $taken_1 from $buckets_1

  }
  destination = $hold
)
"""


def command(points: int = 70) -> HoldCommand:
    return HoldCommand(customer="c42", hold_id="h-9", points=points, at=AT)


def test_hold_takes_soonest_expiring_buckets_first(chart, catalogue):
    plan = hold.plan(command(), chart, catalogue, buckets(d20270331=40, d20260930=50, noexpiry=10))
    assert plan == TransactionPlan(
        operation="hold",
        template="hold",
        script=HOLD_SCRIPT_2,
        vars={
            "points": "PTS 70",
            "taken_0": "PTS 50",
            "taken_1": "PTS 20",
            "buckets_0": "customers:c42:points:20260930",
            "buckets_1": "customers:c42:points:20270331",
            "hold": "customers:c42:holds:h-9",
        },
        reference="hold:h-9",
        command_hash=command().fingerprint(),
        metadata={"customer": "c42", "hold_id": "h-9", "points": "70", "expires_at": "2026-06-01T10:30:00Z"},
        timestamp=AT,
    )


def test_due_buckets_are_not_held(chart, catalogue):
    with pytest.raises(InsufficientPoints, match="has 10 spendable points; 70 needed"):
        hold.plan(command(), chart, catalogue, buckets(d20260601=100, noexpiry=10))


def test_hold_ids_must_be_address_safe():
    with pytest.raises(InvalidCommand, match="hold_id"):
        HoldCommand(customer="c42", hold_id="h.9", points=1, at=AT)
