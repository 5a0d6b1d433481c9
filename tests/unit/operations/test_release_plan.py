"""Release: due pending accounts move what they hold from the run's instant on into the bucket of their expiry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from opsupport import SINCE, d, steady

from loyalty_accounts.operations import PendingBalance, ReleaseCommand, Timeline, release
from loyalty_accounts.operations.timeline import Change
from loyalty_accounts.types import TransactionPlan

AS_OF = datetime(2026, 3, 15, 2, 0, tzinfo=timezone.utc)

RELEASE_SCRIPT = """\
vars {
  monetary $points
  account $pending
  account $bucket
}

send $points (
  source = $pending
  destination = $bucket
)
"""


def test_due_pending_accounts_are_released_oldest_first(chart, catalogue):
    cmd = ReleaseCommand(customer="c42", as_of=AS_OF)
    pending = [
        PendingBalance(release=d("2026-03-20"), expiry=d("2027-03-06"), timeline=steady(40)),
        PendingBalance(release=d("2026-03-15"), expiry=d("2027-03-01"), timeline=steady(95)),
        PendingBalance(release=d("2026-03-01"), expiry=None, timeline=steady(5)),
        PendingBalance(release=d("2026-02-01"), expiry=d("2027-01-18"), timeline=steady(0)),
    ]
    plans = release.plan(cmd, chart, catalogue, pending)
    assert [p.reference for p in plans] == [
        "release:20260315T020000Z:c42:20260301:noexpiry",
        "release:20260315T020000Z:c42:20260315:20270301",
    ]
    assert plans[1] == TransactionPlan(
        operation="release",
        template="release",
        script=RELEASE_SCRIPT,
        vars={
            "points": "PTS 95",
            "pending": "customers:c42:pending:20260315:20270301",
            "bucket": "customers:c42:points:20270301",
        },
        reference="release:20260315T020000Z:c42:20260315:20270301",
        command_hash=cmd.fingerprint(release="20260315", expiry="20270301"),
        metadata={
            "customer": "c42",
            "release_at": "2026-03-15",
            "expires_at": "2027-03-01",
            "as_of": "2026-03-15T02:00:00Z",
        },
        timestamp=AS_OF,
    )
    assert plans[0].vars["bucket"] == "customers:c42:points:noexpiry"


def test_a_run_in_the_past_releases_what_the_account_holds_from_then_on(chart, catalogue):
    # 95 pending at the run's instant; a late order added 20 the next day, a refund took 30 two days later
    later = (
        Change(timestamp=AS_OF + timedelta(days=1), tx_id=5, amount=20),
        Change(timestamp=AS_OF + timedelta(days=2), tx_id=6, amount=-30),
    )
    pending = PendingBalance(release=d("2026-03-15"), expiry=d("2027-03-01"), timeline=Timeline(since=SINCE, current=85, changes=later))
    (plan,) = release.plan(ReleaseCommand(customer="c42", as_of=AS_OF), chart, catalogue, [pending])
    assert plan.vars["points"] == "PTS 85"  # 95, 115, 85: never more than 85 from then on
    # all of it taken back after the run's instant: nothing to release as of then
    gone = PendingBalance(
        release=d("2026-03-15"),
        expiry=d("2027-03-01"),
        timeline=Timeline(since=SINCE, current=0, changes=(Change(timestamp=AS_OF + timedelta(days=1), tx_id=5, amount=-95),)),
    )
    assert release.plan(ReleaseCommand(customer="c42", as_of=AS_OF), chart, catalogue, [gone]) == ()
