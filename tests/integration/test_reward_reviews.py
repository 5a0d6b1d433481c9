"""A physical reward's redemption held for review, on the real server: the hold reserves the unit of stock.

The review threshold is lowered to 500 points (the mug costs 1,000), so every mug redemption through the
``reviewing`` programme is held; a programme on the repository's rules (threshold 10,000) redeems the mug
at once, so both kinds of redemption can compete for the same unit on the same ledger. The hold moves the
points and one unit of the mug's stock into the review's hold account in one transaction; an approval
redeems the points and delivers the unit; a rejection leaves every balance of every asset as it was. The
stock account's overdraft check is what keeps a reserved unit from being redeemed twice, under any
concurrency.

Balances compared are every account's in every asset but the control asset (CTL), which each operation
moves by design (the customer's sequence counter, operations/guard.py).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from support.programme import T0, every_balance, programme, redeem_all_at_once, rules_reviewing_above, usd
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.errors import OutOfStock
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import EarnCommand, RedeemCommand
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.services.results import OperationResult

runner = CliRunner()
HOUR = timedelta(hours=1)
MUG = "MUG-BLUE"
MUG_PRICE = 1000
"""rules.yaml: a product worth 12.50 at 80 points per 1.00, physical."""
HOLD = "customers:c1:holds:rv-r-1"
RACERS = 8
LATER = T0 + 10 * HOUR
"""After every operation of these tests: balances are read there (the buckets expire before today)."""


def reviewing(client: LedgerClient) -> LoyaltyProgram:
    """The programme with a review threshold of 500 points: every mug redemption is held for review; its now
    is LATER, within the reviews' deadlines (an approval is made now, whatever it is dated)."""

    return programme(client, pending_days=0, rules=rules_reviewing_above(500), clock=lambda: LATER)


def stocked(client: LedgerClient, units: int, *customers: str) -> LoyaltyProgram:
    """``units`` mugs in stock and each customer with 1,500 spendable points (orders 60 days before T0)."""

    program = reviewing(client)
    for customer in customers:
        program.earn(EarnCommand(customer=customer, order_id=f"o-{customer}", amount=usd("1500.00"), ordered_at=T0 - 60 * 24 * HOUR))
    program.restock(RestockCommand(reward=MUG, units=units, restock_id="rs-1", at=T0 - HOUR))
    return program


def mug(customer: str, key: str, at=T0) -> RedeemCommand:  # type: ignore[no-untyped-def]
    return RedeemCommand(customer=customer, redemption_id=key, reward=MUG, at=at)


def books(client: LedgerClient) -> dict[tuple[str, str], int]:
    """Every non-zero balance of the customers', programme's and catalogue's accounts, per asset, CTL aside."""

    return every_balance(client, "customers:...", "program:...", "catalogue:...")


def units(client: LedgerClient, address: str) -> int:
    """The account's units (0 for an account the ledger has never seen)."""

    return books(client).get((address, "UNITS"), 0)


