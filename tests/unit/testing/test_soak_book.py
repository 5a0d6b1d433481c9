"""The soak model's book: balances as of an instant and their lowest / highest point ahead."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from loyalty_accounts.testing.book import Book, Entry, Leg, lowest_after, net_of

T = datetime(2026, 6, 1, tzinfo=timezone.utc)


def entry(id: int, at: datetime, *legs: tuple[str, str, int]) -> Entry:
    return Entry(id, at, tuple(Leg(s, d, "PTS", a) for s, d, a in legs))


def test_net_of_sums_each_account_and_leaves_zeros_out() -> None:
    legs = [Leg("a", "b", "PTS", 5), Leg("b", "a", "PTS", 5), Leg("a", "c", "PTS", 2)]
    assert net_of(legs) == {("a", "PTS"): -2, ("c", "PTS"): 2}


def test_lowest_after_counts_one_instant_as_a_whole() -> None:
    # -10 and +10 at the same instant: never negative at any instant.
    assert lowest_after([(T, -10), (T, 10)]) == 0
    assert lowest_after([(T, 10), (T + timedelta(seconds=1), -15), (T + timedelta(seconds=2), 20)]) == -5


def test_lowest_after_a_start_counts_the_balance_at_the_start() -> None:
    moves = [(T, 10), (T + timedelta(days=2), -8)]
    assert lowest_after(moves, T + timedelta(days=1)) == 2
    assert lowest_after(moves, T + timedelta(days=3)) == 2
    assert lowest_after(moves, T - timedelta(days=1)) == 0  # before anything: 0
    # A move exactly at the start counts at the start: the balance before it does not.
    assert lowest_after([(T - timedelta(days=1), 5), (T, 10)], T) == 15


def test_a_back_dated_debit_lowers_what_later_instants_can_give() -> None:
    book = Book()
    book.apply(entry(1, T, ("world", "bucket", 100)))
    book.apply(entry(2, T + timedelta(days=10), ("bucket", "out", 70)))
    assert book.balance("bucket", "PTS") == 30
    assert book.balance("bucket", "PTS", T + timedelta(days=5)) == 100
    # At day 5 the bucket holds 100, but only 30 can leave then without it going negative on day 10.
    assert book.lowest_from("bucket", "PTS", T + timedelta(days=5)) == 30
    assert book.highest_from("bucket", "PTS", T + timedelta(days=5)) == 100
    assert book.lowest_from("bucket", "PTS", T - timedelta(days=1)) == 0
    assert book.knows("buck") and not book.knows("customers:")
    assert book.balances() == {("world", "PTS"): -100, ("bucket", "PTS"): 30, ("out", "PTS"): 70}
