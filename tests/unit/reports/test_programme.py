"""Programme analytics on the in-memory ledger: the demo year's figures worked out by hand, the postings'
classification, the reward-type fallback, and one small constructed history per anomaly flag (each with the
history one step short of the threshold, which must not be flagged).

The demo year's story (src/loyalty_accounts/demo.py) and its arithmetic are in tests/unit/cli/test_demo_reports.py
and tests/unit/cli/test_ops.py: issued 9354, reversed 100, redeemed 5420 (carol's flight 5350, alice's
capture 70), converted 200, exchanged 180 (bob's 60 miles × 3), expired 572.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from support.cli_apps import demo_ledger
from support.fake_ledger import FakeLedger
from support.programme import earn, programme

from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import RedeemCommand, TransferCommand
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.program import LoyaltyProgram
from loyalty_accounts.reports import FinanceReports, ProgrammeReport
from loyalty_accounts.reports.programme_facts import classify
from loyalty_accounts.types import PostedTransaction, Posting

UTC = timezone.utc
START = datetime(2025, 9, 30, 23, 59, 59, 999999, tzinfo=UTC)
END = datetime(2026, 10, 6, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> tuple[FakeLedger, LoyaltyProgram]:
    ledger = demo_ledger()
    return ledger, programme(ledger)


@pytest.fixture(scope="module")
def report(demo: tuple[FakeLedger, LoyaltyProgram]) -> ProgrammeReport:
    ledger, program = demo
    return FinanceReports(ledger, program.chart, rules=program.rules).programme(START, END)


def test_the_demo_years_flows_are_the_roll_forwards(report: ProgrammeReport, demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    assert report.totals == {"issued": 9354, "reversed": 100, "redeemed": 5420, "converted": 200, "exchanged": 180, "expired": 572}
    activity = {line.line: line.points for line in FinanceReports(ledger, program.chart).activity(START, END).lines}
    # the roll-forward signs the lines by their effect on the liability; the same magnitudes
    assert activity["issued"] == report.totals["issued"] and activity["reversed"] == -report.totals["reversed"]
    for line in ("redeemed", "converted", "exchanged", "expired"):
        assert activity[line] == -report.totals[line], line
    days = {d.day.isoformat(): d for d in report.daily}
    assert days["2025-11-13"].redeemed == 5350 and days["2025-12-02"].redeemed == 70
    assert days["2025-10-03"].issued == 5000  # carol's 1000.00 USD of travel at × 5
    assert days["2026-10-06"].expired == 572 and days["2026-02-02"].exchanged == 180


def test_the_demo_years_members_rewards_partners_and_tiers(report: ProgrammeReport) -> None:
    assert (report.active_members, report.members_at_end) == (4, 4)
    # neither the flight (reward "flight", no type) nor the capture records a reward_type
    assert [(r.reward_type, r.redemptions, r.points) for r in report.rewards] == [("unspecified", 2, 5420)]
    by_key = {p.partner: p for p in report.partners}
    assert sorted(by_key) == ["cityrail", "skyway"]  # every declared partner; cityrail (a pool member) never exchanged
    cityrail, skyway = by_key["cityrail"], by_key["skyway"]
    assert (cityrail.points_out, cityrail.points_in, cityrail.units_delivered, cityrail.units_received) == (0, 0, 0, 0)
    assert (skyway.points_out, skyway.units_delivered, skyway.points_in, skyway.units_received) == (180, 60, 80, 40)
    assert (str(skyway.settlement_out), str(skyway.settlement_in), str(skyway.settlement_net), str(skyway.balance_at_end)) == (
        "0.75", "0.32", "-0.43", "-0.43",
    )
    # carol's 5000 qualifying points from C-3001 (2025-10-03) make her silver; the day leaves the 365-day window
    # one microsecond after midnight a year on, and she is a member again
    assert [(c.member, c.from_tier, c.to_tier, c.at) for c in report.tier_changes] == [
        ("carol", "member", "silver", datetime(2025, 10, 3, 9, 30, tzinfo=UTC)),
        ("carol", "silver", "member", datetime(2026, 10, 3, 0, 0, 0, 1, tzinfo=UTC)),
    ]
    assert report.tier_changes[0].transaction_id is not None and report.tier_changes[1].transaction_id is None
    assert [(t.tier, t.members) for t in report.tiers] == [("member", 4), ("silver", 0), ("gold", 0)]


def test_the_demo_years_expiring_points(report: ProgrammeReport) -> None:
    # buckets at the end of 2026-10-06: alice 180 (expires 2026-11-28), bob 972 (2026-11-29; 50 more held in
    # H-B1, not in a bucket), carol 1600 (2026-12-06), dave 80 (2027-02-16)
    assert [(e.within_days, e.points, e.members) for e in report.expiring] == [(30, 0, 0), (60, 180 + 972, 2), (90, 180 + 972 + 1600, 3)]
    assert report.due_points == 0


def test_a_window_of_one_day_sees_only_that_day(demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    day = FinanceReports(ledger, program.chart, rules=program.rules).programme(
        datetime(2025, 11, 12, 23, 59, 59, 999999, tzinfo=UTC), datetime(2025, 11, 13, 23, 59, 59, 999999, tzinfo=UTC)
    )
    assert day.active_members == 1 and day.totals["redeemed"] == 5350 and day.totals["issued"] == 0
    assert day.tier_changes == () and [(t.tier, t.members) for t in day.tiers] == [("member", 3), ("silver", 1), ("gold", 0)]


def test_a_programme_report_needs_a_start(demo: tuple[FakeLedger, LoyaltyProgram]) -> None:
    ledger, program = demo
    with pytest.raises(InvalidCommand, match="--from"):
        FinanceReports(ledger, program.chart).programme(None, END)
    with pytest.raises(InvalidCommand, match="must start before it ends"):
        FinanceReports(ledger, program.chart).programme(END, START)


# -- classification ---------------------------------------------------------------------------------


def tx(tx_id: int, *postings: tuple[str, str, int, str], **metadata: str) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id,
        timestamp=datetime(2026, 3, 1, 10, tzinfo=UTC),
        postings=tuple(Posting(source=s, destination=d, amount=a, asset=asset) for s, d, a, asset in postings),
        metadata=metadata,
    )


def test_postings_are_classified_by_the_kinds_they_move() -> None:
    chart = load_chart()
    earned = classify(chart, tx(1, ("program:points:issued:3", "customers:alice:pending:20260315:20270301", 25, "PTS")))
    assert (earned.flows["issued"], earned.earned_by, earned.active) == (25, {"alice"}, {"alice"})
    redeemed = classify(chart, tx(2, ("customers:bob:points:20270301", "program:points:redeemed", 10, "PTS"), reward_type="gift_card"))
    assert (redeemed.flows["redeemed"], redeemed.redeemed_by, redeemed.reward_type) == (10, {"bob"}, "gift_card")
    moved = classify(chart, tx(3, ("customers:alice:points:20270301", "customers:carol:points:20270301", 5, "PTS")))
    assert moved.transfers == [("alice", "carol", 5)] and moved.active == {"alice", "carol"}
    # sweeps: a release within one member's accounts and an expiry do not make a member active
    released = classify(chart, tx(4, ("customers:dave:pending:20260301:20270215", "customers:dave:points:20270215", 7, "PTS")))
    expired = classify(chart, tx(5, ("customers:dave:points:20260301", "program:points:expired", 3, "PTS")))
    assert released.active == set() and released.moved_points and expired.active == set() and expired.flows["expired"] == 3
    # money and a partner's units: settlement each way, per partner
    out = classify(
        chart,
        tx(
            6,
            ("customers:bob:points:20270301", "partners:skyway:exchanged", 30, "PTS"),
            ("partners:skyway:issued", "partners:skyway:delivered", 10, "SKYMILES"),
            ("partners:skyway:settlement", "program:exchange:cost", 13, "USD/2"),
        ),
    )
    assert (out.partners["skyway"].points_out, out.partners["skyway"].units_delivered, out.partners["skyway"].settlement_out) == (30, 10, 13)
    assert out.flows["exchanged"] == 30 and out.reward_type == "unspecified"
    # its revert takes the points and the units back: net, not a second exchange out
    back = classify(
        chart,
        tx(
            7,
            ("partners:skyway:exchanged", "customers:bob:points:20270301", 30, "PTS"),
            ("partners:skyway:delivered", "partners:skyway:issued", 10, "SKYMILES"),
            ("program:exchange:cost", "partners:skyway:settlement", 13, "USD/2"),
        ),
    )
    assert (back.partners["skyway"].points_out, back.partners["skyway"].units_delivered, back.flows["exchanged"]) == (-30, -10, -30)
    assert back.partners["skyway"].settlement_in == 13 and back.active == {"bob"}


# -- anomaly flags on small constructed histories ------------------------------------------------------

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def flags_of(program: LoyaltyProgram, ledger: FakeLedger, kind: str) -> list[Any]:
    made = FinanceReports(ledger, program.chart, rules=program.rules).programme(T - timedelta(days=30), T + timedelta(days=30))
    return [f for f in made.flags if f.kind == kind]


def fresh() -> tuple[LoyaltyProgram, FakeLedger]:
    ledger = FakeLedger()
    return programme(ledger, clock=lambda: T + timedelta(days=60), pending_days=0), ledger


def op_id(result: Any, operation: str) -> int:
    return next(t.id for t in result.transactions if t.metadata.get("operation") == operation)


@pytest.mark.parametrize("earns, flagged", [(6, True), (5, False)])
def test_earn_velocity(earns: int, flagged: bool) -> None:
    program, ledger = fresh()
    ids = [op_id(program.earn(earn("c1", f"o-{i}", "10.00", T + timedelta(hours=4 * i))), "earn") for i in range(earns)]  # within 20 h
    program.earn(earn("c1", "o-late", "10.00", T + timedelta(days=3)))  # days later: not part of the run
    found = flags_of(program, ledger, "earn_velocity")
    if flagged:
        assert [(f.members, f.transactions) for f in found] == [(("c1",), tuple(ids))]
    else:
        assert found == []


@pytest.mark.parametrize("redemptions, flagged", [(4, True), (3, False)])
def test_redemption_velocity(redemptions: int, flagged: bool) -> None:
    program, ledger = fresh()
    program.earn(earn("c1", "o-1", "500.00", T - timedelta(days=2)))
    ids = [
        op_id(program.redeem(RedeemCommand(customer="c1", redemption_id=f"r-{i}", points=10, at=T + timedelta(hours=i))), "redeem")
        for i in range(redemptions)
    ]
    found = flags_of(program, ledger, "redemption_velocity")
    assert [(f.members, f.transactions) for f in found] == ([(("c1",), tuple(ids))] if flagged else [])


def two_with_points() -> tuple[LoyaltyProgram, FakeLedger]:
    """A fresh programme where a and b have 100 spendable points each, earned two days before T."""

    program, ledger = fresh()
    for who in ("a", "b"):
        program.earn(earn(who, f"o-{who}", "100.00", T - timedelta(days=2)))
    return program, ledger


def transfer(program: LoyaltyProgram, giver: str, taker: str, key: str, at: datetime) -> int:
    return op_id(program.transfer(TransferCommand(customer=giver, to_customer=taker, transfer_id=key, points=20, at=at)), "transfer")


@pytest.mark.parametrize("hours, flagged", [(71, True), (73, False)])
def test_transfer_chain(hours: int, flagged: bool) -> None:
    program, ledger = two_with_points()
    first = transfer(program, "a", "b", "t-1", T)
    second = transfer(program, "b", "c", "t-2", T + timedelta(hours=hours))
    found = flags_of(program, ledger, "transfer_chain")
    assert [(f.members, f.transactions) for f in found] == ([(("a", "b", "c"), (first, second))] if flagged else [])


@pytest.mark.parametrize("hours, flagged", [(23, True), (25, False)])
def test_redemption_right_after_a_transfer(hours: int, flagged: bool) -> None:
    program, ledger = two_with_points()
    received = transfer(program, "a", "b", "t-1", T)
    spent = op_id(program.redeem(RedeemCommand(customer="b", redemption_id="r-1", points=30, at=T + timedelta(hours=hours))), "redeem")
    # a's own redemption after giving is not one
    program.redeem(RedeemCommand(customer="a", redemption_id="r-2", points=5, at=T + timedelta(hours=1)))
    found = flags_of(program, ledger, "redemption_after_transfer")
    assert [(f.members, f.transactions) for f in found] == ([(("b",), (received, spent))] if flagged else [])


def test_reward_types_with_and_without_the_metadata() -> None:
    program, ledger = fresh()
    program.earn(earn("c1", "o-1", "500.00", T - timedelta(days=2)))
    typed = op_id(program.redeem(RedeemCommand(customer="c1", redemption_id="r-1", points=100, at=T)), "redeem")
    ledger.add_transaction_metadata(typed, {"reward_type": "gift_card"}, schema_version=program.schema_version)
    program.redeem(RedeemCommand(customer="c1", redemption_id="r-2", points=40, at=T + timedelta(days=2)))
    made = FinanceReports(ledger, program.chart, rules=program.rules).programme(T - timedelta(days=30), T + timedelta(days=30))
    assert [(r.reward_type, r.redemptions, r.points, str(r.value)) for r in made.rewards] == [
        ("gift_card", 1, 100, "1.00"),
        ("unspecified", 1, 40, "0.40"),
    ]


# -- partner pools: pool redemptions by reward type, each partner's pool figures in the window -----------


def test_pool_postings_move_each_partner_s_pool_figures() -> None:
    chart = load_chart()
    contribution = classify(
        chart,
        tx(
            8,
            ("pools:travel:partners:skyway:contributed", "pools:travel:partners:skyway:funds", 300, "PTS"),
            ("pools:travel:partners:skyway:paid", "partners:skyway:settlement", 270, "USD/2"),
            ("pools:travel:sequence", "program:control:sequence", 1, "CTL"),
        ),
    )
    (key, figures), = contribution.pools.items()
    assert key == ("travel", "skyway")
    assert (figures.contributed, figures.funds, figures.awarded, figures.redeemed, figures.paid) == (300, 300, 0, 0, 270)
    assert contribution.partners["skyway"].settlement_in == 270  # the payment is also on the settlement account
    draw = classify(
        chart,
        tx(
            9,
            ("customers:bob:points:20270301", "program:points:redeemed", 10, "PTS"),
            ("pools:travel:partners:skyway:funds", "pools:travel:partners:skyway:redeemed", 8, "PTS"),
            ("pools:travel:partners:cityrail:funds", "pools:travel:partners:cityrail:redeemed", 2, "PTS"),
            reward_type="gift_card",
        ),
    )
    assert {k: (f.funds, f.redeemed, f.contributed) for k, f in draw.pools.items()} == {
        ("travel", "skyway"): (-8, 8, 0),
        ("travel", "cityrail"): (-2, 2, 0),
    }
    assert (draw.reward_type, draw.flows["redeemed"], draw.redeemed_by) == ("gift_card", 10, {"bob"})


def pool_story() -> tuple[LoyaltyProgram, FakeLedger, datetime, datetime]:
    """Pool travel funded before the window and drawn on before and in it; in the window: a contribution, a pool
    earn, pool redemptions of a catalogue reward (GIFT-25, gift_card) and of a free label, and a plain catalogue
    redemption of the same reward. Returns the programme, its ledger and the window ``(start, end]``."""

    program, ledger = fresh()
    start, end = T - timedelta(days=30), T + timedelta(days=30)
    contribute = lambda partner, key, points, at: program.execute(  # noqa: E731
        PoolContributeCommand(pool="travel", partner=partner, contribution_id=key, points=points, at=at)
    )
    contribute("skyway", "c-1", 6000, start - timedelta(days=5))
    contribute("cityrail", "c-2", 2000, start - timedelta(days=5))
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-0", points=40, at=start - timedelta(days=1)))
    contribute("skyway", "c-3", 301, T)
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-1", points=3000, at=T + timedelta(hours=1)))
    program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="pr-1", points=2250, reward="GIFT-25", at=T + timedelta(hours=2)))
    program.execute(PoolRedeemCommand(customer="m1", pool="travel", redemption_id="pr-2", points=50, reward="lounge", at=T + timedelta(hours=3)))
    program.earn(earn("m2", "o-1", "3000.00", T - timedelta(days=2)))
    program.redeem(RedeemCommand(customer="m2", redemption_id="r-1", reward="GIFT-25", at=T + timedelta(hours=4)))
    return program, ledger, start, end


def test_a_pool_redemption_of_a_catalogue_reward_counts_under_its_type() -> None:
    program, ledger, start, end = pool_story()
    made = FinanceReports(ledger, program.chart, rules=program.rules).programme(start, end)
    # the hand count: every transaction of the window with points into program:points:redeemed, by its metadata
    counted: dict[str, list[int]] = {}
    for posted in ledger.transactions(start=start + timedelta(microseconds=1), end=end + timedelta(microseconds=1)):
        into = sum(p.amount for p in posted.postings if p.asset == "PTS" and p.destination == "program:points:redeemed")
        if into:
            line = counted.setdefault(posted.metadata.get("reward_type", "unspecified"), [0, 0])
            line[0], line[1] = line[0] + 1, line[1] + into
    assert {r.reward_type: [r.redemptions, r.points] for r in made.rewards} == counted
    # the pool's GIFT-25 and the plain one are both gift cards; the pool's free label records no type
    assert counted == {"gift_card": [2, 4500], "unspecified": [1, 50]}
    assert [r.reward_type for r in made.rewards] == ["gift_card", "unspecified"]


def test_each_partner_s_pool_figures_are_its_pool_accounts_movements_in_the_window() -> None:
    program, ledger, start, end = pool_story()
    reports = FinanceReports(ledger, program.chart, rules=program.rules)
    made = reports.programme(start, end)
    before, after = reports.pool("travel", start), reports.pool("travel", end)
    for line in made.partners:
        (pool,) = line.pools
        was, now = before.member(line.partner), after.member(line.partner)
        assert pool.pool == "travel" and pool.partner == line.partner and pool.balanced
        assert (pool.contributed, pool.funds, pool.awarded, pool.redeemed, pool.paid) == (
            now.contributed - was.contributed,
            now.funds - was.funds,
            now.awarded - was.awarded,
            now.redeemed - was.redeemed,
            now.paid - was.paid,
        )
        # ...and the partner statement of the window: its pool lines are the contributions and their payments
        statement = reports.partner_statement(line.partner, start, end)
        assert pool.paid == statement.pool_movements
        assert pool.contributed == sum(s.pool_points or 0 for s in statement.lines if s.kind == "pool")
    by_key = {line.partner: line.pools[0] for line in made.partners}
    # by hand (shares 3:1): c-3 301 points at 0.0090 = 2.709 → 2.71; e-1 3000 = 2250 + 750; pr-1 2250 = 1688 + 562
    # (the tie to the larger share); pr-2 50 = 38 + 12 (37.5/12.5); c-1, c-2 and e-0 are before the window
    sky, city = by_key["skyway"], by_key["cityrail"]
    assert (sky.contributed, sky.awarded, sky.redeemed, sky.funds, str(sky.paid)) == (301, 2250, 1688 + 38, 301 - 2250 - 1726, "2.71")
    assert (city.contributed, city.awarded, city.redeemed, city.funds, str(city.paid)) == (0, 750, 562 + 12, -750 - 574, "0.00")
