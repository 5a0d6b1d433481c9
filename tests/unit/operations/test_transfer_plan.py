"""Transfer: per-bucket sends that keep each point's expiry."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand
from loyalty_accounts.operations import TransferCommand, transfer
from loyalty_accounts.types import TransactionPlan

TRANSFER_SCRIPT_2 = """\
vars {
  monetary $moved_0
  monetary $moved_1
  account $from_bucket_0
  account $from_bucket_1
  account $to_bucket_0
  account $to_bucket_1
}

send $moved_0 (
  source = $from_bucket_0
  destination = $to_bucket_0
)

send $moved_1 (
  source = $from_bucket_1
  destination = $to_bucket_1
)
"""


def command(points: int = 70) -> TransferCommand:
    return TransferCommand(customer="c42", to_customer="c77", transfer_id="t-3", points=points, at=AT)


def test_transfer_preserves_expiry_bucket_by_bucket(chart, catalogue):
    plan = transfer.plan(command(), chart, catalogue, buckets(d20270331=40, d20260930=50, d20260501=99))
    assert plan == TransactionPlan(
        operation="transfer",
        template="transfer",
        script=TRANSFER_SCRIPT_2,
        vars={
            "moved_0": "PTS 50",
            "moved_1": "PTS 20",
            "from_bucket_0": "customers:c42:points:20260930",
            "from_bucket_1": "customers:c42:points:20270331",
            "to_bucket_0": "customers:c77:points:20260930",
            "to_bucket_1": "customers:c77:points:20270331",
        },
        reference="transfer:t-3",
        command_hash=command().fingerprint(),
        metadata={"customer": "c42", "to_customer": "c77", "transfer_id": "t-3", "points": "70"},
        timestamp=AT,
    )


def test_transfer_short_of_points(chart, catalogue):
    with pytest.raises(InsufficientPoints, match="customer c42 has 90"):
        transfer.plan(command(91), chart, catalogue, buckets(d20270331=40, d20260930=50))


def test_transfer_to_oneself_is_refused():
    with pytest.raises(InvalidCommand, match="two different customers"):
        TransferCommand(customer="c42", to_customer="c42", transfer_id="t-3", points=1, at=AT)
