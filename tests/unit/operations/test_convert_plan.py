"""Convert: points out and store credit in, both legs in one transaction."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand
from loyalty_accounts.operations import ConvertCommand, convert
from loyalty_accounts.types import TransactionPlan

CONVERT_SCRIPT_2 = """\
vars {
  monetary $points
  monetary $taken_0
  monetary $taken_1
  account $buckets_0
  account $buckets_1
  account $converted
  monetary $credit
  account $credit_issued
  account $customer_credit
}

send $points (
  source = {
    max $taken_0 from $buckets_0

    max $taken_1 from $buckets_1

  }
  destination = $converted
)

send $credit (
  source = $credit_issued allowing unbounded overdraft
  destination = $customer_credit
)
"""


def command(points: int = 500) -> ConvertCommand:
    return ConvertCommand(customer="c42", conversion_id="cv-1", points=points, at=AT)


def test_convert(chart, catalogue):
    plan = convert.plan(command(), chart, catalogue, buckets(d20270331=400, d20260930=300))
    assert plan == TransactionPlan(
        operation="convert",
        template="convert",
        script=CONVERT_SCRIPT_2,
        vars={
            "points": "PTS 500",
            "taken_0": "PTS 300",
            "taken_1": "PTS 200",
            "buckets_0": "customers:c42:points:20260930",
            "buckets_1": "customers:c42:points:20270331",
            "converted": "program:points:converted",
            "credit": "USD/2 500",
            "credit_issued": "program:credit:issued",
            "customer_credit": "customers:c42:credit",
        },
        reference="convert:cv-1",
        command_hash=command().fingerprint(),
        metadata={"customer": "c42", "conversion_id": "cv-1", "points": "500", "credit": "5.00", "currency": "USD"},
        timestamp=AT,
    )


def test_only_whole_units_of_credit(chart, catalogue):
    with pytest.raises(InvalidCommand, match="use a multiple of 100"):
        convert.plan(command(550), chart, catalogue, buckets(d20270331=1000))


def test_convert_short_of_points(chart, catalogue):
    with pytest.raises(InsufficientPoints):
        convert.plan(command(800), chart, catalogue, buckets(d20270331=400, d20260930=300))
