"""Threads of one process take turns per customer (services.turns.Turns)."""

from __future__ import annotations

import threading
import time
import zlib

from loyalty_accounts.services.turns import Turns


def test_one_customer_at_a_time_whatever_the_threads() -> None:
    turns = Turns()
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with turns.of(["c1"]):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


def test_customers_on_other_stripes_go_at_once_and_pairs_do_not_deadlock() -> None:
    turns = Turns(stripes=16)
    a, b = "c1", next(c for c in (f"c{n}" for n in range(2, 100)) if zlib.crc32(c.encode()) % 16 != zlib.crc32(b"c1") % 16)
    both_inside = threading.Barrier(2, timeout=5)

    def one(customer: str) -> None:
        with turns.of([customer]):
            both_inside.wait()  # raises BrokenBarrierError if the other cannot get in meanwhile

    threads = [threading.Thread(target=one, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not both_inside.broken

    # transfers a→b and b→a at the same time: stripes are taken in one order, so both finish
    done: list[str] = []

    def transfer(pair: list[str]) -> None:
        for _ in range(200):
            with turns.of(pair):
                pass
        done.append(pair[0])

    threads = [threading.Thread(target=transfer, args=(p,)) for p in ([a, b], [b, a])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(done) == sorted([a, b])


def test_a_thread_holding_a_turn_may_take_it_again() -> None:
    """An operation run by the same thread while it holds the customer's turn (a ledger hook) does not wait for itself."""

    turns = Turns()
    finished = threading.Event()

    def nested() -> None:
        with turns.of(["c1"]):
            with turns.of(["c1", "c2"]):
                finished.set()

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert finished.is_set()
