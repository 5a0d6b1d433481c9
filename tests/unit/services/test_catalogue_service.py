"""The catalogue on the in-memory ledger: stock read from the ledger, restocks exactly once, and a redemption
re-planned after losing the last unit to another member is refused as out of stock (the executor's re-plan
reads the stock again)."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme, rules_reviewing_above, story_clock, trial_balance_holds

from loyalty_accounts.errors import DuplicateOperation, InvalidCommand, OutOfStock
from loyalty_accounts.operations import RedeemCommand
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.types import PostedTransaction, TransactionPlan


def restock(units: int, key: str) -> RestockCommand:
    return RestockCommand(reward="MUG-BLUE", units=units, restock_id=key, at=T0)


def test_restock_is_exactly_once_and_the_catalogue_reads_the_ledger(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    first = program.restock(restock(2, "rs-1"))
    again = program.restock(restock(2, "rs-1"))
    assert (first.replayed, again.replayed) == (False, True)
    assert [tx.reference for tx in ledger.transactions(metadata={"operation": "restock"})] == ["restock:rs-1"]
    program.earn(earn("c1", "o1", "1000", at=T0))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", reward="MUG-BLUE", at=T0))
    mug = program.reward("MUG-BLUE")
    assert (mug.in_stock, mug.received, mug.delivered, mug.points) == (1, 2, 1, 1000)
    listed = {line.sku: line for line in program.rewards()}
    assert listed["MUG-BLUE"] == mug and listed["TOTE-BAG"].in_stock == 0 and listed["CASH-25"].in_stock is None
    assert program.balance("c1").spendable == 0
    trial_balance_holds(ledger)


def test_a_reward_redeemed_with_or_without_its_price_given_is_one_redemption(ledger: FakeLedger) -> None:
    # --reward MUG-BLUE -p 1000 and --reward MUG-BLUE (priced 1000 by the catalogue) are the same command
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.restock(restock(3, "rs-1"))
    program.earn(earn("c1", "o1", "5000", at=T0))
    given = program.redeem(RedeemCommand(customer="c1", redemption_id="r1", reward="MUG-BLUE", points=1000, at=T0))
    left = program.redeem(RedeemCommand(customer="c1", redemption_id="r1", reward="MUG-BLUE", at=T0))
    assert left.replayed and left.transactions[0].id == given.transactions[0].id
    priced = program.redeem(RedeemCommand(customer="c1", redemption_id="r2", reward="CASH-25", at=T0))
    stated = program.redeem(RedeemCommand(customer="c1", redemption_id="r2", reward="CASH-25", points=2500, at=T0))
    assert stated.replayed and stated.transactions[0].id == priced.transactions[0].id
    # another price, another reward or another customer under the same key is still another command
    for other in (
        RedeemCommand(customer="c1", redemption_id="r2", reward="CASH-25", points=2400, at=T0),
        RedeemCommand(customer="c1", redemption_id="r1", reward="CASH-25", at=T0),
        RedeemCommand(customer="c2", redemption_id="r1", reward="MUG-BLUE", points=1000, at=T0),
    ):
        with pytest.raises(DuplicateOperation, match="already used for a different redeem"):
            program.redeem(other)
    assert program.reward("MUG-BLUE").delivered == 1 and program.balance("c1").spendable == 5000 - 1000 - 2500


def test_restock_refuses_unknown_and_non_physical_rewards_before_posting(ledger: FakeLedger) -> None:
    program = programme(ledger, clock=story_clock, pending_days=0)
    with pytest.raises(InvalidCommand, match="'NOPE' is not in the catalogue"):
        program.restock(RestockCommand(reward="NOPE", units=1, restock_id="rs-1", at=T0))
    with pytest.raises(InvalidCommand, match="CASH-25 is not physical"):
        program.restock(RestockCommand(reward="CASH-25", units=1, restock_id="rs-2", at=T0))
    assert ledger.posts == 0


class LastUnitTakenFirst(FakeLedger):
    """Just before c2's first redemption post, ``rival`` runs (another member's redemption takes the last unit)."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Callable[[], object] | None = None
        self.attempts = 0

    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        if plan.operation == "redeem" and plan.metadata.get("customer") == "c2":
            self.attempts += 1
            if self.rival is not None:
                rival, self.rival = self.rival, None
                rival()
        return super().post(plan, schema_version=schema_version)


def test_a_plan_that_lost_the_last_unit_is_re_planned_and_refused_as_out_of_stock() -> None:
    ledger = LastUnitTakenFirst()
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.restock(restock(1, "rs-1"))
    for customer in ("c1", "c2"):
        program.earn(earn(customer, f"o-{customer}", "1000", at=T0))
    other = programme(ledger, clock=story_clock, pending_days=0)  # another process: its own executor
    ledger.rival = lambda: other.redeem(RedeemCommand(customer="c1", redemption_id="r-c1", reward="MUG-BLUE", at=T0))
    with pytest.raises(OutOfStock):
        program.redeem(RedeemCommand(customer="c2", redemption_id="r-c2", reward="MUG-BLUE", at=T0))
    assert ledger.attempts == 1  # refused by the ledger once (the unit was gone), then the fresh read said out of stock
    assert ledger.account("catalogue:MUG-BLUE:stock").balance("UNITS") == 0
    assert [tx.metadata["customer"] for tx in ledger.transactions(metadata={"operation": "redeem"})] == ["c1"]
    assert program.balance("c2").spendable == 1000
    trial_balance_holds(ledger)


def test_a_review_hold_reserves_the_unit_a_rejection_returns_it_and_an_approval_delivers_it(ledger: FakeLedger) -> None:
    # the programme's now is within the review's deadline: an approval is made now, whatever it is dated
    program = programme(ledger, pending_days=0, rules=rules_reviewing_above(500), clock=lambda: T0 + timedelta(hours=4))
    program.restock(restock(2, "rs-1"))
    program.earn(earn("c1", "o1", "3000", at=T0))

    def units() -> tuple[int | None, ...]:
        mug = program.reward("MUG-BLUE")
        return (mug.in_stock, mug.reserved, mug.delivered, mug.received)

    held = program.redeem(RedeemCommand(customer="c1", redemption_id="r1", reward="MUG-BLUE", at=T0))
    assert held.review == "pending" and held.transactions[0].metadata["template"] == "hold_reward"
    assert units() == (1, 1, 0, 2)
    assert ledger.account("customers:c1:holds:rv-r1").balance("UNITS") == 1
    program.review("r1", "reject", operator="ops-7", reason="suspected_fraud", at=T0 + timedelta(hours=1))
    assert units() == (2, 0, 0, 2) and program.balance("c1").spendable == 3000
    program.redeem(RedeemCommand(customer="c1", redemption_id="r2", reward="MUG-BLUE", at=T0 + timedelta(hours=2)))
    program.review("r2", "approve", operator="ops-7", reason="verified_with_member", at=T0 + timedelta(hours=3))
    assert units() == (1, 0, 1, 2) and program.balance("c1").spendable == 2000
    listed = {line.sku: line.reserved for line in program.rewards()}
    assert (listed["MUG-BLUE"], listed["CASH-25"]) == (0, None)
    trial_balance_holds(ledger)
