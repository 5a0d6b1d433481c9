"""The last known state: a customer's next operation in the same process posts without reading.

A guess is only ever checked by the ledger (the sequence leg); these tests
make another process (a second programme over the same ledger) change the
customer between two operations and check that the stale guess is refused,
read again and answered exactly as a fresh read would, never spending what
is not there and never refusing what is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.programme import T0, programme as repo_programme, rules_without_review, story_clock
from test_horizon import CountingLedger, earn, redeem

from loyalty_accounts.errors import InsufficientPoints, PeriodClosed
from loyalty_accounts.operations import TransferCommand
from loyalty_accounts.operations.guard import GuardState
from loyalty_accounts.services.last_known import LastKnown
from loyalty_accounts.types import AccountState, Posting, Volume


def programme(ledger, **options):  # type: ignore[no-untyped-def]
    """The repository's programme without its review section: these tests count reads, and a redemption's
    review reads (one listing, see tests/unit/services/test_reviews.py) would be counted too."""

    return repo_programme(ledger, rules=rules_without_review(), **options)


HOUR = timedelta(hours=1)


def test_the_second_operation_of_a_customer_reads_nothing() -> None:
    ledger = CountingLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00", T0))
    ledger.reads.clear()
    program.earn(earn("o2", "40.00", T0 + HOUR))
    assert ledger.reads["accounts"] == 0 and ledger.reads["history"] == 0
    # the first read listed the customer's buckets too: a spend after an earn reads nothing either
    program.redeem(redeem("r1", 30, T0 + 2 * HOUR))
    program.redeem(redeem("r2", 20, T0 + 3 * HOUR))
    assert sum(ledger.reads.values()) == 0
    assert program.balance("c1").spendable == 100 + 40 - 30 - 20


def test_a_stale_guess_never_spends_what_another_process_spent() -> None:
    ledger = CountingLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    here.earn(earn("o1", "100.00", T0))
    here.redeem(redeem("r1", 10, T0 + HOUR))  # here now guesses 90 spendable
    there.redeem(redeem("r2", 80, T0 + 2 * HOUR))  # another process leaves 10
    with pytest.raises(InsufficientPoints):
        here.redeem(redeem("r3", 50, T0 + 3 * HOUR))
    assert here.balance("c1").spendable == 10
    here.redeem(redeem("r4", 10, T0 + 4 * HOUR))
    assert here.balance("c1").spendable == 0
    assert ledger.find_by_reference("redeem:r3") is None


def test_a_stale_guess_never_refuses_what_another_process_earned() -> None:
    ledger = CountingLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    here.earn(earn("o1", "10.00", T0))
    here.redeem(redeem("r1", 10, T0 + HOUR))  # here now guesses 0 spendable
    there.earn(earn("o2", "50.00", T0 + 2 * HOUR))
    result = here.redeem(redeem("r2", 50, T0 + 3 * HOUR))
    assert result.points == 50 and not result.replayed
    assert here.balance("c1").spendable == 0


def test_a_replay_after_a_guess_is_answered_with_the_original() -> None:
    ledger = CountingLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    here.earn(earn("o1", "100.00", T0))
    here.redeem(redeem("r1", 10, T0 + HOUR))
    there.redeem(redeem("r2", 20, T0 + 2 * HOUR))
    again = here.redeem(redeem("r2", 20, T0 + 2 * HOUR))  # the guess is stale and the reference taken
    assert again.replayed and again.points == 20
    assert here.balance("c1").spendable == 100 - 10 - 20


def test_a_period_closed_elsewhere_refuses_a_guessed_post() -> None:
    ledger = CountingLedger()
    here, there = programme(ledger, clock=story_clock, pending_days=0), programme(ledger, clock=story_clock, pending_days=0)
    here.earn(earn("o1", "100.00", T0))
    there.close_period(T0 + 2 * HOUR)
    with pytest.raises(PeriodClosed):
        here.redeem(redeem("r1", 10, T0 + HOUR))
    assert here.balance("c1").spendable == 100


def test_a_transfer_forgets_both_customers() -> None:
    ledger = CountingLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00", T0))
    program.earn(earn("o2", "100.00", T0, customer="c2"))
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t1", points=10, at=T0 + HOUR))
    assert len(program.executor.last_known) == 0
    ledger.reads.clear()
    program.redeem(redeem("r1", 5, T0 + 2 * HOUR, customer="c2"))
    assert ledger.reads["accounts"] == 1
    assert program.balance("c2").spendable == 100 + 10 - 5


def _state(watched: dict[str, AccountState]) -> GuardState:
    return GuardState(counts={"c1": 3}, closed_through=None, mark_opened=True, horizons={"c1": 7}, latest={"c1": 7}, watched=watched)


def test_remember_applies_the_postings_to_the_watched_accounts_only() -> None:
    known = LastKnown()
    bucket = AccountState(address="customers:c1:points:b1", volumes={"PTS": Volume(input=50, output=0)})
    postings = [
        Posting(source="customers:c1:points:b1", destination="rewards:r", amount=20, asset="PTS"),
        Posting(source="world", destination="customers:c1:points:b2", amount=5, asset="PTS"),
        Posting(source="world", destination="elsewhere:x", amount=9, asset="PTS"),
    ]
    at = datetime(2026, 1, 1, tzinfo=T0.tzinfo)
    known.remember(["c1"], ["customers:c1:points:"], _state({bucket.address: bucket}), at=at, postings=postings)
    guess = known.guess(["c1"], ["customers:c1:points:"])
    assert guess is not None
    assert guess.count("c1") == 4
    assert {a: s.balance("PTS") for a, s in guess.watched.items()} == {"customers:c1:points:b1": 30, "customers:c1:points:b2": 5}
    assert known.guess(["c1"], ["customers:c1:clawback"]) is None  # not read with it
    assert known.guess(["c1", "c2"], []) is None


def test_the_least_recently_used_customer_is_forgotten_first() -> None:
    known = LastKnown(capacity=2)
    at = datetime(2026, 1, 1, tzinfo=T0.tzinfo)
    for customer in ("c1", "c2"):
        known.remember([customer], [], _state({}), at=at, postings=[])
    assert known.guess(["c1"], []) is not None  # c1 used: c2 is now the oldest
    known.remember(["c3"], [], _state({}), at=at, postings=[])
    assert known.guess(["c2"], []) is None
    assert known.guess(["c1"], []) is not None and known.guess(["c3"], []) is not None
    known.forget(["c1"])
    assert known.guess(["c1"], []) is None
    known.forget()
    assert len(known) == 0


def test_what_was_known_for_other_filters_is_kept_across_operations() -> None:
    ledger = CountingLedger()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.earn(earn("o1", "100.00", T0))
    program.redeem(redeem("r1", 10, T0 + HOUR))
    awarded = program.engage("c1", "app_login", "e1", T0 + HOUR).points  # reads its counters once
    assert awarded > 0
    ledger.reads.clear()
    program.earn(earn("o2", "10.00", T0 + 2 * HOUR))  # the earn's accounts are still known
    program.redeem(redeem("r2", 10, T0 + 3 * HOUR))  # and so are the buckets, moved by the earn
    assert sum(ledger.reads.values()) == 0
    assert program.balance("c1").spendable == 100 - 10 + awarded + 10 - 10
