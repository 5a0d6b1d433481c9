"""The in-memory ledger used by service tests keeps the books the way the server does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.fake_ledger import REVERTS_KEY, FakeLedger, address_matches, chart_admits

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    LedgerRejected,
    UnknownEntity,
)
from loyalty_accounts.types import TransactionPlan

DAY0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
CHART = {"world": {}, "a": {"$x": {".pattern": "^[a-z]+$", "sub": {}, ".self": {}}, "fixed": {}}}

MOVE = """vars {
  monetary $amount
  account $from
  account $to
}
send $amount (
  source = $from allowing unbounded overdraft
  destination = $to
)
"""
SPEND = """vars {
  monetary $amount
  account $from
  account $to
}
send $amount (
  source = $from
  destination = $to
)
"""


def plan(script: str, ref: str, amount: int, src: str, dst: str, h: str = "h", at: datetime | None = None) -> TransactionPlan:
    return TransactionPlan(
        operation="t", template="t", script=script, reference=ref, command_hash=h,
        vars={"amount": f"PTS {amount}", "from": src, "to": dst}, timestamp=at,
    )


@pytest.mark.parametrize(
    ("address", "flt", "expected"),
    [
        ("customers:1:points:20270101", "customers::points:", True),
        ("customers:1:pending:20270101:20280101", "customers::points:", False),
        ("customers:1:points:20270101", "customers:...", True),
        ("program:points:redeemed", "customers:...", False),
        ("customers:1:credit", "customers:1:", True),
        ("anything", "", True),
        ("customers", "customers:...", True),
        ("customers:1:points:x", "customers::...", True),
        ("customers:1", "customers:1:points:...", False),
        ("customers:1:credit", "customers:1:credit", True),
        ("customers:1:credit:x", "customers:1:credit", False),
    ],
)
def test_address_filters(address: str, flt: str, expected: bool) -> None:
    assert address_matches(address, flt) is expected


def test_balances_replays_and_duplicates() -> None:
    ledger = FakeLedger()
    first = ledger.post(plan(MOVE, "r1", 10, "program:points:issued:0", "customers:a:points:noexpiry"))
    again = ledger.post(plan(MOVE, "r1", 10, "program:points:issued:0", "customers:a:points:noexpiry"))
    assert again.replayed and again.id == first.id and ledger.posts == 1
    with pytest.raises(DuplicateOperation):
        ledger.post(plan(MOVE, "r1", 11, "program:points:issued:0", "customers:a:points:noexpiry", h="other"))
    assert ledger.aggregate_balances("customers:...") == {"PTS": 10}
    assert ledger.aggregate_balances("") == {"PTS": 0}


def test_overspend_is_refused_and_posts_nothing() -> None:
    ledger = FakeLedger()
    ledger.post(plan(MOVE, "r1", 10, "program:points:issued:0", "customers:a:points:noexpiry"))
    with pytest.raises(InsufficientPoints):
        ledger.post(plan(SPEND, "r2", 11, "customers:a:points:noexpiry", "program:points:redeemed"))
    assert len(ledger.txs) == 1


def test_revert_refuses_to_drive_an_account_negative_unless_forced() -> None:
    ledger = FakeLedger()
    earn = ledger.post(plan(MOVE, "r1", 10, "program:points:issued:0", "customers:a:points:noexpiry"))
    ledger.post(plan(SPEND, "r2", 8, "customers:a:points:noexpiry", "program:points:redeemed"))
    with pytest.raises(InsufficientPoints):
        ledger.revert(earn.id)
    ledger.revert(earn.id, force=True)
    assert ledger.account("customers:a:points:noexpiry").balance("PTS") == -8
    with pytest.raises(DuplicateOperation):
        ledger.revert(earn.id, force=True)


@pytest.mark.parametrize(
    ("address", "admitted"),
    [("world", True), ("a:xyz", True), ("a:xyz:sub", True), ("a:fixed", True), ("a:XYZ", False),
     ("a", False), ("a:xyz:other", False), ("b", False), ("a:fixed:sub", False)],
)
def test_the_chart_admits_what_the_server_admits(address: str, admitted: bool) -> None:
    # "a:fixed" is a fixed segment: it wins over $x and has no "sub" below it.
    assert chart_admits(CHART, address) is admitted


def test_ids_count_from_one_and_a_posting_outside_the_chart_uses_one_up() -> None:
    ledger = FakeLedger()
    ledger.insert_schema("v1", {"chart": CHART})
    assert ledger.post(plan(MOVE, "r1", 1, "world", "a:xyz"), schema_version="v1").id == 1
    with pytest.raises(LedgerRejected) as refused:
        ledger.post(plan(MOVE, "r2", 1, "world", "b"), schema_version="v1")
    assert refused.value.code == "VALIDATION"
    with pytest.raises(LedgerRejected) as unnamed:
        ledger.post(plan(MOVE, "r3", 1, "world", "a:xyz"))
    assert unnamed.value.code == "SCHEMA_NOT_SPECIFIED"
    with pytest.raises(UnknownEntity):
        ledger.post(plan(MOVE, "r3", 1, "world", "a:xyz"), schema_version="v2")
    assert ledger.post(plan(MOVE, "r3", 1, "world", "a:xyz"), schema_version="v1").id == 3
    assert [log["type"] for log in ledger.logs()] == ["INSERTED_SCHEMA", "NEW_TRANSACTION", "NEW_TRANSACTION"]


def test_a_replay_answers_the_transaction_as_it_is_now_and_uses_up_an_id() -> None:
    # The client's second call has an idempotency key of its own: the server runs the
    # script, fails to insert on the taken reference (an id is used up), and the client
    # reads the original by reference, with what was added to it since.
    ledger = FakeLedger()
    first = ledger.post(plan(MOVE, "r1", 10, "world", "a:x", at=DAY0))
    ledger.add_transaction_metadata(first.id, {"note": "later"})
    again = ledger.post(plan(MOVE, "r1", 10, "world", "a:x", at=DAY0))
    assert again.replayed and again.id == first.id and again.metadata["note"] == "later"
    assert ledger.post(plan(MOVE, "r2", 1, "world", "a:x", at=DAY0)).id == 3


def test_reads_as_of_an_instant_are_effective_and_the_revert_is_dated_now() -> None:
    now = [DAY0 + timedelta(days=100)]
    ledger = FakeLedger(clock=lambda: now[0])
    earn = ledger.post(plan(MOVE, "r1", 10, "world", "a:x", at=DAY0 + timedelta(days=10)))
    ledger.post(plan(MOVE, "r2", 4, "world", "a:x", at=DAY0))  # posted second, dated first
    ledger.add_transaction_metadata(earn.id, {"note": "day 100"})
    now[0] += timedelta(days=1)
    reversal = ledger.revert(earn.id, metadata={"why": "test"})
    assert reversal.timestamp == now[0] and reversal.metadata == {"why": "test", REVERTS_KEY: "1"}

    with pytest.raises(UnknownEntity):
        ledger.account("a:x", pit=DAY0 - timedelta(seconds=1))  # before its first (effective) use
    assert ledger.account("a:x", pit=DAY0).balance("PTS") == 4
    assert ledger.account("a:x", pit=DAY0 + timedelta(days=10)).balance("PTS") == 14
    assert ledger.account("a:x").balance("PTS") == 4
    with pytest.raises(UnknownEntity):
        ledger.account("a:never")
    as_of = {tx.id: tx for tx in ledger.transactions(pit=DAY0 + timedelta(days=50))}
    assert set(as_of) == {1, 2} and not as_of[1].reverted and "note" not in as_of[1].metadata
    assert ledger.get_transaction(1).reverted and ledger.get_transaction(1).metadata["note"] == "day 100"
    # by insertion, nothing was written before day 100; both postings were by day 100
    assert ledger.aggregate_balances("a:...", pit=DAY0 + timedelta(days=50), use_insertion_date=True) == {}
    assert ledger.aggregate_balances("a:...", pit=DAY0 + timedelta(days=100), use_insertion_date=True) == {"PTS": 14}
    assert ledger.aggregate_balances("a:...", pit=DAY0 + timedelta(days=50)) == {"PTS": 14}
    # every transaction says when it was recorded, whatever it is dated at
    assert [(tx.timestamp, tx.inserted_at) for tx in ledger.transactions()] == [
        (DAY0 + timedelta(days=10), DAY0 + timedelta(days=100)),
        (DAY0, DAY0 + timedelta(days=100)),
        (now[0], now[0]),
    ]


def test_volume_windows_include_both_ends() -> None:
    ledger = FakeLedger()
    ledger.post(plan(MOVE, "r1", 1, "world", "a:x", at=DAY0))
    ledger.post(plan(MOVE, "r2", 2, "world", "a:x", at=DAY0 + timedelta(days=1)))
    ledger.post(plan(MOVE, "r3", 4, "world", "a:x", at=DAY0 + timedelta(days=2)))
    rows = ledger.volumes("a:x", start=DAY0, end=DAY0 + timedelta(days=1))
    assert [(r.input, r.output) for r in rows] == [(1 + 2, 0)]
    rows = ledger.volumes("a:x", start=DAY0 + timedelta(microseconds=1))
    assert [(r.input, r.output) for r in rows] == [(2 + 4, 0)]


def test_an_atomic_bulk_refused_posts_nothing_but_uses_its_ids() -> None:
    ledger = FakeLedger()
    batch = [plan(MOVE, "r1", 5, "world", "a:x"), plan(SPEND, "r2", 9, "a:x", "b"), plan(MOVE, "r3", 1, "world", "a:x")]
    with pytest.raises(InsufficientPoints) as refused:
        ledger.post_many(batch, atomic=True)
    assert refused.value.details["failures"][0]["reference"] == "r2"
    assert list(ledger.transactions()) == [] and ledger.find_by_reference("r1") is None
    # r1 and r3 were numbered 1 and 2 before the batch was rolled back
    assert ledger.post(plan(MOVE, "r4", 1, "world", "a:x")).id == 3
    with pytest.raises(InsufficientPoints):
        ledger.post_many(batch)  # not atomic: r1 and r3 go through, r2 is refused
    assert [tx.reference for tx in ledger.transactions()] == ["r4", "r1", "r3"]
