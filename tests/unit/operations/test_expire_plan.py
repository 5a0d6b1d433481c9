"""Expire: one plan per due bucket, draining it whole."""

from __future__ import annotations

from datetime import datetime, timezone

from opsupport import buckets

from loyalty_accounts.operations import ExpireCommand, expire
from loyalty_accounts.types import TransactionPlan

AS_OF = datetime(2026, 9, 30, 3, 0, tzinfo=timezone.utc)

EXPIRE_SCRIPT = """\
vars {
  asset $asset
  account $bucket
  account $expired
}

send [$asset *] (
  source = $bucket
  destination = $expired
)
"""


def test_each_due_bucket_gets_its_own_plan(chart, catalogue):
    cmd = ExpireCommand(customer="c42", as_of=AS_OF)
    plans = expire.plan(cmd, chart, catalogue, buckets(d20270331=40, d20260930=12, d20260101=3, d20250101=0, noexpiry=9))
    assert plans == (
        TransactionPlan(
            operation="expire",
            template="expire",
            script=EXPIRE_SCRIPT,
            vars={"asset": "PTS", "bucket": "customers:c42:points:20260101", "expired": "program:points:expired"},
            reference="expire:20260930T030000Z:c42:20260101",
            command_hash=cmd.fingerprint(expiry="20260101"),
            metadata={"customer": "c42", "expires_at": "2026-01-01", "as_of": "2026-09-30T03:00:00Z"},
            timestamp=AS_OF,
        ),
        TransactionPlan(
            operation="expire",
            template="expire",
            script=EXPIRE_SCRIPT,
            vars={"asset": "PTS", "bucket": "customers:c42:points:20260930", "expired": "program:points:expired"},
            reference="expire:20260930T030000Z:c42:20260930",
            command_hash=cmd.fingerprint(expiry="20260930"),
            metadata={"customer": "c42", "expires_at": "2026-09-30", "as_of": "2026-09-30T03:00:00Z"},
            timestamp=AS_OF,
        ),
    )
    assert plans[0].command_hash != plans[1].command_hash


def test_nothing_due_nothing_planned(chart, catalogue):
    cmd = ExpireCommand(customer="c42", as_of=AS_OF)
    assert expire.plan(cmd, chart, catalogue, buckets(d20261001=40, noexpiry=9)) == ()
