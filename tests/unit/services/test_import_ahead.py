"""Reading an import's next chunk while the current one is handled: overlap, what it may not read, errors."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme

from loyalty_accounts.operations import EarnCommand
from loyalty_accounts.services.import_ahead import Ahead, pipelined


def chunks(*customers: str) -> list[list[EarnCommand]]:
    return [[earn(c, f"{i}-{c}", "10.00") for c in group] for i, group in enumerate(customers)]


def test_the_next_chunk_is_read_while_the_current_one_is_handled_without_its_customers() -> None:
    calls: list[tuple[list[str], frozenset[str]]] = []
    read: dict[int, threading.Event] = {i: threading.Event() for i in range(3)}

    def read_ahead(chunk: list[EarnCommand], busy: frozenset[str]) -> Ahead:
        assert threading.current_thread() is not threading.main_thread()
        calls.append(([o.customer for o in chunk], busy))
        read[len(calls) - 1].set()
        return Ahead(taken={})

    handled = []
    for n, (chunk, ahead) in enumerate(pipelined(chunks("ab", "bc", "c"), read_ahead)):
        if n < 2:
            # the next chunk's reads run while this one is handled
            assert read[n + 1].wait(5)
        handled.append([o.customer for o in chunk])
        assert ahead.taken == {}
    assert handled == [["a", "b"], ["b", "c"], ["c"]]
    assert calls == [(["a", "b"], frozenset()), (["b", "c"], frozenset("ab")), (["c"], frozenset("bc"))]


def test_a_failed_read_ahead_is_raised_at_its_chunks_turn() -> None:
    def read_ahead(chunk: list[EarnCommand], busy: frozenset[str]) -> Ahead:
        if chunk[0].customer == "b":
            raise RuntimeError("ledger gone")
        return Ahead(taken={})

    seen = pipelined(chunks("a", "b", "c"), read_ahead)
    first, _ = next(seen)
    assert first[0].customer == "a"
    with pytest.raises(RuntimeError, match="ledger gone"):
        next(seen)


def test_stopping_early_reads_no_further() -> None:
    calls: list[str] = []

    def read_ahead(chunk: list[EarnCommand], busy: frozenset[str]) -> Ahead:
        calls.append(chunk[0].customer)
        return Ahead(taken={})

    for chunk, _ in pipelined(chunks("a", "b", "c", "d"), read_ahead):
        break
    assert calls == ["a", "b"]


def test_a_customer_changed_after_being_read_ahead_is_read_again_and_posted_once(tmp_path: Path) -> None:
    """Another process posts on c2 between its early read (background thread) and the chunk's post."""

    class Racing(FakeLedger):
        raced = False

        def accounts(self, address_filter, **kwargs):  # type: ignore[no-untyped-def]
            ahead = threading.current_thread().name.startswith("import-read-ahead")
            if ahead and "c2" in str(address_filter) and not Racing.raced:
                found = list(super().accounts(address_filter, **kwargs))
                Racing.raced = True
                programme(self, pending_days=0).earn(earn("c2", "other", "50.00", T0 + timedelta(minutes=1)))
                return iter(found)
            return super().accounts(address_filter, **kwargs)

    ledger = Racing()
    program = programme(ledger, pending_days=0)
    stamp = (T0 + timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    path = tmp_path / "orders.csv"
    path.write_text("customer,order_id,amount,currency,ordered_at\n" + "".join(
        f"{c},{o},10.00,USD,{stamp}\n" for c, o in [("c1", "o1"), ("c1", "o2"), ("c2", "o3")]
    ))
    summary = program.import_orders(path)
    assert Racing.raced
    assert (summary.posted, summary.refused) == (3, 0)
    single = programme(FakeLedger(), pending_days=0)
    single.earn(earn("c2", "other", "50.00", T0 + timedelta(minutes=1)))
    single.earn(earn("c2", "o3", "10.00", T0 + timedelta(minutes=2)))
    assert program.balance("c2") == single.balance("c2")
    assert sorted(tx.reference for tx in ledger.transactions(metadata={"operation": "earn"})) == [
        "earn:o1", "earn:o2", "earn:o3", "earn:other"
    ]
