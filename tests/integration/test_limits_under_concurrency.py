"""Limits a plan derives from its reads hold when operations of one customer race (issue 10, kind 1).

Each test starts several operations of one customer at once (a barrier
releases them together) on the real server and checks the ledger against
what the same operations give one at a time. What holds them is the guard's
sequence leg (``operations/guard.py``): a plan read before another
operation of the customer posted is refused by the ledger and planned again.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable, TypeVar

from support.programme import T0, programme, story_clock, usd

from loyalty_accounts.errors import LoyaltyError, OperationRefused
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import EarnCommand, RedeemCommand, RefundCommand
from loyalty_accounts.rules import EngagementLimitReached

UTC = timezone.utc
R = TypeVar("R")
APP_WEEK = datetime(2026, 11, 28, 12, tzinfo=UTC)
"""Inside app-week-2026-11 (rules.yaml): app orders get a 150-point bonus, at most 450 per customer."""


def at_once(calls: list[Callable[[], R]]) -> list[R | LoyaltyError]:
    """Run ``calls`` in threads released together; each one's result or the LoyaltyError it raised."""

    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], R]) -> R | LoyaltyError:
        barrier.wait()
        try:
            return call()
        except LoyaltyError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def bonus_paid(client: LedgerClient, customer: str, campaign: str) -> int:
    """The campaign bonus recorded in the customer's earns (their breakdowns' charges)."""

    from loyalty_accounts.rules import EarnBreakdown

    total = 0
    for tx in client.transactions(metadata={"operation": "earn", "customer": customer}):
        total += EarnBreakdown.from_metadata(tx.metadata).campaign_charges().get(campaign, 0)
    return total


def test_a_campaign_cap_holds_when_four_earns_race(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    results = at_once(
        [
            (lambda n=n: program.earn(
                EarnCommand(customer="c1", order_id=f"app-{n}", amount=usd("10.00"), ordered_at=APP_WEEK, channel="app")
            ))
            for n in range(4)
        ]
    )
    assert not [r for r in results if isinstance(r, LoyaltyError)]
    # one at a time: 10 + 150, three times, then 10 with the cap reached; together the same
    assert sorted(r.points for r in results) == [10, 160, 160, 160]  # type: ignore[union-attr]
    assert bonus_paid(client, "c1", "app-week-2026-11") == 450
    assert program.balance("c1").spendable == 490


def test_a_once_per_customer_award_is_given_once_when_four_race(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    results = at_once([(lambda n=n: program.engage("c1", "sign_up", f"k{n}", T0)) for n in range(4)])
    awarded = [r for r in results if not isinstance(r, LoyaltyError)]
    refused = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(awarded) == 1 and all(isinstance(r, EngagementLimitReached) for r in refused)
    assert program.balance("c1").spendable == 500


def test_a_daily_award_is_given_once_a_day_when_four_race(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    results = at_once([(lambda n=n: program.engage("c1", "app_login", f"login-{n}", T0)) for n in range(4)])
    assert sum(not isinstance(r, LoyaltyError) for r in results) == 1
    assert program.balance("c1").spendable == 5


def test_a_clawback_debt_is_repaid_once_when_two_earns_race(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0, refund_shortfall="claw_back")
    program.earn(EarnCommand(customer="c1", order_id="o-1", amount=usd("50.00"), ordered_at=T0))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-1", points=50, at=T0))
    program.refund(RefundCommand(customer="c1", order_id="o-1", refund_id="f-1", amount=usd("50.00"), at=T0))
    clawback = client.account("customers:c1:clawback")
    assert clawback.balance("PTS") == -50  # the customer owes 50 points
    # pending points again (14 days) for the two racing earns, as in the example
    program = programme(client, clock=story_clock, refund_shortfall="claw_back")
    later = T0.replace(day=20)
    results = at_once(
        [
            (lambda n=n: program.earn(EarnCommand(customer="c1", order_id=f"o-{n}", amount=usd("30.00"), ordered_at=later)))
            for n in (2, 3)
        ]
    )
    assert not [r for r in results if isinstance(r, LoyaltyError)]
    # one at a time: the first repays 30, the second 20 and keeps 10 (pending until released)
    assert client.account("customers:c1:clawback").balance("PTS") == 0
    repaid = sorted(int(r.transactions[0].metadata.get("repaid", "0")) for r in results)  # type: ignore[union-attr]
    assert repaid == [20, 30]
    balance = program.balance("c1")
    assert (balance.spendable, balance.pending) == (0, 10)


def test_an_order_is_not_refunded_beyond_its_amount_when_two_refunds_race(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(EarnCommand(customer="c1", order_id="o-1", amount=usd("100.00"), ordered_at=T0))
    results = at_once(
        [
            (lambda n=n: program.refund(
                RefundCommand(customer="c1", order_id="o-1", refund_id=f"f-{n}", amount=usd("50.50"), at=T0)
            ))
            for n in (1, 2)
        ]
    )
    accepted = [r for r in results if not isinstance(r, LoyaltyError)]
    refused = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(accepted) == 1 and len(refused) == 1
    assert isinstance(refused[0], OperationRefused) and "more than its amount 100.00" in str(refused[0])
    refunds = list(client.transactions(metadata={"operation": "refund"}))
    assert [tx.metadata["amount"] for tx in refunds] == ["50.50"]
    assert program.balance("c1").spendable == 100 - 50  # floor(100 × 50.50 / 100.00) = 50 points back
