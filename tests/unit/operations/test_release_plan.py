"""Release: due pending accounts move whole into the bucket of their expiry."""

from __future__ import annotations

from datetime import datetime, timezone

from opsupport import d

from loyalty_accounts.operations import PendingBalance, ReleaseCommand, release
from loyalty_accounts.types import TransactionPlan

AS_OF = datetime(2026, 3, 15, 2, 0, tzinfo=timezone.utc)

RELEASE_SCRIPT = """\
vars {
  asset $asset
  account $pending
  account $bucket
}

send [$asset *] (
  source = $pending
  destination = $bucket
)
"""


def test_due_pending_accounts_are_released_oldest_first(chart, catalogue):
    cmd = ReleaseCommand(customer="c42", as_of=AS_OF)
    pending = [
        PendingBalance(release=d("2026-03-20"), expiry=d("2027-03-06"), points=40),
        PendingBalance(release=d("2026-03-15"), expiry=d("2027-03-01"), points=95),
        PendingBalance(release=d("2026-03-01"), expiry=None, points=5),
        PendingBalance(release=d("2026-02-01"), expiry=d("2027-01-18"), points=0),
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
            "asset": "PTS",
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
