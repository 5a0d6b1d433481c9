"""Review of risky redemptions on the real server (issue 16, item 3).

A redemption over the rules' threshold waits for review: a hold is posted under the redemption's own
reference and nothing is redeemed; a rejected one leaves every balance of the customer and of the
programme as it was before the redemption; an approved one ends as a redemption; a lapsed one is voided;
two redemptions racing across the velocity limit cannot both escape review (the guard's sequence leg makes
the loser read the winner and plan again).

The maps compared are every account's balance in every asset but the control asset (CTL): each operation
moves the customer's sequence counter and horizon by design (operations/guard.py), which is how the ledger
tells a stale plan from a fresh one; every point, every unit of money and every memo counter is compared.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from support.programme import T0, earn, every_balance, programme, rules_text
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.errors import LoyaltyError, OperationRefused
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import RedeemCommand
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.reports.check import Check
from loyalty_accounts.services.results import OperationResult
from loyalty_accounts.types import PostedTransaction, TransactionPlan

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OLD = T0 - 60 * DAY
"""The customers' first orders: long enough before T0 that the new-member rule does not apply."""
ONE_A_DAY = rules_text(("    max_redemptions: 30\n", "    max_redemptions: 1\n"))
"""The repository's rules with a velocity limit of one redemption per 24 hours."""


def redeem(key: str, points: int, at=T0, customer: str = "c1") -> RedeemCommand:  # type: ignore[no-untyped-def]
    return RedeemCommand(customer=customer, redemption_id=key, points=points, at=at)


def books(client: LedgerClient) -> dict[tuple[str, str], int]:
    """Every non-zero balance of every customer's and programme account, per asset, the control asset aside."""

    return every_balance(client, "customers:...", "program:...")


def expired_holds(program: LoyaltyProgram, as_of: datetime) -> Check:
    """The reconciliation's expired-holds check as of ``as_of``."""

    result = FinanceReports(program.ledger, program.chart, rules=program.rules).reconcile(as_of)
    return next(c for c in result.checks if c.name == "expired_holds")


def funded(client: LedgerClient, **options: Any) -> LoyaltyProgram:
    """The programme, c1 holding 20,000 points in one bucket and 5,000 in another (orders long before T0)."""

    program = programme(client, pending_days=0, **options)
    program.earn(earn("c1", "o1", "20000.00", OLD))
    program.earn(earn("c1", "o2", "5000.00", OLD + DAY))
    return program


def test_a_redemption_over_the_threshold_waits_for_review_and_a_rejection_restores_every_balance(client: LedgerClient) -> None:
    program = funded(client)
    before = books(client)
    held = program.redeem(redeem("R-1", 22_000))
    assert held.review == "pending" and held.posted
    tx = client.find_by_reference("redeem:R-1")
    assert tx is not None and tx.metadata["template"] == "hold" and tx.metadata["review"] == "required"
    assert tx.metadata["review_reasons"] == "points_above_threshold"
    assert tx.metadata["review_deadline"] == "2026-01-13T12:00:00Z"
    during = books(client)
    buckets_before = sum(v for (a, _), v in before.items() if a.startswith("customers:c1:points:"))
    buckets_during = sum(v for (a, _), v in during.items() if a.startswith("customers:c1:points:"))
    assert buckets_before - buckets_during == 22_000  # out of spendable ...
    assert during[("customers:c1:holds:rv-R-1", "PTS")] == 22_000  # ... into the hold
    assert ("program:points:redeemed", "PTS") not in during  # nothing redeemed
    assert [(r.redemption_id, r.status) for r in program.reviews(as_of=T0 + HOUR)] == [("R-1", "pending")]
    # the reconciliation knows the hold: open within its deadline, then holding points past it
    assert expired_holds(program, T0 + HOUR).status == "pass"
    late = expired_holds(program, T0 + 73 * HOUR)
    assert late.status == "fail" and "customers:c1:holds:rv-R-1: 22000 points, lapsed at 2026-01-13T12:00:00Z" in late.offending[0]

    rejected = program.review("R-1", "reject", operator="ops-7", reason="suspected_fraud", at=T0 + 2 * HOUR)
    decision = client.find_by_reference("review:R-1")
    assert decision is not None and decision.id == rejected.transactions[0].id
    assert {k: decision.metadata[k] for k in ("decision", "operator", "reason", "decided_at")} == {
        "decision": "rejected", "operator": "ops-7", "reason": "suspected_fraud", "decided_at": "2026-01-10T14:00:00Z",
    }
    assert books(client) == before


