"""Operations in time on the real server: an operation dated T is planned on the ledger as of T.

Each test reproduces one example of issue 10 (kind 2): an operation dated in
the past may take from an account no more than it holds at that instant and
at every later one, a refund or a capture is never dated before what it
settles, and a sweep as of a past instant moves what the account held then.
Balances are checked with point-in-time reads at several instants; the
``client`` fixture (conftest) checks the trial balance after each test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable

import pytest
from support.programme import T0, days, earn, programme, story_clock, usd

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand, UnknownEntity
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import CaptureCommand, HoldCommand, RedeemCommand, RefundCommand
from loyalty_accounts.program import LoyaltyProgram

FEB_1 = datetime(2026, 2, 1, tzinfo=timezone.utc)
MAR_1 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def balance_at(client: LedgerClient, address: str, when: datetime) -> int:
    """The account's points effective at ``when`` (0 before its first use)."""

    try:
        return client.account(address, pit=when).balance("PTS")
    except UnknownEntity:
        return 0


def instants(client: LedgerClient, address: str) -> list[datetime]:
    """Every instant the account's balance changed (the timestamps of the transactions touching it)."""

    return sorted({tx.timestamp for tx in client.transactions(account=address)})


def never_negative(client: LedgerClient, addresses: Iterable[str]) -> None:
    for address in addresses:
        for when in instants(client, address):
            assert balance_at(client, address, when) >= 0, f"{address} is negative at {when.isoformat()}"


def bucket_of(program: LoyaltyProgram, customer: str) -> str:
    (bucket,) = program.balance(customer).buckets
    return program.chart.bucket(customer, bucket.expiry)


def test_a_redeem_dated_before_the_points_were_earned_is_refused(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "60", at=MAR_1))
    with pytest.raises(InsufficientPoints, match="customer c1 has 0 spendable points; 60 needed"):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=60, at=FEB_1))
    assert client.find_by_reference("redeem:r1") is None
    bucket = bucket_of(program, "c1")
    assert balance_at(client, bucket, datetime(2026, 2, 10, tzinfo=timezone.utc)) == 0
    assert balance_at(client, bucket, MAR_1) == 60
    # dated on or after the earn, the same redeem fits
    program.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=60, at=MAR_1))
    never_negative(client, [bucket])


def test_a_back_dated_spend_that_would_leave_a_later_instant_negative_is_refused(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100", at=T0))  # January
    bucket = bucket_of(program, "c1")
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-mar", points=70, at=MAR_1))
    # in February the bucket holds 100, but only 30 of them are still there in March
    with pytest.raises(InsufficientPoints, match="customer c1 has 30 spendable points; 50 needed"):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r-feb", points=50, at=FEB_1))
    assert client.find_by_reference("redeem:r-feb") is None
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-feb-30", points=30, at=FEB_1))
    with pytest.raises(InsufficientPoints, match="has 0 spendable points; 1 needed"):
        program.hold(HoldCommand(customer="c1", hold_id="h-feb", points=1, at=FEB_1 + days(1)))
    assert [balance_at(client, bucket, when) for when in (T0, FEB_1, MAR_1)] == [100, 70, 0]
    never_negative(client, [bucket])


def test_a_spend_fully_taken_later_leaves_nothing_for_an_earlier_date(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100", at=T0))  # January
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-mar", points=100, at=MAR_1))
    with pytest.raises(InsufficientPoints, match="customer c1 has 0 spendable points; 50 needed"):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r-feb", points=50, at=FEB_1))
    assert client.find_by_reference("redeem:r-feb") is None
    assert client.account("program:points:redeemed").balance("PTS") == 100


def test_a_refund_dated_before_its_order_is_refused(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100", at=MAR_1))
    with pytest.raises(InvalidCommand, match=r"refund f1 is dated 2026-02-15T00:00:00Z, before its order o1 \(2026-03-01T00:00:00Z\)"):
        program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("50"), at=datetime(2026, 2, 15, tzinfo=timezone.utc)))
    assert client.find_by_reference("refund:f1") is None
    # nothing went wrong in that window: an earn there and the tier both work
    assert program.earn(earn("c1", "o2", "20", at=datetime(2026, 2, 20, tzinfo=timezone.utc))).points == 20
    assert program.tier("c1", MAR_1 + days(1)).qualifying_points == 120
    # dated at the order's instant or later it is accepted
    assert program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("50"), at=MAR_1)).points == 50


def test_a_capture_dated_before_its_hold_is_refused(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100", at=T0))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=40, at=T0 + days(1)))
    with pytest.raises(InvalidCommand, match="capture of hold h1 is dated .* before the hold"):
        program.capture(CaptureCommand(customer="c1", hold_id="h1", points=40, at=T0 + timedelta(hours=1)))
    assert client.find_by_reference("capture:h1") is None
    program.capture(CaptureCommand(customer="c1", hold_id="h1", points=40, at=T0 + days(1) + timedelta(minutes=1)))


def test_an_expiry_as_of_before_a_lapsed_void_expires_what_the_bucket_held_then(client: LedgerClient) -> None:
    program = programme(client, pending_days=0, expiry_days=30)
    program.earn(earn("c1", "o1", "100", at=T0))
    bucket = bucket_of(program, "c1")
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=60, at=T0 + days(1)))
    lapsed = program.void_lapsed(datetime.now(timezone.utc))
    assert (lapsed.posted, lapsed.points) == (1, 60)
    voided_at = lapsed.results[0].transactions[0].timestamp
    # the bucket fell due on T0 + 30 days; an expiry run as of the day after, long before the void
    due = T0 + days(31)
    run = program.expire(due)
    assert (run.posted, run.points) == (1, 40)  # what the bucket held then, not the 100 it holds today
    checks = (T0, T0 + days(1), due, due + days(1), voided_at)
    assert [balance_at(client, bucket, when) for when in checks] == [100, 40, 0, 0, 60]
    # the same run again has nothing left to move; a run after the void expires the 60 returned
    assert program.expire(due).posted == 0
    later = program.expire(voided_at + timedelta(seconds=1))
    assert (later.posted, later.points) == (1, 60)
    never_negative(client, [bucket])
    assert client.account("program:points:expired").balance("PTS") == 100


def test_an_earn_repays_only_the_debt_that_exists_from_its_date_on(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0, refund_shortfall="claw_back")
    program.earn(earn("c1", "o1", "100", at=T0))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0 + days(1)))
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("100"), at=T0 + days(10)))
    clawback = program.chart.clawback("c1")
    # an order dated before the refund: there was no debt then, so it repays nothing
    early = program.earn(earn("c1", "o2", "30", at=T0 + days(5)))
    assert early.transactions[0].metadata.get("repaid") is None
    assert program.balance("c1").spendable == 30
    # an order dated after it repays the debt
    late = program.earn(earn("c1", "o3", "30", at=T0 + days(11)))
    assert late.transactions[0].metadata["repaid"] == "30"
    assert [balance_at(client, clawback, when) for when in (T0 + days(5), T0 + days(10), T0 + days(11))] == [0, -100, -70]
    for when in instants(client, clawback):
        assert balance_at(client, clawback, when) <= 0
