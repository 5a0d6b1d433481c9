"""Earning by the rules on the real Formance Ledger: tiers over a rolling window, explanations, award limits.

The stories mirror tests/unit/services/test_earning.py; here the server's own
effective-date volumes (back-dated orders), unique references and bounded
overdraft check are what is relied on. Figures are worked out by hand from
rules.yaml 2026.12.1 (USD ×1, silver from 5000 qualifying points in 365 days
at ×1.25; sign_up once per customer; review_written twice a day).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from support.programme import T0, days, programme, story_clock, usd

from loyalty_accounts.errors import LoyaltyError
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import EarnCommand, RefundCommand
from loyalty_accounts.rules import EngagementLimitReached
from loyalty_accounts.services.results import OperationResult, TierChange

UTC = timezone.utc


def earn(customer: str, order: str, amount: str, at: datetime, **fields: str) -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at, **fields)


def test_tier_over_a_rolling_window_with_back_dated_orders(client: LedgerClient) -> None:
    # its orders run into 2027: the programme's "now" is after them (nothing may be dated in the future)
    program = programme(client, pending_days=0, clock=lambda: datetime(2027, 6, 1, tzinfo=UTC))
    program.earn(earn("c1", "o1", "3000.00", T0))  # 3000, member
    second = program.earn(earn("c1", "o2", "2500.00", T0 + days(100)))  # 5500 → silver
    assert second.tier_change == TierChange(before="member", after="silver", direction="upgrade")
    # placed on 2026-03-01, posted last: the server dates it then, and it is priced as a member then
    late = program.earn(earn("c1", "o3", "1000.00", T0 + days(50)))
    assert late.points == 1000 and late.tier_change is None
    assert late.transactions[0].timestamp == T0 + days(50)
    assert program.earn(earn("c1", "o4", "100.00", T0 + days(200))).points == 125  # silver ×1.25
    assert program.tier("c1", T0 + days(201)).qualifying_points == 3000 + 2500 + 1000 + 125
    year = datetime(2027, 1, 10, tzinfo=UTC)
    assert program.tier("c1", year).tier == "silver"  # o1's day still inside
    moved = program.tier("c1", year + timedelta(microseconds=1))
    assert (moved.tier, moved.qualifying_points) == ("member", 2500 + 1000 + 125)
    # a refund of o2 after the window moved lowers the window it is in: 3625 − 1250
    program.refund(RefundCommand(customer="c1", order_id="o2", refund_id="f1", amount=usd("1250.00"), at=year + days(1)))
    assert program.tier("c1", year + days(2)).qualifying_points == 2375
    assert program.tier("c1", year).qualifying_points == 6625  # as it stood then
    assert program.explain("o4").adds_up


def test_a_campaign_earn_explains_itself_on_the_server(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    # Black Friday electronics on the web: 250 + bf-2026 ×3 (+500) = 750
    result = program.earn(earn("c1", "bf-1", "250.00", datetime(2026, 11, 28, 15, tzinfo=UTC), category="electronics", channel="web"))
    assert result.points == 750
    found = program.explain("bf-1")
    assert found.adds_up and found.posted_points == 750 and found.breakdown.campaigns[0].campaign == "bf-2026"


def award(program, customer: str, event: str, key: str, at: datetime) -> OperationResult | LoyaltyError:  # type: ignore[no-untyped-def]
    try:
        return program.engage(customer, event, key, at)
    except EngagementLimitReached as exc:
        return exc


ROUNDS = 6
"""Fresh counters raced per test: on a never-opened counter the server let 1 to 8 of 8 racers through."""


def test_once_per_customer_award_under_concurrency(client: LedgerClient) -> None:
    # Each round races 10 awards on a customer whose counter has never been used.
    program = programme(client, clock=story_clock, pending_days=0)
    customers = [f"c{n}" for n in range(ROUNDS)]
    for customer in customers:
        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(pool.map(lambda i: award(program, customer, "sign_up", f"k{i}", T0), range(10)))
        posted = [o for o in outcomes if isinstance(o, OperationResult)]
        assert len(posted) == 1 and posted[0].points == 500, (customer, outcomes)
        assert sum(isinstance(o, EngagementLimitReached) for o in outcomes) == 9, (customer, outcomes)
        assert client.account(f"customers:{customer}:engagement:sign_up").balance("AWARDS") == -1
        assert program.balance(customer).spendable == 500
    assert len(list(client.transactions(metadata={"operation": "engage"}))) == ROUNDS
    # one opening per counter, however many racers found it unopened
    assert len(list(client.transactions(metadata={"operation": "open_counter"}))) == ROUNDS


def test_the_same_key_in_parallel_is_one_award(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: program.engage("c1", "sign_up", "k1", T0), range(10)))
    assert len({r.transactions[0].id for r in results}) == 1
    assert sum(not r.replayed for r in results) <= 1
    assert program.balance("c1").spendable == 500


def test_n_per_day_award_under_concurrency(client: LedgerClient) -> None:
    # Each round races 10 reviews on a day whose counter has never been used (2 a day allowed).
    program = programme(client, clock=story_clock, pending_days=0)
    first = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for n in range(ROUNDS):
        day = first + days(n)
        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(pool.map(lambda i: award(program, "c1", "review_written", f"r{n}-{i}", day), range(10)))
        assert sum(isinstance(o, OperationResult) for o in outcomes) == 2, (day, outcomes)
        assert sum(isinstance(o, EngagementLimitReached) for o in outcomes) == 8, (day, outcomes)
        assert program.balance("c1").spendable == 100 * (n + 1)
    # the next day has its own allowance
    assert program.engage("c1", "review_written", "r-next", first + days(ROUNDS)).points == 50
