"""Earning by the rules on the in-memory ledger: pricing, quotes, explanations, engagement limits.

Expectations are worked out by hand from rules.yaml (2026.12.1: USD ×1, no
category = general ×1 in store, silver from 5000 qualifying points in a
rolling 365-day window at ×1.25) and the repository chart (UTC calendar,
14-day chargeback window). The same stories run against the real server in
tests/integration/test_rules_on_server.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from support.fake_ledger import FakeLedger
from support.programme import (
    T0,
    chart_with,
    days,
    earn,
    programme,
    rules_text,
    story_clock,
    trial_balance_holds,
    usd,
)

from loyalty_accounts.errors import DuplicateOperation, InvalidCommand, UnknownEntity
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import EarnCommand, RedeemCommand, RefundCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.rules import EngagementLimitReached
from loyalty_accounts.vocabulary.amounts import Money

UTC = timezone.utc


def test_without_rules_nothing_is_priced(ledger):
    program = LoyaltyProgram(ledger, chart_with(pending_days=0), Catalogue())
    program.init()
    with pytest.raises(InvalidCommand, match="needs the earning rules"):
        program.earn(earn("c1", "o1", "10.00", T0))
    with pytest.raises(InvalidCommand, match="needs the earning rules"):
        program.engage("c1", "sign_up", "k1", T0)
    assert ledger.posts == 0

def test_explain_adds_up_to_what_was_posted(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    # Black Friday 2026 (New York: 2026-11-27 05:00Z to 2026-12-01 05:00Z), electronics on the web:
    # 250.00 × 1 = 250; bf-2026 ×3 adds 500 → 750
    when = datetime(2026, 11, 28, 15, tzinfo=UTC)
    result = program.earn(earn("c1", "bf-1", "250.00", when, category="electronics", channel="web"))
    assert result.points == 750
    found = program.explain("bf-1")
    assert found.adds_up and found.posted_points == 750
    assert [(line.label, line.points) for line in found.breakdown.lines()] == [
        ("base: 250 USD × 1 points per USD", Decimal(250)),
        ("campaign bf-2026 ×3", Decimal(500)),
    ]
    # 33.33 of fuel: 33.33 × 0.5 = 16.665 → 16 after a rounding line of −0.665
    program.earn(earn("c1", "fuel-1", "33.33", when, category="fuel", channel="store"))
    fuel = program.explain("fuel-1")
    assert fuel.adds_up and fuel.posted_points == 16
    assert fuel.breakdown.lines()[-1].points == Decimal("-0.665")
    with pytest.raises(UnknownEntity):
        program.explain("nope")

def test_quote_reads_the_ledger_but_posts_nothing(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "6000.00", T0))
    quoted = program.quote(earn("c1", "o2", "100.00", T0 + days(1)))
    assert (quoted.tier, quoted.points) == ("silver", 125)
    assert ledger.posts == 1
    assert program.earn(earn("c1", "o2", "100.00", T0 + days(1))).points == 125

def test_a_campaign_cap_per_customer_is_a_budget_over_its_life(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    # app-week-2026-11: +150 per app order, at most 450 per customer; 2026-11-23..29 Paris
    week = datetime(2026, 11, 24, 12, tzinfo=UTC)
    got = [program.earn(earn("c1", f"a{i}", "10.00", week + timedelta(hours=i), channel="app")).points for i in range(3)]
    assert got == [160, 160, 160]
    # an order placed earlier in the week but arriving last finds the budget spent: 10 only
    assert program.earn(earn("c1", "early", "10.00", datetime(2026, 11, 23, 9, tzinfo=UTC), channel="app")).points == 10
    assert program.explain("early").breakdown.campaigns[0].cap == "customer"

def test_orders_without_category_or_channel_use_the_rules_defaults_and_keep_their_replays(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    first = program.earn(earn("c1", "o1", "10.00", T0))
    assert program.explain("o1").breakdown.category == "general" and program.explain("o1").breakdown.channel == "store"
    assert program.earn(earn("c1", "o1", "10.00", T0)).replayed
    with pytest.raises(DuplicateOperation):
        program.earn(earn("c1", "o1", "10.00", T0, category="books"))
    assert first.points == 10
    no_defaults = programme(FakeLedger(), pending_days=0, rules=rules_text(("order_defaults: {category: general, channel: store}\n", "")))
    with pytest.raises(InvalidCommand, match="needs a category and channel"):
        no_defaults.earn(earn("c1", "o1", "10.00", T0))

def test_an_excluded_category_posts_nothing_and_says_why(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    result = program.earn(earn("c1", "o1", "50.00", T0, category="gift_cards"))
    assert result.points == 0 and not result.transactions and result.note == "the order earns no points (excluded category)"
    assert ledger.posts == 0

def test_money_in_another_currency_is_priced_by_its_rate(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    # 10.95 EUR × 1.1 = 12.045 → 12; 1999 JPY × 0.01 = 19.99 → 19
    eur = EarnCommand(customer="c1", order_id="e1", amount=Money(amount=Decimal("10.95"), currency="EUR"), ordered_at=T0)
    jpy = EarnCommand(customer="c1", order_id="j1", amount=Money(amount=Decimal("1999"), currency="JPY"), ordered_at=T0)
    assert program.earn(eur).points == 12 and program.earn(jpy).points == 19
    with pytest.raises(InvalidCommand, match="GBP"):
        program.earn(EarnCommand(customer="c1", order_id="g1", amount=Money(amount=Decimal("5"), currency="GBP"), ordered_at=T0))


def test_once_per_customer_award(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    first = program.engage("c1", "sign_up", "k1", T0)
    assert first.points == 500 and first.posted
    assert program.balance("c1").spendable == 500
    # the same key, even on another day, is the same award
    assert program.engage("c1", "sign_up", "k1", T0 + days(3)).replayed
    with pytest.raises(EngagementLimitReached, match="at most 1 time"):
        program.engage("c1", "sign_up", "k2", T0 + days(1))
    # another customer has an allowance of their own
    assert program.engage("c2", "sign_up", "k2", T0).points == 500
    # each customer's counter is opened once (a round trip that leaves it at 0), then awarded
    assert ledger.posts == 4
    opened = [tx.reference for tx in ledger.transactions(metadata={"operation": "open_counter"})]
    assert opened == ["open_counter:sign_up:c1", "open_counter:sign_up:c2"]
    assert ledger.account("customers:c1:engagement:sign_up").balance("AWARDS") == -1
    assert ledger.account("program:engagement:sign_up").balance("AWARDS") == 2
    trial_balance_holds(ledger)

def test_n_per_day_award(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    # review_written: 50 points, at most 2 a day (programme calendar: UTC)
    day = datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert program.engage("c1", "review_written", "r1", day).points == 50
    assert program.engage("c1", "review_written", "r2", day + timedelta(hours=10)).points == 50
    with pytest.raises(EngagementLimitReached, match="2 time\\(s\\) a day"):
        program.engage("c1", "review_written", "r3", day + timedelta(hours=15))
    assert program.engage("c1", "review_written", "r3", day + timedelta(hours=16)).points == 50  # 00:00 next day
    assert program.engage("c1", "review_written", "r1", day + days(5)).replayed
    assert program.balance("c1").spendable == 150
    with pytest.raises(InvalidCommand, match="unknown engagement event 'dance'"):
        program.engage("c1", "dance", "d1", day)
    # two days' counters opened, three awards
    opened = [tx.reference for tx in ledger.transactions(metadata={"operation": "open_counter"})]
    assert opened == ["open_counter:review_written:c1:20260301", "open_counter:review_written:c1:20260302"]
    assert ledger.posts == 5

def test_engagement_repays_a_clawback_debt_first(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0, refund_shortfall="claw_back")
    program.earn(earn("c1", "o1", "100.00", T0))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=100, at=T0))
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("40.00"), at=T0))
    assert program.balance("c1").clawback == -40
    program.engage("c1", "sign_up", "k1", T0 + days(1))
    bal = program.balance("c1")
    assert (bal.clawback, bal.spendable) == (0, 460)

class AwardsBehindOurBack(FakeLedger):
    """Another process awards the same event between our counter read and our post."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False

    def post(self, plan, *, schema_version=None):  # type: ignore[no-untyped-def]
        if self.armed and plan.operation == "engage":
            self.armed = False
            theirs = {"reference": plan.reference + "-other", "command_hash": "other"}
            super().post(plan.model_copy(update=theirs), schema_version=schema_version)
        return super().post(plan, schema_version=schema_version)

def test_the_ledger_refuses_an_award_a_concurrent_one_already_took():
    ledger = AwardsBehindOurBack()
    program = programme(ledger, clock=story_clock, pending_days=0)
    ledger.armed = True
    with pytest.raises(EngagementLimitReached):
        program.engage("c1", "sign_up", "k1", T0)
    # exactly one award: the other process's
    assert ledger.account("customers:c1:engagement:sign_up").balance("AWARDS") == -1
    assert ledger.find_by_reference("engage:sign_up:c1:k1") is None
    assert program.balance("c1").spendable == 500
    trial_balance_holds(ledger)
