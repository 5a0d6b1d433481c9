"""Expiry by kind of point on the real server (issue 16, item 2): bonus points earned with base points in the
same month expire first, at their own earlier date; back-dated spends, transfers and refunds keep the kinds."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from support.programme import programme, trial_balance_holds, usd

from loyalty_accounts.chart import BASE, BONUS, TRANSFERRED
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import EarnCommand, RedeemCommand, RefundCommand, TransferCommand
from loyalty_accounts.reports import FinanceReports
from loyalty_accounts.vocabulary.amounts import Money

NOW = datetime(2028, 1, 1, tzinfo=timezone.utc)  # the programme's clock: every operation below is in its past
APP_WEEK = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)  # app-week-2026-11: +150 points on app orders
RELEASED = datetime(2026, 12, 8, 2, 0, tzinfo=timezone.utc)  # 14 days later
BONUS_DUE = date(2027, 5, 24)  # 6 months after the order
BASE_DUE = date(2027, 11, 24)  # 365 days after it
KINDS = {"bonus": {"expiry_months": 6}, "transferred": {"expiry_months": 3}}


def at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def app_order(customer: str, order: str, amount: str = "100.00") -> EarnCommand:
    return EarnCommand(customer=customer, order_id=order, amount=usd(amount), ordered_at=APP_WEEK, category="books", channel="app")


def buckets(program, customer: str) -> dict[tuple[date | None, str], int]:
    return {(b.expiry, b.kind): b.points for b in program.balance(customer).buckets}


def test_bonus_points_expire_first_and_the_base_points_later(client: LedgerClient) -> None:
    program = programme(client, clock=lambda: NOW, point_kinds=KINDS)
    earned = program.earn(app_order("m1", "o-1")).points
    tx = client.find_by_reference("earn:o-1")
    assert tx is not None and tx.metadata["bonus_points"] == "150"
    base = earned - 150
    assert base > 0
    program.engage("m1", "review_written", "rv-1", APP_WEEK.replace(day=25))  # 50 bonus points, same month
    assert program.release(RELEASED).posted == 2
    assert buckets(program, "m1") == {(BONUS_DUE, BONUS): 150, (date(2027, 5, 25), BONUS): 50, (BASE_DUE, BASE): base}
    assert program.explain("o-1").expires == ((BASE, base, BASE_DUE), (BONUS, 150, BONUS_DUE))
    statement = FinanceReports(client, program.chart, clock=lambda: NOW).statement(
        "m1", end=at(date(2026, 12, 10)), horizon_days=400
    )
    assert [(e.expires_on, e.kind, e.points) for e in statement.expiring] == [
        (BONUS_DUE, BONUS, 150), (date(2027, 5, 25), BONUS, 50), (BASE_DUE, BASE, base)
    ]

    assert program.expire(at(date(2027, 5, 23))).posted == 0
    assert program.expire(at(BONUS_DUE)).posted == 1
    assert client.account("program:points:expired").balance("PTS") == 150
    assert program.expire(at(date(2027, 5, 25))).posted == 1
    position = program.balance("m1", pit=at(date(2027, 5, 25), 4))
    assert (position.spendable, position.due) == (base, 0)
    assert buckets(program, "m1") == {(BASE_DUE, BASE): base}
    assert program.balance("m1", pit=at(date(2027, 5, 23), 4)).spendable == 200 + base

    assert program.expire(at(date(2027, 11, 23))).posted == 0
    assert program.expire(at(BASE_DUE)).posted == 1
    assert client.account("program:points:expired").balance("PTS") == 200 + base
    assert program.balance("m1").spendable + program.balance("m1").due == 0
    trial_balance_holds(client)


def test_a_back_dated_redemption_and_a_transfer_take_the_soonest_expiry_whatever_the_kind(client: LedgerClient) -> None:
    program = programme(client, clock=lambda: NOW, point_kinds=KINDS)
    earned = program.earn(app_order("m1", "o-1")).points
    program.release(RELEASED)
    # posted first, dated later: the back-dated redemption below is planned from the balances of its own date
    program.redeem(RedeemCommand(customer="m1", redemption_id="r-late", points=10, at=at(date(2027, 2, 1))))
    program.redeem(RedeemCommand(customer="m1", redemption_id="r-early", points=100, at=at(date(2026, 12, 20))))
    assert buckets(program, "m1") == {(BONUS_DUE, BONUS): 40, (BASE_DUE, BASE): earned - 150}
    # 60 points on 2026-12-20: the bonus bucket's 40, then 20 base; received as transferred points that expire
    # 3 months after the transfer (2027-03-20, before either of their own dates)
    program.transfer(TransferCommand(customer="m1", to_customer="m2", transfer_id="t-1", points=60, at=at(date(2026, 12, 20), 4)))
    assert buckets(program, "m2") == {(date(2027, 3, 20), TRANSFERRED): 60}
    assert buckets(program, "m1") == {(BASE_DUE, BASE): earned - 150 - 20}
    assert program.expire(at(date(2027, 3, 20)), customer="m2").posted == 1
    assert program.balance("m2").spendable == 0
    assert client.account("program:points:expired").balance("PTS") == 60
    trial_balance_holds(client)


def test_a_refund_takes_back_bonus_and_base_points_from_their_own_accounts(client: LedgerClient) -> None:
    program = programme(client, clock=lambda: NOW, point_kinds=KINDS)
    earned = program.earn(app_order("m1", "o-1")).points
    base = earned - 150
    first = RefundCommand(customer="m1", order_id="o-1", refund_id="rf-1", amount=usd("40.00"), at=APP_WEEK.replace(day=26))
    reversed_first = program.refund(first).points
    tx = client.find_by_reference("refund:rf-1")
    assert tx is not None and tx.metadata["bonus_points"] == "60"  # floor(150 × 40%)
    pending = {(p.expiry, p.kind): p.points for p in program.balance("m1").pending_buckets}
    assert pending == {(BONUS_DUE, BONUS): 90, (BASE_DUE, BASE): base - (reversed_first - 60)}
    program.release(RELEASED)
    rest = RefundCommand(
        customer="m1", order_id="o-1", refund_id="rf-2", amount=Money(amount=Decimal("60.00"), currency="USD"), at=at(date(2027, 1, 5))
    )
    assert program.refund(rest).points == earned - reversed_first
    position = program.balance("m1")
    assert (position.spendable, position.pending, position.clawback) == (0, 0, 0)
    trial_balance_holds(client)
