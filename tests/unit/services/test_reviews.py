"""Review of risky redemptions on the in-memory ledger: which redemptions are held, and what each decision posts.

The repository's rules (review: more than 10,000 points; more than 30 redemptions or 25,000 points in 24
hours; a member whose first operation is less than 30 days old redeeming 5,000 or more; 1,000 or more
after points received by transfer in the last 48 hours; a 72-hour deadline). T0 is 2026-01-10 12:00Z.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.fake_ledger import FakeLedger
from support.programme import T0, earn, programme, rules_text
from test_horizon import CountingLedger

from loyalty_accounts.errors import InvalidCommand, OperationRefused, UnknownEntity
from loyalty_accounts.operations import RedeemCommand, TransferCommand
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.program import LoyaltyProgram

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OLD = T0 - 60 * DAY
"""An instant long enough before T0 that a customer who earned then is no new member."""
LATE = T0 + 30 * DAY
"""A programme clock after every instant of these stories (every review's deadline has passed by it)."""


def redeem(key: str, points: int, at=T0, customer: str = "c1", reward: str | None = None) -> RedeemCommand:  # type: ignore[no-untyped-def]
    return RedeemCommand(customer=customer, redemption_id=key, points=points, at=at, reward=reward)


def balances(ledger: FakeLedger, customer: str = "c1") -> dict[str, int]:
    """Every PTS balance of the customer's accounts and of the programme's (nothing but points)."""

    out = {a.address: a.balance("PTS") for a in ledger.accounts("customers:c1:...") if a.balance("PTS")}
    out |= {a.address: a.balance("PTS") for a in ledger.accounts("program:...") if a.balance("PTS")}
    return out


class StoryClock:
    """The programme's now in a story: two hours after T0 (reviews still open) until a test moves it on;
    a decision is checked against it (an approval once the deadline has passed by it is refused)."""

    def __init__(self, now: datetime = T0 + 2 * HOUR) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def funded(ledger: FakeLedger, amount: str = "30000.00", at=OLD, clock: StoryClock | None = None) -> LoyaltyProgram:  # type: ignore[no-untyped-def]
    program = programme(ledger, pending_days=0, clock=clock or StoryClock())
    program.earn(earn("c1", "o1", amount, at))
    return program


def test_a_redemption_over_the_threshold_is_held_for_review_not_redeemed() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    before = balances(ledger)
    result = program.redeem(redeem("r1", 12_000, reward="tv"))
    assert result.review == "pending" and result.posted
    assert "waiting for review until 2026-01-13T12:00:00Z" in (result.note or "")
    tx = result.transactions[0]
    assert tx.reference == "redeem:r1"
    assert tx.metadata["review"] == "required"
    assert tx.metadata["review_reasons"] == "points_above_threshold"
    assert tx.metadata["review_deadline"] == tx.metadata["expires_at"] == "2026-01-13T12:00:00Z"
    assert tx.metadata["reward"] == "tv" and tx.metadata["hold_id"] == "rv-r1"
    after = balances(ledger)
    assert after["customers:c1:holds:rv-r1"] == 12_000
    assert after.get("program:points:redeemed", 0) == before.get("program:points:redeemed", 0) == 0
    assert sum(v for k, v in after.items() if k.startswith("customers:c1:points:")) == 30_000 - 12_000


def test_a_small_redemption_by_an_established_member_is_redeemed_at_once() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    result = program.redeem(redeem("r1", 500))
    assert result.review is None
    assert ledger.account("program:points:redeemed").balance("PTS") == 500


def test_a_rejected_review_leaves_every_balance_as_before_the_redemption() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    program.earn(earn("c1", "o2", "50.00", T0 - DAY))  # a second bucket, so the hold draws from two
    before = balances(ledger)
    program.redeem(redeem("r1", 29_000))
    assert balances(ledger) != before
    result = program.review("r1", "reject", operator="ops-7", reason="suspected_fraud", at=T0 + HOUR)
    assert result.posted and result.transactions[0].reference == "review:r1"
    assert balances(ledger) == before
    meta = result.transactions[0].metadata
    assert (meta["decision"], meta["operator"], meta["reason"], meta["decided_at"]) == (
        "rejected", "ops-7", "suspected_fraud", "2026-01-10T13:00:00Z",
    )
    assert program.redeem(redeem("r1", 29_000)).review == "rejected"  # the redemption replayed says so


def test_an_approved_review_ends_as_a_redemption() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    program.redeem(redeem("r1", 12_000))
    result = program.review("r1", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    assert result.transactions[0].metadata["decision"] == "approved"
    assert ledger.account("program:points:redeemed").balance("PTS") == 12_000
    assert ledger.account("customers:c1:holds:rv-r1").balance("PTS") == 0
    assert sum(a.balance("PTS") for a in ledger.accounts("customers:c1:points:")) == 18_000
    assert [r.status for r in program.reviews(include_decided=True)] == ["approved"]
    assert program.reviews() == []


def test_the_same_decision_again_is_a_replay_and_another_one_is_refused_naming_the_first() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    program.redeem(redeem("r1", 12_000))
    first = program.review("r1", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    again = program.review("r1", "approve", operator="ops-7", reason="verified_with_member", at=T0 + 2 * HOUR)
    assert again.replayed and again.transactions[0].id == first.transactions[0].id
    with pytest.raises(OperationRefused, match="already decided: approved by ops-7 .verified_with_member."):
        program.review("r1", "reject", operator="ops-8", reason="suspected_fraud", at=T0 + 2 * HOUR)
    assert ledger.account("program:points:redeemed").balance("PTS") == 12_000


def test_an_approval_at_or_after_the_deadline_is_refused_and_the_lapse_voids() -> None:
    ledger = FakeLedger()
    program = funded(ledger, clock=StoryClock(LATE))
    before = balances(ledger)
    program.redeem(redeem("r1", 12_000))
    with pytest.raises(OperationRefused, match="lapsed at 2026-01-13T12:00:00Z"):
        program.review("r1", "approve", operator="ops-7", reason="verified_with_member", at=T0 + 72 * HOUR)
    assert program.lapse_reviews(T0 + 71 * HOUR).posted == 0  # not yet due
    assert [r.status for r in program.reviews(as_of=T0 + 72 * HOUR)] == ["overdue"]
    lapsed = program.lapse_reviews(T0 + 72 * HOUR)
    assert lapsed.posted == 1
    assert balances(ledger) == before
    (row,) = program.reviews(include_decided=True)
    assert (row.status, row.operator, row.reason) == ("lapsed", "system", "deadline_passed")
    assert program.lapse_reviews(T0 + 73 * HOUR).posted == 0


def test_once_the_deadline_has_passed_by_the_clock_an_approval_dated_before_it_is_refused() -> None:
    ledger = FakeLedger()
    clock = StoryClock()
    program = funded(ledger, clock=clock)
    before = balances(ledger)
    program.redeem(redeem("r1", 12_000))
    program.redeem(redeem("r2", 12_000))
    program.review("r2", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    clock.now = T0 + 72 * HOUR  # the deadline of both: an approval is made now, whatever it is dated
    with pytest.raises(OperationRefused, match="lapsed at 2026-01-13T12:00:00Z: it can no longer be approved, whatever --at says"):
        program.review("r1", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    assert ledger.find_by_reference("review:r1") is None and balances(ledger)["customers:c1:holds:rv-r1"] == 12_000
    # the approval made in time, sent again late, is still its own replay; a rejection still voids
    again = program.review("r2", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    assert again.replayed
    program.review("r1", "reject", operator="ops-7", reason="suspected_fraud", at=T0 + 72 * HOUR)
    assert balances(ledger) == before | {"program:points:redeemed": 12_000} | {
        k: v - 12_000 for k, v in before.items() if k.startswith("customers:c1:points:")
    }


def test_void_lapsed_lapses_overdue_reviews_too() -> None:
    ledger = FakeLedger()
    program = funded(ledger, clock=StoryClock(LATE))
    before = balances(ledger)
    program.redeem(redeem("r1", 12_000))
    assert program.void_lapsed(T0 + 80 * HOUR).posted == 1
    assert balances(ledger) == before


def test_unknown_or_unreviewed_redemptions_and_bad_reasons_are_refused() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    program.redeem(redeem("r-small", 10))
    program.redeem(redeem("r1", 12_000))
    with pytest.raises(UnknownEntity, match="no redemption r-9"):
        program.review("r-9", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    with pytest.raises(OperationRefused, match="was not held for review"):
        program.review("r-small", "approve", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    with pytest.raises(InvalidCommand, match="not one of the rules' reject reasons .* suspected_fraud"):
        program.review("r1", "reject", operator="ops-7", reason="verified_with_member", at=T0 + HOUR)
    with pytest.raises(InvalidCommand) as refused:
        program.review("r1", "reject", operator="zoe.martin@example.com", reason="suspected_fraud", at=T0 + HOUR)
    assert "zoe" not in str(refused.value)
    assert ledger.find_by_reference("review:r1") is None


def test_velocity_counts_every_redemption_of_the_window_held_ones_too() -> None:
    rules = rules_text(("    max_redemptions: 30\n", "    max_redemptions: 2\n"))
    ledger = FakeLedger()
    program = programme(ledger, pending_days=0, rules=rules)
    program.earn(earn("c1", "o1", "1000.00", OLD))
    assert program.redeem(redeem("r1", 10, T0)).review is None
    assert program.redeem(redeem("r2", 10, T0 + HOUR)).review is None
    third = program.redeem(redeem("r3", 10, T0 + 2 * HOUR))
    assert third.review == "pending" and third.transactions[0].metadata["review_reasons"] == "velocity_redemptions"
    # r3, held, counts too: at T0 + 25 h the window holds r2 and r3
    assert program.redeem(redeem("r4", 10, T0 + 25 * HOUR)).review == "pending"
    assert program.redeem(redeem("r4b", 10, T0 + 50 * HOUR)).review is None  # only r4 in its window


def test_velocity_points_count_this_redemption_with_those_of_the_window() -> None:
    ledger = FakeLedger()
    program = funded(ledger, amount="40000.00", clock=StoryClock(LATE))
    for n, points in enumerate((9_000, 9_000, 6_000)):
        assert program.redeem(redeem(f"r{n}", points, T0 + n * HOUR)).review is None
    assert program.redeem(redeem("r-at-limit", 1_000, T0 + 3 * HOUR)).review is None  # 25,000: not more than the limit
    over = program.redeem(redeem("r-over", 1, T0 + 4 * HOUR))
    assert over.transactions[0].metadata["review_reasons"] == "velocity_points"


def test_a_new_member_redeeming_a_large_amount_is_held_a_small_one_is_not() -> None:
    ledger = FakeLedger()
    program = funded(ledger, at=T0 - 10 * DAY, clock=StoryClock(LATE))
    assert program.redeem(redeem("r1", 4_999)).review is None
    held = program.redeem(redeem("r2", 5_000, T0 + HOUR))
    assert held.transactions[0].metadata["review_reasons"] == "new_member"
    # thirty days after the first operation, the member is established
    assert program.redeem(redeem("r3", 5_000, T0 + 20 * DAY + HOUR)).review is None


def test_points_just_received_by_transfer_hold_a_redemption_for_review() -> None:
    ledger = FakeLedger()
    program = funded(ledger, clock=StoryClock(LATE))
    program.earn(earn("c2", "o2", "100.00", OLD))
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t1", points=3_000, at=T0))
    held = program.redeem(redeem("r1", 1_000, T0 + HOUR, customer="c2"))
    assert held.transactions[0].metadata["review_reasons"] == "after_transfer"
    assert program.redeem(redeem("r2", 999, T0 + HOUR, customer="c2")).review is None
    assert program.redeem(redeem("r3", 1_000, T0 + 49 * HOUR, customer="c2")).review is None


def test_a_redemption_reads_one_listing_of_its_recent_history_for_the_review() -> None:
    ledger = CountingLedger()
    program = funded(ledger)  # type: ignore[arg-type]
    program.redeem(redeem("r1", 10))
    ledger.reads.clear()
    program.redeem(redeem("r2", 10, T0 + HOUR))
    assert ledger.reads == {"history": 1}
    ledger.reads.clear()
    program.redeem(redeem("r3", 5_000, T0 + 2 * HOUR))  # may meet the new-member rule: one more listing
    assert ledger.reads == {"history": 1, "transactions": 1}


def test_a_replayed_held_redemption_stays_held_whatever_the_verdict_would_be_now() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    first = program.redeem(redeem("r1", 12_000))
    again = program.redeem(redeem("r1", 12_000))
    assert again.replayed and again.review == "pending" and again.transactions[0].id == first.transactions[0].id
    assert ledger.account("customers:c1:holds:rv-r1").balance("PTS") == 12_000


def test_a_pool_redemption_the_rules_would_hold_is_refused_and_every_pool_redemption_counts_toward_velocity() -> None:
    ledger = FakeLedger()
    program = funded(ledger)
    for partner, points in (("skyway", 30_000), ("cityrail", 10_000)):
        program.execute(PoolContributeCommand(pool="travel", partner=partner, contribution_id=f"f-{partner}", points=points, at=OLD))
    before = balances(ledger)
    with pytest.raises(OperationRefused, match=r"needs review \(points_above_threshold\).*not held for review: nothing was posted"):
        program.execute(PoolRedeemCommand(customer="c1", pool="travel", redemption_id="p1", points=12_000, at=T0))
    assert balances(ledger) == before and ledger.find_by_reference("pool_redeem:p1") is None
    for key, at in (("p2", T0), ("p3", T0 + HOUR)):
        program.execute(PoolRedeemCommand(customer="c1", pool="travel", redemption_id=key, points=8_000, at=at))
    # 8,000 + 8,000 from the pool and 10,000 now: 26,000 within 24 hours, over the 25,000 the rules allow
    held = program.redeem(redeem("r1", 10_000, T0 + HOUR))
    assert held.review == "pending" and held.transactions[0].metadata["review_reasons"] == "velocity_points"
    with pytest.raises(OperationRefused, match="velocity_points"):
        program.execute(PoolRedeemCommand(customer="c1", pool="travel", redemption_id="p4", points=100, at=T0 + HOUR))
