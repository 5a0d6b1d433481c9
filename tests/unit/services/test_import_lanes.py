"""Chunks for two lanes (no customer shared with the chunk before, each customer's orders in order) and
the lanes themselves (two at a time, a chunk two places back finished first, errors raised)."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.services.import_chunks import chunks_for_lanes
from loyalty_accounts.services.import_lanes import run_in_lanes


@given(customers=st.lists(st.integers(min_value=0, max_value=7), max_size=60), size=st.integers(min_value=1, max_value=6))
def test_lane_chunks_keep_every_order_once_each_customer_in_order_and_neighbours_apart(customers: list[int], size: int) -> None:
    orders = [earn(f"c{c}", f"o{i}", "1.00") for i, c in enumerate(customers)]
    chunks = list(chunks_for_lanes(orders, size))
    flat = [order for chunk, _ in chunks for order in chunk]
    assert sorted(o.order_id for o in flat) == sorted(o.order_id for o in orders)
    for customer in {o.customer for o in orders}:
        assert [o.order_id for o in flat if o.customer == customer] == [o.order_id for o in orders if o.customer == customer]
    before: set[str] = set()
    for chunk, independent in chunks:
        mine = [o.customer for o in chunk]
        assert 0 < len(chunk) <= size and len(mine) == len(set(mine))
        if independent:
            assert not set(mine) & before
        before = set(mine)


def test_lane_chunks_fill_up_past_a_repeated_customer() -> None:
    orders = [earn(c, f"o{i}", "1.00") for i, c in enumerate("aabcdef")]
    chunks = [([o.order_id for o in chunk], independent) for chunk, independent in chunks_for_lanes(orders, 4)]
    # the first chunk fills up past o1 (a again); o1 then waits until a chunk without a's neighbour
    assert chunks == [(["o0", "o2", "o3", "o4"], True), (["o5", "o6"], True), (["o1"], True)]


def test_two_lanes_run_side_by_side_and_a_chunk_waits_for_the_one_two_places_back() -> None:
    events: list[str] = []
    lock = threading.Lock()
    running = 0
    peak = 0

    def job(chunk: list[EarnCommand]) -> str:
        nonlocal running, peak
        name = chunk[0].order_id
        with lock:
            running += 1
            peak = max(peak, running)
            events.append(f"start {name}")
        time.sleep(random.uniform(0.01, 0.03))
        with lock:
            running -= 1
            events.append(f"end {name}")
        return name

    chunks = [([earn("x", f"k{i}", "1.00")], i != 4) for i in range(7)]  # k4 shares customers with k3
    finished: list[str] = []
    run_in_lanes(chunks, job, finished.append)
    assert finished == [f"k{i}" for i in range(7)] and peak == 2
    for i in range(2, 7):
        assert events.index(f"end k{i - 2}") < events.index(f"start k{i}")
    assert events.index("end k3") < events.index("start k4")


def test_a_failed_lane_stops_the_import_after_the_running_chunk() -> None:
    started: list[int] = []

    def job(chunk: list[EarnCommand]) -> int:
        n = int(chunk[0].order_id[1:])
        started.append(n)
        if n == 1:
            raise RuntimeError("ledger gone")
        time.sleep(0.02)
        return n

    finished: list[int] = []
    with pytest.raises(RuntimeError, match="ledger gone"):
        run_in_lanes((([earn("x", f"k{i}", "1.00")], True) for i in range(10)), job, finished.append)
    assert finished == [0] and max(started) <= 2


@pytest.mark.parametrize("lanes", [1, 2])
def test_two_lanes_earn_what_one_lane_and_single_earns_earn(tmp_path: Path, lanes: int) -> None:
    from datetime import timedelta

    rng = random.Random(7)
    rows = [
        f"c{rng.randrange(5)},o{i},{rng.randrange(5, 900)}.00,USD,{(T0 + timedelta(minutes=i)).isoformat().replace('+00:00', 'Z')},,app"
        for i in range(40)
    ]
    path = tmp_path / "orders.csv"
    path.write_text("customer,order_id,amount,currency,ordered_at,category,channel\n" + "\n".join(rows) + "\n")
    imported, single = programme(FakeLedger(), pending_days=0), programme(FakeLedger(), pending_days=0)
    summary = imported.import_orders(path, chunk_size=4, lanes=lanes)
    assert (summary.posted, summary.refused) == (40, 0)
    from loyalty_accounts.services.order_file import read_orders

    for row in read_orders(path, single.chart.timezone):
        assert row.command is not None
        single.earn(row.command)
    for i in range(40):
        ours = imported.ledger.find_by_reference(f"earn:o{i}")
        theirs = single.ledger.find_by_reference(f"earn:o{i}")
        assert ours is not None and theirs is not None and ours.metadata == theirs.metadata, i
    assert imported.import_orders(path, lanes=lanes).replayed == 40


def test_lanes_other_than_one_or_two_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer,order_id,amount,currency,ordered_at\n")
    with pytest.raises(InvalidCommand, match="lanes must be 1 or 2, got 3"):
        programme(FakeLedger()).import_orders(path, lanes=3)
