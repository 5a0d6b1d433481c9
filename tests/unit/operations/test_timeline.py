"""The lowest (and highest) balance an account has from an instant on, from its balance then and its later changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_accounts.operations.timeline import Change, Timeline, highest_from, lowest_from, timelines
from loyalty_accounts.types import Posting, PostedTransaction

JAN = datetime(2026, 1, 10, tzinfo=timezone.utc)
FEB = datetime(2026, 2, 1, tzinfo=timezone.utc)
MAR = datetime(2026, 3, 1, tzinfo=timezone.utc)
APR = datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_lowest_and_highest_follow_the_running_balance():
    assert lowest_from(100, [-100, 30]) == 0
    assert lowest_from(5, []) == 5
    assert lowest_from(10, [5, -20, 40]) == -5
    assert highest_from(-50, [30, -10, 25]) == -5
    assert highest_from(-50, []) == -50


@given(st.integers(-1000, 1000), st.lists(st.integers(-1000, 1000), max_size=20))
def test_lowest_is_the_minimum_of_every_prefix_sum(balance, later):
    running = [balance + sum(later[:k]) for k in range(len(later) + 1)]
    assert lowest_from(balance, later) == min(running)
    assert highest_from(balance, later) == max(running)


def tx(tx_id: int, when: datetime, *moves: tuple[str, str, int], asset: str = "PTS") -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=when,
        postings=tuple(Posting(source=s, destination=d, amount=a, asset=asset) for s, d, a in moves),
    )


def test_the_worked_example_of_the_module():
    # earned 100 in January, all spent in March, 30 back in April: holds 30 now
    line = Timeline(
        since=JAN,
        current=30,
        changes=(Change(timestamp=MAR, tx_id=2, amount=-100), Change(timestamp=APR, tx_id=3, amount=30)),
    )
    assert line.balance_at(FEB) == 100
    assert line.lowest_from(FEB) == 0
    assert line.lowest_from(MAR + timedelta(days=14)) == 0
    assert line.lowest_from(APR + timedelta(days=1)) == 30
    assert line.highest_from(FEB) == 100
    # a change at the very instant is part of the balance then
    assert line.balance_at(MAR) == 0 and line.lowest_from(MAR) == 0
    with pytest.raises(ValueError, match="cannot tell"):
        line.lowest_from(JAN - timedelta(days=1))


def test_timelines_order_the_changes_by_timestamp_then_id_and_keep_only_the_listed_accounts():
    bucket, other, redeemed = "customers:c1:points:20270101", "customers:c1:points:noexpiry", "program:points:redeemed"
    later = [
        tx(7, APR, ("world", bucket, 30)),
        tx(5, MAR, (bucket, redeemed, 100)),
        tx(6, MAR, ("world", bucket, 10), (bucket, other, 4)),
        tx(4, JAN, (bucket, redeemed, 999)),  # at or before since: already in the balance then
        tx(8, APR, ("world", bucket, 5), asset="QPTS"),  # another asset
        tx(9, APR, (bucket, bucket, 3)),  # nets to nothing
    ]
    found = timelines({bucket: 36, other: 4}, later, "PTS", since=FEB)
    assert set(found) == {bucket, other}
    assert [(c.tx_id, c.amount) for c in found[bucket].changes] == [(5, -100), (6, 6), (7, 30)]
    assert found[bucket].balance_at(FEB) == 100
    assert found[bucket].lowest_from(FEB) == 0
    assert [(c.tx_id, c.amount) for c in found[other].changes] == [(6, 4)]
    assert found[other].lowest_from(FEB) == 0
