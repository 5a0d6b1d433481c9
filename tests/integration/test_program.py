"""Every operation on the real Formance Ledger, with the trial balance checked after each test.

The stories mirror tests/unit/test_program.py; here the ledger's own overdraft
check, unique references and idempotency keys are what is being relied on.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest
from support.programme import T0, days, programme, story_clock, usd

from loyalty_accounts.demo import CUSTOMERS, END, run_demo
from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    LedgerRejected,
    OperationRefused,
    UnknownEntity,
)
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import (
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.types import TransactionPlan


def earn(customer: str, order: str, amount: str, at=T0) -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=at)


def test_earn_release_redeem_fifo(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=14, expiry_days=365)
    program.earn(earn("c1", "o1", "50", at=T0))
    program.earn(earn("c1", "o2", "40", at=T0 + days(30)))
    assert program.balance("c1").pending == 90
    assert program.release(T0 + days(44)).posted == 2
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=70, at=T0 + days(45)))
    assert {b.expiry: b.points for b in program.balance("c1").buckets} == {date(2027, 2, 9): 20}
    with pytest.raises(InsufficientPoints):
        program.redeem(RedeemCommand(customer="c1", redemption_id="r2", points=21, at=T0 + days(45)))
    assert client.find_by_reference("redeem:r2") is None


def test_the_server_rejects_a_posting_outside_the_chart(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    stray = TransactionPlan(
        operation="manual",
        template="manual",
        script="send [PTS 1] (\n  source = @world\n  destination = @nowhere:special\n)\n",
        vars={},
        reference="manual:1",
        command_hash="x",
    )
    with pytest.raises(LedgerRejected):
        client.post(stray, schema_version=program.schema_version)
    assert list(client.transactions()) == []


def test_hold_capture_void_and_their_replays(client: LedgerClient) -> None:
    # The void is dated by the server when it is made, and the second hold is dated then: the buckets must
    # still be spendable on whatever day the suite runs, so they expire a century after the story.
    program = programme(client, pending_days=0, expiry_days=36500)
    program.earn(earn("c1", "o1", "30", at=T0))
    program.earn(earn("c1", "o2", "30", at=T0 + days(1)))
    before = program.balance("c1").buckets
    program.hold(HoldCommand(customer="c1", hold_id="h1", points=40, at=T0 + days(2)))
    voided = program.void("c1", "h1")
    assert voided.points == 40
    assert program.balance("c1").buckets == before
    assert program.void("c1", "h1").replayed
    # A void is a revert dated when it is made: h1 kept its 40 points until then, so a
    # hold of 50 fits only from the void's instant on (dated earlier it is refused).
    returned = voided.transactions[0].timestamp
    with pytest.raises(InsufficientPoints, match="has 20 spendable points; 50 needed"):
        program.hold(HoldCommand(customer="c1", hold_id="h2", points=50, at=T0 + days(2)))
    program.hold(HoldCommand(customer="c1", hold_id="h2", points=50, at=returned))
    program.capture(CaptureCommand(customer="c1", hold_id="h2", points=35, at=returned))
    again = program.capture(CaptureCommand(customer="c1", hold_id="h2", points=35, at=returned))
    assert again.replayed
    assert program.balance("c1").spendable == 25
    with pytest.raises(OperationRefused, match="was captured"):
        program.void("c1", "h2")


def test_expire_twice_posts_once(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0, expiry_days=30)
    program.earn(earn("c1", "o1", "10", at=T0))
    program.earn(earn("c2", "o2", "20", at=T0))
    assert program.expire(T0 + days(30)).posted == 2
    assert program.expire(T0 + days(30)).posted == 0
    assert client.account("program:points:expired").balance("PTS") == 30


def test_transfer_exchange_convert_refund(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0, refund_shortfall="claw_back")
    program.earn(earn("a", "o1", "1000"))
    program.transfer(TransferCommand(customer="a", to_customer="b", transfer_id="t1", points=100, at=T0))
    program.exchange_out(ExchangeOutCommand(customer="a", exchange_id="x1", partner="skyway", partner_points=100, at=T0))
    assert client.account("partners:skyway:settlement").balance("USD/2") == -125
    program.convert(ConvertCommand(customer="a", conversion_id="v1", points=600, at=T0))
    assert str(program.balance("a").credit) == "6.00"
    program.refund(RefundCommand(customer="a", order_id="o1", refund_id="f1", amount=usd("500"), at=T0))
    bal = program.balance("a")
    assert (bal.spendable, bal.clawback) == (0, -500)
    with pytest.raises(UnknownEntity):
        program.refund(RefundCommand(customer="a", order_id="nope", refund_id="f2", amount=usd("1"), at=T0))


def test_parallel_redeems_of_the_whole_balance_spend_it_once(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100"))

    def attempt(i: int) -> bool:
        try:
            program.redeem(RedeemCommand(customer="c1", redemption_id=f"r{i}", points=100, at=T0))
            return True
        except InsufficientPoints:
            return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count(True) == 1
    assert program.balance("c1").spendable == 0
    assert client.account("program:points:redeemed").balance("PTS") == 100


def test_racers_that_lose_a_bucket_replan_until_the_points_run_out(client: LedgerClient) -> None:
    # 16 buckets of 10 points (earns on 16 days), 16 concurrent redeems of 10: each fits at every
    # instant, but all plan on the soonest bucket first; losers re-plan on what is left. Seen with
    # three re-plans at most: a third of such redeems refused although the points were there.
    program = programme(client, clock=story_clock, pending_days=0, expiry_days=365)
    for day in range(16):
        program.earn(earn("c1", f"o{day}", "10", at=T0 + days(day)))
    assert len(program.balance("c1").buckets) == 16

    def attempt(i: int) -> str:
        try:
            program.redeem(RedeemCommand(customer="c1", redemption_id=f"r{i}", points=10, at=T0 + days(20)))
            return "ok"
        except InsufficientPoints as exc:
            return exc.message

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes == ["ok"] * 16
    assert program.balance("c1").spendable == 0
    assert client.account("program:points:redeemed").balance("PTS") == 160


def test_parallel_holds_and_conversions_never_overspend(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "500"))

    def hold(i: int) -> int:
        try:
            program.hold(HoldCommand(customer="c1", hold_id=f"h{i}", points=100, at=T0))
            return 100
        except InsufficientPoints:
            return 0

    def convert(i: int) -> int:
        try:
            program.convert(ConvertCommand(customer="c1", conversion_id=f"v{i}", points=100, at=T0))
            return 100
        except InsufficientPoints:
            return 0

    with ThreadPoolExecutor(max_workers=12) as pool:
        spent = sum(pool.map(lambda i: hold(i) if i % 2 else convert(i), range(12)))
    assert spent == 500
    bal = program.balance("c1")
    assert bal.spendable == 0 and bal.held + client.account("program:points:converted").balance("PTS") == 500


def test_parallel_identical_earns_make_one_transaction(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: program.earn(earn("c1", "o1", "42")), range(10)))
    assert len({r.transactions[0].id for r in results}) == 1
    # one earn, beside the openings of c1's sequence counter and the closed-period mark
    operations = sorted(tx.metadata["operation"] for tx in client.transactions())
    assert operations == ["earn", "open_control", "open_control"]
    assert program.balance("c1").spendable == 42
    with pytest.raises(DuplicateOperation):
        program.earn(earn("c1", "o1", "43"))


def test_demo_story_on_the_real_server(client: LedgerClient) -> None:
    program = programme(client)
    run_demo(program)
    # By hand from rules.yaml 2026.12.1 (the full arithmetic is in tests/unit/cli/test_ops.py):
    #   alice: A-1001 120 − 70 captured − 30 given − 20 expired; A-1002 60 + bf-2025 120 = 180
    #   bob:   B-2001 88 × 2 + fresh-saturdays-2025-10 176 = 352; B-2002 300 + app-week-2025-11 150
    #          + bf-2025 600 = 1050; 352 + 1050 − 180 exchanged − 200 converted = 1022 (the hold is voided)
    #   carol: C-3001 5000 (silver) + C-3002 400 − 5350 redeemed − 100 refunded (50 owed);
    #          C-3003 220 × 5 × 1.25 + winter-travel-2025-26 275 = 1650 − 50 repaid = 1600
    #   dave:  sign-up 500 + D-4001 22 + 30 from alice, all expired on 2026-10-06; 80 from 40 Skyway miles
    totals = {c: program.balance(c).total for c in CUSTOMERS}
    assert totals == {"alice": 180, "bob": 1022, "carol": 1600, "dave": 80}
    assert client.account("program:points:redeemed").balance("PTS") == 70 + 5350
    assert client.account("program:points:expired").balance("PTS") == 20 + 30 + 22 + 500
    assert program.tier("carol", END).qualifying_points == 400 + 1650  # C-3001 has left the window
    # C-3003: 220 base, +880 travel ×5, +275 silver ×1.25, +275 winter-travel-2025-26 ×1.2 = 1650, as posted
    explained = program.explain("C-3003")
    assert explained.adds_up and explained.posted_points == 1650 and explained.breakdown.tier == "silver"
    # The whole story is in the past, and the server dates the void when it is made: as of now
    # the liability is the 2882 points above, those of the buckets whose expiry date has come
    # since the story ended due (alice's 20261128, bob's 20261129, carol's 20261206, dave's
    # 20270216), and the sweep of those overdue until it runs.
    reports = FinanceReports(client, program.chart, rules=program.rules)
    today = program.chart.local_date(datetime.now(timezone.utc))
    buckets = {date(2026, 11, 28): 180, date(2026, 11, 29): 1022, date(2026, 12, 6): 1600, date(2027, 2, 16): 80}
    due = sum(points for expiry, points in buckets.items() if expiry <= today)
    liability = reports.liability()
    assert liability.total_points == 180 + 1022 + 1600 + 80
    assert {line.state: line.points for line in liability.lines}["due"] == due
    before = {c.name: c.status for c in reports.reconcile().checks if c.status != "pass"}
    assert before == ({"overdue_expiry": "fail"} if due else {})
    # As of the story's end, with bob's hold still live, everything passed.
    assert reports.reconcile(END).ok
    posted = len(list(client.transactions()))
    run_demo(program)
    assert len(list(client.transactions())) == posted
    # The nightly sweep, run now (dated to the next whole second, after the void): every check
    # passes, the log chain (its revert log included) too.
    sweep_at = (datetime.now(timezone.utc) + timedelta(seconds=1)).replace(microsecond=0)
    swept = program.expire(sweep_at)
    assert swept.points == due
    while datetime.now(timezone.utc) <= sweep_at:  # reconcile as of now, once now is past the sweep's date
        time.sleep(0.05)
    after = reports.reconcile()
    assert {c.name: c.status for c in after.checks if c.status != "pass"} == {}, after.check("overdue_expiry")


def test_small_refunds_are_remembered_on_the_earn(client: LedgerClient) -> None:
    program = programme(client, clock=story_clock, pending_days=0)
    program.earn(earn("c1", "o1", "100"))  # 100 points for 100.00 USD
    first = program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f1", amount=usd("0.50"), at=T0))
    assert first.points == 0 and not first.transactions
    assert "small_refund:f1" in client.find_by_reference("earn:o1").metadata
    second = program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f2", amount=usd("0.50"), at=T0))
    assert second.points == 1
    assert program.balance("c1").spendable == 99