def test_a_held_mug_reserves_its_unit_and_the_approval_redeems_and_delivers_it(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    program = stocked(client, 3, "c1")
    before = books(client)
    held = program.redeem(mug("c1", "r-1"))
    assert held.review == "pending" and held.posted
    tx = client.find_by_reference("redeem:r-1")
    assert tx is not None and tx.metadata["template"] == "hold_reward"
    assert (tx.metadata["reward"], tx.metadata["reward_type"], tx.metadata["review_reasons"]) == (MUG, "product", "points_above_threshold")
    during = books(client)
    assert (during[(HOLD, "PTS")], during[(HOLD, "UNITS")]) == (MUG_PRICE, 1)
    assert units(client, "catalogue:MUG-BLUE:stock") == 2 and ("catalogue:MUG-BLUE:delivered", "UNITS") not in during
    assert ("program:points:redeemed", "PTS") not in during
    # the catalogue counts the reserved unit; the review list names the reward
    shown = json.loads(runner.invoke(cli, ["-q", "--ledger-url", ledger_url, "--ledger", ledger_name, "catalogue", "show", MUG, "-f", "json"]).stdout)
    assert (shown["in_stock"], shown["reserved"], shown["delivered"], shown["received"]) == (2, 1, 0, 3)
    assert [(r.redemption_id, r.reward, r.status) for r in program.reviews(as_of=T0 + HOUR)] == [("r-1", MUG, "pending")]
    # the books with a unit in a hold account reconcile (trial balance per asset, holds within their deadline...)
    checks = FinanceReports(client, program.chart, rules=program.rules).reconcile(T0 + HOUR).checks
    assert [c.name for c in checks if c.status == "fail"] == []

    approved = program.review("r-1", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    decision = approved.transactions[0]
    assert decision.metadata["template"] == "capture_reward"
    assert (decision.metadata["reward"], decision.metadata["reward_type"], decision.metadata["decision"]) == (MUG, "product", "approved")
    after = books(client)
    assert after[("program:points:redeemed", "PTS")] == MUG_PRICE
    assert (after[("catalogue:MUG-BLUE:delivered", "UNITS")], after[("catalogue:MUG-BLUE:stock", "UNITS")]) == (1, 2)
    assert (HOLD, "PTS") not in after and (HOLD, "UNITS") not in after
    assert program.balance("c1", pit=LATER).spendable == 1500 - MUG_PRICE
    # nothing else moved: the redemption's points and the unit are the only differences from before
    changed = {k: (before.get(k, 0), after.get(k, 0)) for k in set(before) | set(after) if before.get(k, 0) != after.get(k, 0)}
    assert {k for k in changed if k[1] == "UNITS"} == {("catalogue:MUG-BLUE:stock", "UNITS"), ("catalogue:MUG-BLUE:delivered", "UNITS")}
    assert sum(after.get(k, 0) - before.get(k, 0) for k in changed if k[0].startswith("customers:c1:")) == -MUG_PRICE


def test_a_rejected_mug_leaves_every_balance_of_every_asset_as_before(client: LedgerClient) -> None:
    program = stocked(client, 2, "c1")
    before = books(client)
    program.redeem(mug("c1", "r-1"))
    assert books(client) != before
    program.review("r-1", "reject", operator="ops-7", reason="suspected_fraud", at=T0 + HOUR)
    assert books(client) == before
    assert units(client, "catalogue:MUG-BLUE:stock") == 2


def test_the_last_unit_held_for_review_cannot_be_redeemed_until_the_rejection_gives_it_back(client: LedgerClient) -> None:
    program = stocked(client, 1, "c1", "c2")
    plain = programme(client, pending_days=0)  # the repository's rules: a mug is redeemed at once
    assert program.redeem(mug("c1", "r-1")).review == "pending"
    with pytest.raises(OutOfStock, match="MUG-BLUE is out of stock"):
        plain.redeem(mug("c2", "r-2", T0 + HOUR))
    assert client.find_by_reference("redeem:r-2") is None and units(client, "catalogue:MUG-BLUE:stock") == 0
    program.review("r-1", "reject", operator="ops-7", reason="suspected_fraud", at=T0 + 2 * HOUR)
    assert units(client, "catalogue:MUG-BLUE:stock") == 1
    redeemed = plain.redeem(mug("c2", "r-3", T0 + 3 * HOUR))
    assert redeemed.review is None and units(client, "catalogue:MUG-BLUE:delivered") == 1
    assert units(client, "catalogue:MUG-BLUE:stock") == 0
    assert plain.balance("c2", pit=LATER).spendable == 1500 - MUG_PRICE and plain.balance("c1", pit=LATER).spendable == 1500


def test_held_and_plain_redemptions_racing_for_one_unit_give_exactly_one(client: LedgerClient, clients: list[LedgerClient]) -> None:
    customers = [f"m{n}" for n in range(RACERS)]
    stocked(client, 1, *customers)
    # even racers are held for review, odd ones redeem at once; each its own programme and client
    programs = [reviewing(c) if n % 2 == 0 else programme(c, pending_days=0) for n, c in enumerate(clients[:RACERS])]
    results = redeem_all_at_once(programs, [mug(customers[n], f"r-{n}", T0 + HOUR) for n in range(RACERS)])

    won = [n for n, r in enumerate(results) if isinstance(r, OperationResult)]
    assert len(won) == 1, results
    assert all(isinstance(r, OutOfStock) for r in results if not isinstance(r, OperationResult)), results
    (winner,) = won
    assert units(client, "catalogue:MUG-BLUE:stock") == 0
    held = units(client, f"customers:{customers[winner]}:holds:rv-r-{winner}") if winner % 2 == 0 else 0
    assert (held, units(client, "catalogue:MUG-BLUE:delivered")) == ((1, 0) if winner % 2 == 0 else (0, 1))
    posted = list(client.transactions(metadata={"operation": "redeem"}))
    assert [tx.reference for tx in posted] == [f"redeem:r-{winner}"]
    for n, customer in enumerate(customers):
        assert programs[0].balance(customer, pit=LATER).spendable == 1500 - (MUG_PRICE if n == winner else 0), customer
