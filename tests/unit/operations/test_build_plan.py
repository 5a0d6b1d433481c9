"""build_plan: the single exit of every operation refuses accounts and overdrafts the chart does not allow."""

from __future__ import annotations

import pytest

from loyalty_accounts import operations
from loyalty_accounts.errors import ChartError
from loyalty_accounts.operations.base import build_plan


def plan_with(chart, catalogue, **overrides):
    values = {
        "points": "PTS 5",
        "adjustments": "program:points:adjustments",
        "bucket": "customers:c42:points:noexpiry",
        **overrides.pop("values", {}),
    }
    args = dict(
        chart=chart, catalogue=catalogue, operation="adjust", template="adjust_credit", values=values,
        reference="adjust:a-1", command_hash="h", metadata={"customer": "c42"}, timestamp=None,
    )
    return build_plan(**{**args, **overrides})


def test_a_valid_plan(chart, catalogue):
    plan = plan_with(chart, catalogue)
    assert plan.vars["bucket"] == "customers:c42:points:noexpiry"
    assert plan.all_metadata() == {"customer": "c42", "operation": "adjust", "template": "adjust_credit", "command_hash": "h"}


def test_an_address_outside_the_chart_is_refused(chart, catalogue):
    with pytest.raises(ChartError, match="'customers:c42:wallet' is not an account of the chart"):
        plan_with(chart, catalogue, values={"bucket": "customers:c42:wallet"})


def test_an_overdraft_on_an_account_that_may_not_go_negative_is_refused(chart, catalogue):
    with pytest.raises(ChartError, match=r"overdraw 'customers:c42:points:noexpiry'.*customer_points may not go negative"):
        plan_with(chart, catalogue, values={"adjustments": "customers:c42:points:noexpiry"})


def test_reserved_or_non_string_metadata_is_refused(chart, catalogue):
    with pytest.raises(ChartError, match="reserved"):
        plan_with(chart, catalogue, metadata={"operation": "x"})
    with pytest.raises(ChartError, match="must be a string"):
        plan_with(chart, catalogue, metadata={"points": 5})


def test_public_api_is_pinned():
    assert sorted(operations.__all__) == sorted([
        "OPERATIONS", "discover_operations", "Registered", "Operation", "Sweep", "Writes", "RESERVED_METADATA", "Reading", "AsOf", "Timeline", "DatedBucket", "VoidCommand", "Command", "BucketBalance", "Allocation", "PendingBalance",
        "EarnRecord", "RefundRecord", "OpenControlCommand", "EarnCommand", "ReleaseCommand", "HoldCommand", "CaptureCommand",
        "RedeemCommand", "ExpireCommand", "TransferCommand", "ExchangeOutCommand", "ExchangeInCommand",
        "ConvertCommand", "RefundCommand", "AdjustCommand", "EngageCommand", "OpenCounterCommand",
        "UsageCatchUpCommand",
    ])
    for name in operations.__all__:
        assert hasattr(operations, name)
