"""FIFO: soonest expiry first, noexpiry last, due buckets never spent."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opsupport import buckets, d

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand
from loyalty_accounts.operations.fifo import (
    Allocation,
    BucketBalance,
    allocate,
    due,
    fifo_order,
    give_back,
    is_spendable,
    spendable,
)


def test_order_is_ascending_expiry_with_noexpiry_last():
    ordered = fifo_order(buckets(noexpiry=5, d20270331=40, d20260930=50, d20261231=1))
    assert [b.expiry for b in ordered] == [d("2026-09-30"), d("2026-12-31"), d("2027-03-31"), None]


def test_a_bucket_is_spendable_strictly_before_its_date():
    assert is_spendable(d("2026-06-02"), d("2026-06-01"))
    assert not is_spendable(d("2026-06-01"), d("2026-06-01"))
    assert is_spendable(None, date.max)


def test_spendable_skips_due_and_empty_buckets():
    got = spendable(buckets(d20260531=10, d20260601=3, d20260930=0, d20270331=40, noexpiry=25), d("2026-06-01"))
    assert [(b.expiry, b.points) for b in got] == [(d("2027-03-31"), 40), (None, 25)]


def test_due_is_the_complement_among_non_empty_buckets():
    got = due(buckets(d20260531=10, d20260601=3, d20260101=0, d20270331=40, noexpiry=25), d("2026-06-01"))
    assert [(b.expiry, b.points) for b in got] == [(d("2026-05-31"), 10), (d("2026-06-01"), 3)]


def test_allocation_takes_in_order_up_to_each_balance():
    got = allocate(fifo_order(buckets(d20260930=50, noexpiry=40)), 70)
    assert got == (Allocation(expiry=d("2026-09-30"), points=50), Allocation(expiry=None, points=20))


def test_allocation_stops_as_soon_as_covered():
    got = allocate(fifo_order(buckets(d20260930=50, d20270331=40, noexpiry=40)), 50)
    assert got == (Allocation(expiry=d("2026-09-30"), points=50),)


def test_allocation_short_of_points_raises_insufficient_points():
    with pytest.raises(InsufficientPoints, match="customer c42 has 90 spendable points; 91 needed"):
        allocate(fifo_order(buckets(d20260930=50, noexpiry=40)), 91, customer="c42")
    with pytest.raises(InsufficientPoints):
        allocate((), 1)


def test_the_same_bucket_twice_is_refused():
    with pytest.raises(InvalidCommand, match="listed twice"):
        fifo_order(buckets(d20260930=50) + buckets(d20260930=5))


def test_give_back_returns_to_the_latest_expiry_first():
    taken = (Allocation(expiry=d("2026-09-30"), points=50), Allocation(expiry=d("2027-03-31"), points=20))
    assert give_back(taken, 30) == (
        Allocation(expiry=d("2027-03-31"), points=20),
        Allocation(expiry=d("2026-09-30"), points=10),
    )
    assert give_back(taken, 0) == ()
    with pytest.raises(InvalidCommand):
        give_back(taken, 71)


expiries = st.one_of(st.none(), st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)))
bucket_sets = st.dictionaries(expiries, st.integers(min_value=0, max_value=10_000), max_size=12).map(
    lambda m: [BucketBalance(expiry=e, points=p) for e, p in m.items()]
)


@given(bs=bucket_sets, amount=st.integers(min_value=1, max_value=60_000))
def test_allocation_never_overdraws_and_sums_to_the_amount(bs, amount):
    ordered = fifo_order(bs)
    total = sum(b.points for b in ordered)
    if amount > total:
        with pytest.raises(InsufficientPoints):
            allocate(ordered, amount)
        return
    got = allocate(ordered, amount)
    balance = {b.expiry: b.points for b in ordered}
    assert sum(a.points for a in got) == amount
    assert all(0 < a.points <= balance[a.expiry] for a in got)
    # FIFO: every bucket before the last one used is emptied, in order.
    used = [a.expiry for a in got]
    order = [b.expiry for b in ordered if b.points > 0]
    assert used == order[: len(used)]
    assert all(a.points == balance[a.expiry] for a in got[:-1])


@given(bs=bucket_sets, on=st.dates(min_value=date(2026, 1, 1), max_value=date(2031, 1, 1)))
def test_spendable_and_due_partition_the_non_empty_buckets(bs, on):
    s, u = spendable(bs, on), due(bs, on)
    assert {b.expiry for b in s} | {b.expiry for b in u} == {b.expiry for b in bs if b.points > 0}
    assert not {b.expiry for b in s} & {b.expiry for b in u}
    assert all(b.expiry is None or b.expiry > on for b in s)
    assert all(b.expiry is not None and b.expiry <= on for b in u)


@given(
    legs=st.dictionaries(expiries, st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
    data=st.data(),
)
def test_give_back_never_exceeds_a_leg_and_sums_to_the_amount(legs, data):
    taken = tuple(Allocation(expiry=e, points=p) for e, p in legs.items())
    amount = data.draw(st.integers(min_value=0, max_value=sum(legs.values())))
    back = give_back(taken, amount)
    assert sum(a.points for a in back) == amount
    assert all(a.points <= legs[a.expiry] for a in back)
    assert [a.expiry for a in back] == [b.expiry for b in reversed(fifo_order(
        BucketBalance(expiry=a.expiry, points=0) for a in back
    ))]


