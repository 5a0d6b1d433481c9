"""Expire: one plan per due bucket, moving what it holds from the run's instant on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from opsupport import SINCE, d, dated_buckets

from loyalty_accounts.operations import DatedBucket, ExpireCommand, Timeline, expire
from loyalty_accounts.operations.timeline import Change
from loyalty_accounts.types import TransactionPlan

AS_OF = datetime(2026, 9, 30, 3, 0, tzinfo=timezone.utc)

EXPIRE_SCRIPT = """\
vars {
  monetary $points
  account $bucket
  account $expired
}

send $points (
  source = $bucket
  destination = $expired
)
"""


def test_each_due_bucket_gets_its_own_plan(chart, catalogue):
    cmd = ExpireCommand(customer="c42", as_of=AS_OF)
    plans = expire.plan(cmd, chart, catalogue, dated_buckets(d20270331=40, d20260930=12, d20260101=3, d20250101=0))
    assert plans == (
        TransactionPlan(
            operation="expire",
            template="expire",
            script=EXPIRE_SCRIPT,
            vars={"points": "PTS 3", "bucket": "customers:c42:points:20260101", "expired": "program:points:expired"},
            reference="expire:20260930T030000Z:c42:20260101",
            command_hash=cmd.fingerprint(expiry="20260101"),
            metadata={"customer": "c42", "expires_at": "2026-01-01", "as_of": "2026-09-30T03:00:00Z"},
            timestamp=AS_OF,
        ),
        TransactionPlan(
            operation="expire",
            template="expire",
            script=EXPIRE_SCRIPT,
            vars={"points": "PTS 12", "bucket": "customers:c42:points:20260930", "expired": "program:points:expired"},
            reference="expire:20260930T030000Z:c42:20260930",
            command_hash=cmd.fingerprint(expiry="20260930"),
            metadata={"customer": "c42", "expires_at": "2026-09-30", "as_of": "2026-09-30T03:00:00Z"},
            timestamp=AS_OF,
        ),
    )
    assert plans[0].command_hash != plans[1].command_hash


def test_nothing_due_nothing_planned(chart, catalogue):
    cmd = ExpireCommand(customer="c42", as_of=AS_OF)
    assert expire.plan(cmd, chart, catalogue, dated_buckets(d20261001=40)) == ()


def test_a_run_in_the_past_expires_what_the_bucket_held_then_not_what_came_back_later(chart, catalogue):
    # the bucket held 40 at the run's instant; 60 came back (a void) the next day: it holds 100 now
    back = Change(timestamp=AS_OF + timedelta(days=1), tx_id=9, amount=60)
    bucket = DatedBucket(expiry=d("2026-09-30"), timeline=Timeline(since=SINCE, current=100, changes=(back,)))
    (plan,) = expire.plan(ExpireCommand(customer="c42", as_of=AS_OF), chart, catalogue, [bucket])
    assert plan.vars["points"] == "PTS 40"
    # a run after the void expires those 60 too (the 40 are gone by then in a real ledger)
    later = ExpireCommand(customer="c42", as_of=AS_OF + timedelta(days=2))
    (plan,) = expire.plan(later, chart, catalogue, [bucket])
    assert plan.vars["points"] == "PTS 100"


def test_a_bucket_emptied_after_the_run_instant_plans_nothing(chart, catalogue):
    # an overlapping later run already took everything: nothing left to expire as of the earlier instant
    taken = Change(timestamp=AS_OF + timedelta(hours=1), tx_id=7, amount=-12)
    bucket = DatedBucket(expiry=d("2026-09-30"), timeline=Timeline(since=SINCE, current=0, changes=(taken,)))
    assert expire.plan(ExpireCommand(customer="c42", as_of=AS_OF), chart, catalogue, [bucket]) == ()
