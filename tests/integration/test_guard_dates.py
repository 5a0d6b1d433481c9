"""On the real server: every guarded transaction is dated at the instant its guard names.

A void carries no instant of its own: it is made "now". The guard moves the
customer's horizon to that instant, and an operation dated after the horizon
plans from the current balances. If the server dated the void itself (when it
inserted it, a moment after the plan's "now"), an operation dated in between
would count points the void gives back only later and spend them at an
instant the bucket did not hold them: the soak judge saw a bucket at -66 that
way (seed 1403, a void racing an exchange out of the same customer).

The programme's clock is held a day behind the server's so that the gap is
wide and the test does not depend on timing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from support.programme import programme

from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import AdjustCommand, HoldCommand, RedeemCommand
from loyalty_accounts.operations.guard import microseconds

NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)


class Clock:
    """A programme clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def lowest_by_instant(client: LedgerClient, address: str) -> int:
    """The lowest balance (PTS) ``address`` has at any instant, from its transactions in date order."""

    moves: dict[datetime, int] = defaultdict(int)
    for tx in client.transactions(account=address):
        for posting in tx.postings:
            if posting.asset == "PTS" and posting.destination == address:
                moves[tx.timestamp] += posting.amount
            if posting.asset == "PTS" and posting.source == address:
                moves[tx.timestamp] -= posting.amount
    running, lowest = 0, 0
    for instant in sorted(moves):
        running += moves[instant]
        lowest = min(lowest, running)
    return lowest


def test_a_void_is_dated_at_its_guard_instant_so_a_spend_dated_after_it_never_overdraws_a_past_instant(
    client: LedgerClient,
) -> None:
    clock = Clock(NOW)
    books = programme(client, pending_days=0, clock=clock)
    books.adjust(AdjustCommand(customer="c1", adjustment_id="a1", direction="credit", points=100, reason="goodwill",
                               at=NOW - timedelta(hours=2)))
    books.hold(HoldCommand(customer="c1", hold_id="h1", points=100, at=NOW - timedelta(hours=1)))

    books.void("c1", "h1")  # made at the programme's "now"
    void = client.find_by_reference("void:h1")
    assert void is not None
    assert void.timestamp == NOW, f"the void is dated {void.timestamp}, not at the instant it was made ({NOW})"
    horizon = client.account(books.chart.horizon("c1")).balance(books.chart.control_asset)
    assert horizon == -microseconds(NOW)

    (bucket,) = (books.chart.bucket("c1", b.expiry) for b in books.balance("c1").buckets)
    clock.now = NOW + timedelta(seconds=10)
    books.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=NOW + timedelta(seconds=5)))
    assert lowest_by_instant(client, bucket) == 0
    assert books.balance("c1").spendable == 0