def test_an_approved_review_ends_as_a_redemption_and_cannot_be_decided_again(client: LedgerClient) -> None:
    program = funded(client, clock=lambda: T0 + 3 * HOUR)  # now: before the deadline (an approval is made now)
    before = books(client)
    program.redeem(redeem("R-2", 12_000))
    approved = program.review("R-2", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    assert approved.posted and approved.transactions[0].metadata["decision"] == "approved"
    after = books(client)
    assert after[("program:points:redeemed", "PTS")] == 12_000
    assert ("customers:c1:holds:rv-R-2", "PTS") not in after
    spendable = {k: v for k, v in after.items() if k[0].startswith("customers:c1:points:")}
    assert sum(spendable.values()) == sum(v for k, v in before.items() if k[0].startswith("customers:c1:points:")) - 12_000
    again = program.review("R-2", "approve", operator="ops-7", reason="verified_with_member", at=T0 + 2 * HOUR)
    assert again.replayed and again.transactions[0].id == approved.transactions[0].id
    with pytest.raises(OperationRefused, match="already decided: approved by ops-7"):
        program.review("R-2", "reject", operator="ops-8", reason="suspected_fraud", at=T0 + 2 * HOUR)
    assert books(client) == after


def test_a_lapsed_review_is_voided_and_can_no_longer_be_approved(client: LedgerClient) -> None:
    program = funded(client)
    before = books(client)
    program.redeem(redeem("R-3", 15_000))
    with pytest.raises(OperationRefused, match="lapsed at 2026-01-13T12:00:00Z"):
        program.review("R-3", "approve", operator="ops-7", reason="verified_with_member", at=T0 + 73 * HOUR)
    swept = program.void_lapsed(T0 + 73 * HOUR)  # the nightly lapsed-hold sweep lapses reviews too
    assert swept.posted == 1
    assert books(client) == before
    (row,) = program.reviews(include_decided=True)
    assert (row.status, row.operator, row.reason) == ("lapsed", "system", "deadline_passed")
    assert program.lapse_reviews(T0 + 80 * HOUR).posted == 0


class FirstRedeemWaits:
    """The client, except that the first redemption's post waits until ``release`` is set (after saying so)."""

    def __init__(self, inner: LedgerClient) -> None:
        self._inner = inner
        self.reached = threading.Event()
        self.release = threading.Event()

    def post(self, plan: TransactionPlan, **options: Any) -> PostedTransaction:
        if plan.operation == "redeem" and not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(60)
        return self._inner.post(plan, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_redemption_planned_before_a_concurrent_one_posted_is_read_again_and_held(client: LedgerClient) -> None:
    """Both read an empty window; the second posts first; the first's post is refused by the sequence leg,
    read again (one redemption in the window now) and held: they cannot both escape the limit of one a day."""

    funded(client, rules=ONE_A_DAY)
    paused = FirstRedeemWaits(client)
    here = programme(paused, pending_days=0, rules=ONE_A_DAY)  # type: ignore[arg-type]
    there = programme(client, pending_days=0, rules=ONE_A_DAY)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(here.redeem, redeem("R-a", 100, T0))
        assert paused.reached.wait(60)  # planned (no review: nothing in the window) and about to post
        second = there.redeem(redeem("R-b", 100, T0 + timedelta(minutes=1)))
        paused.release.set()
        held = first.result(timeout=120)
    assert second.review is None
    assert held.review == "pending" and held.transactions[0].metadata["review_reasons"] == "velocity_redemptions"
    assert client.account("program:points:redeemed").balance("PTS") == 100


def test_concurrent_redemptions_across_the_velocity_limit_cannot_all_escape_review(client: LedgerClient) -> None:
    funded(client, rules=ONE_A_DAY)
    racers = [programme(client, pending_days=0, rules=ONE_A_DAY) for _ in range(4)]
    barrier = threading.Barrier(len(racers))

    def run(n: int) -> OperationResult | LoyaltyError:
        barrier.wait()
        try:
            return racers[n].redeem(redeem(f"R-{n}", 100, T0 + n * timedelta(seconds=1)))
        except LoyaltyError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(racers)) as pool:
        results = list(pool.map(run, range(len(racers))))
    assert all(isinstance(r, OperationResult) for r in results), results
    statuses = sorted(str(r.review) for r in results if isinstance(r, OperationResult))
    assert statuses == ["None", "pending", "pending", "pending"]
    assert client.account("program:points:redeemed").balance("PTS") == 100
    assert len(program_reviews(client)) == 3


def program_reviews(client: LedgerClient) -> list[PostedTransaction]:
    return list(client.transactions(metadata={"operation": "redeem", "review": "required"}))


def test_the_cli_exits_5_for_a_held_redemption_and_lists_it(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    funded(client)
    runner = CliRunner()

    def cli_run(*args: str) -> Any:
        return runner.invoke(cli, ["--ledger-url", ledger_url, "--ledger", ledger_name, *args])

    held = cli_run("redeem", "-c", "c1", "--redemption", "R-cli", "-p", "11000", "--at", "2026-01-10T12:00:00Z", "-f", "json")
    assert held.exit_code == 5, held.output
    assert json.loads(held.output)["review"] == "pending"
    rows = json.loads(cli_run("review", "list", "--as-of", "2026-01-11T00:00:00Z", "-f", "json").output)
    assert [(r["redemption_id"], r["status"], r["points"]) for r in rows] == [("R-cli", "pending", 11000)]
    unknown = cli_run("review", "reject", "R-none", "--by", "ops-7", "--reason", "suspected_fraud")
    assert unknown.exit_code == 1 and unknown.output.strip() == "error: no redemption R-none"


def test_a_new_member_and_points_just_received_by_transfer_are_held(client: LedgerClient) -> None:
    from loyalty_accounts.operations import TransferCommand

    program = funded(client)
    program.earn(earn("new", "o-new", "8000.00", T0 - 5 * DAY))
    held = program.redeem(redeem("R-new", 6_000, customer="new"))
    assert held.review == "pending" and held.transactions[0].metadata["review_reasons"] == "new_member"
    program.earn(earn("c2", "o-c2", "10.00", OLD))
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="T-1", points=4_000, at=T0 - HOUR))
    after_transfer = program.redeem(redeem("R-c2", 1_500, customer="c2"))
    assert after_transfer.transactions[0].metadata["review_reasons"] == "after_transfer"
    assert program.redeem(redeem("R-c2-later", 1_500, T0 + 48 * HOUR, customer="c2")).review is None
    assert program.redeem(redeem("R-c1", 1_500)).review is None  # the sender is not held


