"""Sweeps on the in-memory ledger: release, expire and void of lapsed holds, each posting once.

Every expectation is worked out by hand from the commands the test runs.
The same stories run against the real server in tests/integration/test_program.py.
"""

from __future__ import annotations

from datetime import date

from support.fake_ledger import FakeLedger
from support.programme import T0, days, earn, programme, story_clock, trial_balance_holds

from loyalty_accounts.operations import HoldCommand


def test_earn_lands_pending_then_release_makes_it_spendable(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=14, expiry_days=365)
    result = program.earn(earn("c1", "o1", "120.50"))
    assert result.points == 120 and not result.replayed
    bal = program.balance("c1")
    assert (bal.pending, bal.spendable) == (120, 0)
    assert bal.pending_buckets[0].release == date(2026, 1, 24)
    assert bal.pending_buckets[0].expiry == date(2027, 1, 10)

    early = program.release(T0 + days(13))
    assert early.posted == 0
    done = program.release(T0 + days(14))
    assert (done.posted, done.points) == (1, 120)
    bal = program.balance("c1")
    assert (bal.pending, bal.spendable) == (0, 120)
    assert bal.buckets[0].expiry == date(2027, 1, 10)
    assert program.release(T0 + days(15)).posted == 0
    trial_balance_holds(ledger)

def test_lapsed_holds_are_voided_in_bulk(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, hold_ttl_minutes=30)
    program.earn(earn("c1", "o1", "100"))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=10, at=T0))
    program.hold(HoldCommand(customer="c1", hold_id="h2", points=10, at=T0 + days(1)))
    result = program.void_lapsed(T0 + days(1))
    assert (result.posted, result.points) == (1, 10)
    assert {h.hold_id for h in program.balance("c1").holds} == {"h2"}

def test_expiry_drains_due_buckets_once(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=30)
    program.earn(earn("c1", "o1", "10", at=T0))
    program.earn(earn("c2", "o2", "20", at=T0))
    program.earn(earn("c2", "o3", "5", at=T0 + days(20)))
    assert program.expire(T0 + days(29)).posted == 0
    run = program.expire(T0 + days(30))
    assert (run.posted, run.points) == (2, 30)
    assert program.expire(T0 + days(30)).posted == 0
    assert program.expire(T0 + days(31)).posted == 0
    assert ledger.account("program:points:expired").balance("PTS") == 30
    left = program.balance("c2", pit=T0 + days(31))
    assert (left.spendable, left.due) == (5, 0)
    # once its own expiry date has come, the bucket left is due: no longer spendable, still owed
    later = program.balance("c2", pit=T0 + days(50))
    assert (later.spendable, later.due, later.total) == (0, 5, 5)
    trial_balance_holds(ledger)


def test_usage_catch_up_credits_what_earns_charged_before_the_cap_counted_them(ledger: FakeLedger) -> None:
    from datetime import datetime, timedelta, timezone

    from support.programme import rules_text

    app_week = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)  # app-week-2026-11: +150 an app order, at most 450 each
    uncapped = rules_text(("    bonus: 150\n    cap_per_customer: 450\n  - id: winter-travel\n", "    bonus: 150\n  - id: winter-travel\n"))
    clock = lambda: datetime(2026, 12, 1, 9, tzinfo=timezone.utc)  # noqa: E731
    before = programme(ledger, rules=uncapped, clock=clock, pending_days=0)
    for i in range(2):  # priced while the campaign was not capped: no usage account credited
        assert before.earn(earn("c1", f"o{i}", "10", at=app_week + timedelta(minutes=i), channel="app")).points == 160
    program = programme(ledger, clock=clock, pending_days=0)
    usage = program.chart.campaign_usage("c1", "app-week-2026-11")
    assert not list(ledger.accounts(program.chart.campaign_usage_filter("c1")))  # never credited

    done = program.catch_up_usage()
    assert (done.posted, done.points) == (1, 300)  # counted in campaign-asset units: what it credited
    assert ledger.account(usage).balance("CAMP") == 300
    assert program.catch_up_usage().posted == 0  # nothing short any more
    # The cap now counts the two earlier orders: 150 of the 450 are left, then none.
    assert program.earn(earn("c1", "o2", "10", at=app_week + timedelta(minutes=2), channel="app")).points == 160
    assert program.earn(earn("c1", "o3", "10", at=app_week + timedelta(minutes=3), channel="app")).points == 10
    assert ledger.account(usage).balance("CAMP") == 450
    # Another customer: a shortfall that appears after a catch-up, at the very same instant, is caught up too.
    before.earn(earn("c2", "p0", "10", at=app_week, channel="app"))
    assert program.catch_up_usage().posted == 1
    before.earn(earn("c2", "p1", "10", at=app_week + timedelta(minutes=1), channel="app"))
    assert program.catch_up_usage().posted == 1
    assert ledger.account(program.chart.campaign_usage("c2", "app-week-2026-11")).balance("CAMP") == 300
    trial_balance_holds(ledger)
