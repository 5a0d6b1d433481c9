"""The customer's horizon: one listing for an operation dated after it, the history for one dated before.

The horizon (``customers:{c}:horizon``) holds minus the latest instant a
guarded transaction on the customer is dated at. These tests check that it
follows the latest instant exactly (forward only, created for new and older
customers), that an operation dated after it reads nothing but the guard's
listing, and that the answers read from that listing are the ones the
history gives.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, programme as repo_programme, rules_without_review, story_clock, usd

from loyalty_accounts.errors import InsufficientPoints, UnknownEntity
from loyalty_accounts.operations import EarnCommand, Reading, RedeemCommand, TransferCommand
from loyalty_accounts.operations.earn import order_of
from loyalty_accounts.operations.earn import plan as earn_plan
from loyalty_accounts.operations.guard import microseconds, read_guard
from loyalty_accounts.operations.reading import buckets_watched
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.rules import quote


def programme(ledger, **options):  # type: ignore[no-untyped-def]
    """The repository's programme without its review section: these tests count reads, and a redemption's
    review reads (one listing, see tests/unit/services/test_reviews.py) would be counted too."""

    return repo_programme(ledger, rules=rules_without_review(), **options)


HOUR = timedelta(hours=1)


class CountingLedger(FakeLedger):
    """The in-memory ledger, counting its reads by kind (and the history reads: transactions with ``start``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads: Counter[str] = Counter()

    def accounts(self, address_filter: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.reads["accounts"] += 1
        return super().accounts(address_filter, **kwargs)

    def account(self, address: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.reads["account"] += 1
        return super().account(address, **kwargs)

    def transactions(self, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.reads["history" if kwargs.get("start") is not None else "transactions"] += 1
        return super().transactions(**kwargs)

    def volumes(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.reads["volumes"] += 1
        return super().volumes(*args, **kwargs)


def horizon(program: LoyaltyProgram, ledger: FakeLedger, customer: str) -> int:
    """What the customer's horizon row holds (minus µs since the epoch)."""

    chart = program.chart
    return ledger.account(chart.horizon(customer)).balance(chart.control_asset)


def earn(order: str, amount: str, at: datetime, customer: str = "c1") -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at)


def redeem(key: str, points: int, at: datetime, customer: str = "c1") -> RedeemCommand:
    return RedeemCommand(customer=customer, redemption_id=key, points=points, at=at)


def test_the_horizon_follows_the_latest_dated_transaction_forward_only() -> None:
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00", T0))
    assert horizon(program, ledger, "c1") == -microseconds(T0)
    program.earn(earn("o0", "10.00", T0 - 24 * HOUR))  # back-dated: the latest stays T0
    assert horizon(program, ledger, "c1") == -microseconds(T0)
    program.redeem(redeem("r1", 30, T0 + HOUR))
    assert horizon(program, ledger, "c1") == -microseconds(T0 + HOUR)
    # a transfer moves both customers' horizons to its instant
    program.earn(earn("o2", "5.00", T0, customer="c2"))
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t1", points=10, at=T0 + 2 * HOUR))
    assert horizon(program, ledger, "c1") == horizon(program, ledger, "c2") == -microseconds(T0 + 2 * HOUR)
    # the counterpart holds what the horizons moved: the trial balance of CTL stays 0
    chart = program.chart
    totals = ledger.aggregate_balances("")
    assert totals.get(chart.control_asset, 0) == 0


def test_an_operation_dated_after_the_horizon_reads_one_listing_and_no_history() -> None:
    ledger = CountingLedger()
    programme(ledger, clock=story_clock, pending_days=0).earn(earn("o1", "100.00", T0))
    # each operation from a process that knows nothing of c1 yet (see test_last_known.py for one that does)
    program = programme(ledger, clock=story_clock, pending_days=0)
    ledger.reads.clear()
    program.redeem(redeem("r1", 40, T0 + HOUR))
    assert ledger.reads == Counter({"accounts": 1})
    program = programme(ledger, clock=story_clock, pending_days=0)
    ledger.reads.clear()
    program.earn(earn("o2", "20.00", T0 + 2 * HOUR))
    # the earn's own reads (tier, clawback) come from the guard's listing; the only other
    # read an earn may make is the campaign usage (a metadata listing, never a history read)
    assert ledger.reads["accounts"] == 1
    assert ledger.reads["history"] == ledger.reads["volumes"] == ledger.reads["account"] == 0


def test_an_operation_dated_before_the_horizon_plans_from_the_history() -> None:
    ledger = CountingLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00", T0))
    program.redeem(redeem("r1", 100, T0 + 2 * HOUR))
    ledger.reads.clear()
    # at T0 + 1h the bucket held 100, but every instant after T0 + 2h holds 0: nothing can be spent then
    with pytest.raises(Exception, match="(?i)insufficient|points"):
        program.redeem(redeem("r0", 1, T0 + HOUR))
    assert ledger.reads["history"] >= 1
    assert program.balance("c1").spendable == 0


def test_a_customer_with_history_but_no_horizon_gets_one_at_its_latest_instant() -> None:
    """History posted without the guard (older ledgers): the first operation reads it and sets the horizon."""

    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    chart, catalogue, rules = program.chart, program.catalogue, program.rules
    assert rules is not None
    later = T0 + 5 * HOUR
    old = earn("legacy", "50.00", later)
    breakdown = quote(rules, order_of(old, rules), tier="member", campaign_usage={})
    ledger.post(earn_plan(old, chart, catalogue, breakdown=breakdown), schema_version=chart.schema_version())
    with pytest.raises(Exception):
        ledger.account(chart.horizon("c1"))
    program.earn(earn("o1", "100.00", T0))  # dated before the unguarded earn
    assert horizon(program, ledger, "c1") == -microseconds(later)
    assert program.balance("c1").spendable == 150


@pytest.mark.parametrize("seed", range(6))
def test_the_snapshot_answers_what_the_history_answers(seed: int) -> None:
    """Buckets, clawback balance and qualifying points after the horizon: from the listing = from the history."""

    import random

    rng = random.Random(seed)
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    at = T0
    for n in range(12):
        at += timedelta(minutes=rng.randint(1, 600))
        if rng.random() < 0.6:
            program.earn(earn(f"o{n}", f"{rng.randint(1, 300)}.00", at))
        else:
            try:
                program.redeem(redeem(f"r{n}", rng.randint(1, 150), at))
            except Exception:
                pass
    chart = program.chart
    instant = at + timedelta(minutes=rng.randint(1, 60))
    plain = Reading(ledger, chart, program.rules)
    watch = (*buckets_watched(redeem("x", 1, instant), chart), chart.qualifying_filter("c1"), chart.clawback("c1"))
    guard = read_guard(plain, ["c1"], watch)
    fast = plain.with_snapshot(guard.snapshot(watch))
    assert fast.current("c1", chart.buckets_filter("c1"), instant) is not None  # the fast path is taken
    key = lambda b: (b.expiry, b.points)  # noqa: E731
    assert sorted(fast.at(instant).buckets("c1"), key=key) == sorted(plain.at(instant).buckets("c1"), key=key)
    assert fast.at(instant).clawback_balance("c1") == plain.at(instant).clawback_balance("c1")
    assert fast.qualifying_points("c1", instant) == plain.qualifying_points("c1", instant)


def test_a_known_customer_without_points_is_refused_for_funds_not_as_unknown() -> None:
    ledger = FakeLedger()
    program = programme(ledger, clock=story_clock, pending_days=14)
    program.earn(earn("o1", "100.00", T0))  # pending: the customer has no bucket yet
    with pytest.raises(InsufficientPoints):
        program.redeem(redeem("r2", 1, T0 + 2 * HOUR))
    with pytest.raises(UnknownEntity):
        program.redeem(redeem("r3", 1, T0 + 2 * HOUR, customer="nobody"))
