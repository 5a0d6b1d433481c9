"""Sweeps on the in-memory ledger: release, expire and void of lapsed holds, each posting once.

Every expectation is worked out by hand from the commands the test runs.
The same stories run against the real server in tests/integration/test_program.py.
"""

from __future__ import annotations

from datetime import date

from support.fake_ledger import FakeLedger
from support.programme import T0, days, earn, programme, trial_balance_holds

from loyalty_accounts.operations import HoldCommand


def test_earn_lands_pending_then_release_makes_it_spendable(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=14, expiry_days=365)
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
    program = programme(ledger, pending_days=0, hold_ttl_minutes=30)
    program.earn(earn("c1", "o1", "100"))
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=10, at=T0))
    program.hold(HoldCommand(customer="c1", hold_id="h2", points=10, at=T0 + days(1)))
    result = program.void_lapsed(T0 + days(1))
    assert (result.posted, result.points) == (1, 10)
    assert {h.hold_id for h in program.balance("c1").holds} == {"h2"}

def test_expiry_drains_due_buckets_once(ledger: FakeLedger) -> None:
    program = programme(ledger, pending_days=0, expiry_days=30)
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
