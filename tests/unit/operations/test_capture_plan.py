"""Capture: hold to redeemed, remainder back to the hold's buckets, latest expiry first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opsupport import AT

from loyalty_accounts.errors import InvalidCommand, OperationRefused, UnknownEntity
from loyalty_accounts.operations import CaptureCommand, capture
from loyalty_accounts.types import Posting, TransactionPlan

HOLD_POSTINGS = (
    Posting(source="customers:c42:points:20260930", destination="customers:c42:holds:h-9", amount=50, asset="PTS"),
    Posting(source="customers:c42:points:20270331", destination="customers:c42:holds:h-9", amount=20, asset="PTS"),
)

CAPTURE_SCRIPT_1 = """\
vars {
  monetary $captured
  account $hold
  account $redeemed
  monetary $returned_0
  account $return_to_0
}

send $captured (
  source = $hold
  destination = $redeemed
)

send $returned_0 (
  source = $hold
  destination = $return_to_0
)
"""


def command(points: int) -> CaptureCommand:
    return CaptureCommand(customer="c42", hold_id="h-9", points=points, at=AT)


def test_partial_capture_returns_the_latest_expiring_points(chart, catalogue):
    plan = capture.plan(command(55), chart, catalogue, HOLD_POSTINGS, hold_expires_at=AT + timedelta(minutes=1))
    assert plan == TransactionPlan(
        operation="capture",
        template="capture",
        script=CAPTURE_SCRIPT_1,
        vars={
            "captured": "PTS 55",
            "hold": "customers:c42:holds:h-9",
            "redeemed": "program:points:redeemed",
            "returned_0": "PTS 15",
            "return_to_0": "customers:c42:points:20270331",
        },
        reference="capture:h-9",
        command_hash=command(55).fingerprint(),
        metadata={"customer": "c42", "hold_id": "h-9", "points": "55", "returned": "15"},
        timestamp=AT,
    )


def test_small_capture_returns_to_several_buckets(chart, catalogue):
    plan = capture.plan(command(10), chart, catalogue, HOLD_POSTINGS)
    assert plan.vars["returned_0"] == "PTS 20"
    assert plan.vars["return_to_0"] == "customers:c42:points:20270331"
    assert plan.vars["returned_1"] == "PTS 40"
    assert plan.vars["return_to_1"] == "customers:c42:points:20260930"


def test_full_capture_returns_nothing(chart, catalogue):
    plan = capture.plan(command(70), chart, catalogue, HOLD_POSTINGS)
    assert set(plan.vars) == {"captured", "hold", "redeemed"}
    assert "returned" not in plan.script.split("vars {")[1].split("}")[0]
    assert plan.metadata["returned"] == "0"


def test_capturing_more_than_held(chart, catalogue):
    with pytest.raises(InvalidCommand, match="reserved 70 points; cannot capture 71"):
        capture.plan(command(71), chart, catalogue, HOLD_POSTINGS)


def test_a_lapsed_hold_cannot_be_captured(chart, catalogue):
    # A business refusal (exit 1), not malformed input (exit 2).
    with pytest.raises(OperationRefused, match="lapsed") as refused:
        capture.plan(command(1), chart, catalogue, HOLD_POSTINGS, hold_expires_at=AT)
    assert refused.value.exit_code == 1


def test_postings_of_another_hold_are_no_hold(chart, catalogue):
    other = CaptureCommand(customer="c42", hold_id="h-10", points=1, at=AT)
    with pytest.raises(UnknownEntity, match="h-10"):
        capture.plan(other, chart, catalogue, HOLD_POSTINGS)


def test_a_hold_fed_from_another_customer_is_refused(chart, catalogue):
    odd = (Posting(source="customers:c77:points:20260930", destination="customers:c42:holds:h-9", amount=5, asset="PTS"),)
    with pytest.raises(InvalidCommand, match="not a bucket of c42"):
        capture.plan(command(1), chart, catalogue, odd)