def test_an_approval_back_dated_before_a_passed_deadline_is_refused_and_posts_nothing(client: LedgerClient) -> None:
    program = funded(client, clock=lambda: T0 + 72 * HOUR)  # now: the deadline of a redemption held at T0
    program.redeem(redeem("R-9", 12_000))
    during = books(client)
    with pytest.raises(OperationRefused, match="whatever --at says"):
        program.review("R-9", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    assert books(client) == during and client.find_by_reference("review:R-9") is None


def test_pool_redemptions_count_toward_velocity_and_one_the_rules_would_hold_is_refused(client: LedgerClient) -> None:
    program = funded(client, clock=lambda: T0 + 3 * HOUR)
    for partner, points in (("skyway", 30_000), ("cityrail", 10_000)):
        program.execute(PoolContributeCommand(pool="travel", partner=partner, contribution_id=f"f-{partner}", points=points, at=OLD))
    before = books(client)
    with pytest.raises(OperationRefused, match=r"needs review \(points_above_threshold\)"):
        program.execute(PoolRedeemCommand(customer="c1", pool="travel", redemption_id="P-1", points=12_000, at=T0))
    assert books(client) == before and client.find_by_reference("pool_redeem:P-1") is None
    for key, at in (("P-2", T0), ("P-3", T0 + HOUR)):
        assert program.execute(PoolRedeemCommand(customer="c1", pool="travel", redemption_id=key, points=8_000, at=at)).posted
    held = program.redeem(redeem("R-10", 10_000, T0 + 2 * HOUR))  # 26,000 within 24 hours, 16,000 of them from the pool
    assert held.review == "pending" and held.transactions[0].metadata["review_reasons"] == "velocity_points"
