"""The in-memory ledger used by service tests keeps the books the way the server does."""

from __future__ import annotations

import pytest
from support.fake_ledger import FakeLedger, address_matches

from loyalty_accounts.errors import DuplicateOperation, InsufficientPoints
from loyalty_accounts.types import TransactionPlan

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


def plan(script: str, ref: str, amount: int, src: str, dst: str, h: str = "h") -> TransactionPlan:
    return TransactionPlan(
        operation="t", template="t", script=script, reference=ref, command_hash=h,
        vars={"amount": f"PTS {amount}", "from": src, "to": dst},
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
