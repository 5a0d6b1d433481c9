"""The soak model: what the intended programme (issue 10) posts, refuses or answers, on hand-made histories."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from support.programme import chart_with, rules_text

from loyalty_accounts.operations import (
    CaptureCommand,
    EarnCommand,
    EngageCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    VoidCommand,
)
from loyalty_accounts.rules import parse_rules
from loyalty_accounts.testing.book import Entry, Leg
from loyalty_accounts.testing.model import Nothing, Post, Programme, Refuse
from loyalty_accounts.vocabulary.amounts import Money

T = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
NOW = T + timedelta(days=30)
EXPIRY = date(2027, 6, 1)


@pytest.fixture
def model() -> Programme:
    chart = chart_with()
    return Programme(chart, parse_rules(rules_text(), source="rules.yaml", chart=chart))


def credit(model: Programme, id: int, customer: str, points: int, at: datetime, expiry: date | None = EXPIRY) -> Entry:
    """Points straight into a bucket (as an adjust credit would), applied to the model."""

    e = Entry(id, at, (Leg(model.chart.adjustments(), model.chart.bucket(customer, expiry), "PTS", points),))
    model.apply(e, None)
    return e


def spend(model: Programme, id: int, customer: str, points: int, at: datetime, to: str) -> Entry:
    return Entry(id, at, (Leg(model.chart.bucket(customer, EXPIRY), to, "PTS", points),))


def test_a_redeem_may_not_use_points_dated_after_it(model: Programme) -> None:
    credit(model, 1, "c1", 100, T + timedelta(days=1))
    early = RedeemCommand(customer="c1", redemption_id="r1", points=50, at=T)
    decision = model.decide(early, NOW)
    assert isinstance(decision, Refuse) and decision.kinds == {"funds"}
    later = RedeemCommand(customer="c1", redemption_id="r2", points=50, at=T + timedelta(days=2))
    decision = model.decide(later, NOW)
    assert isinstance(decision, Post)
    assert decision.check(spend(model, 2, "c1", 50, later.at, model.chart.redeemed())) == []
    # The wrong total, or the wrong destination, is reported.
    assert decision.check(spend(model, 2, "c1", 40, later.at, model.chart.redeemed()))
    assert decision.check(spend(model, 2, "c1", 50, later.at, model.chart.converted()))


def test_a_back_dated_spend_is_bounded_by_what_later_spends_left(model: Programme) -> None:
    credit(model, 1, "c1", 100, T)
    model.apply(spend(model, 2, "c1", 70, T + timedelta(days=10), model.chart.redeemed()), None)
    decision = model.decide(RedeemCommand(customer="c1", redemption_id="r", points=31, at=T + timedelta(days=5)), NOW)
    assert isinstance(decision, Refuse)
    assert isinstance(model.decide(RedeemCommand(customer="c1", redemption_id="r", points=30, at=T + timedelta(days=5)), NOW), Post)


def test_an_unknown_customer_may_be_refused_as_unknown(model: Programme) -> None:
    decision = model.decide(RedeemCommand(customer="nobody", redemption_id="r", points=1, at=T), NOW)
    assert isinstance(decision, Refuse) and decision.kinds == {"funds", "unknown"}


def test_a_write_dated_beyond_the_skew_is_refused(model: Programme) -> None:
    credit(model, 1, "c1", 100, T)
    decision = model.decide(RedeemCommand(customer="c1", redemption_id="r", points=1, at=NOW + timedelta(hours=1)), NOW)
    assert isinstance(decision, Refuse) and "refused" in decision.kinds
    assert isinstance(model.decide(RedeemCommand(customer="c1", redemption_id="r", points=1, at=NOW + timedelta(minutes=1)), NOW), Post)


def test_engagement_limits_per_customer(model: Programme) -> None:
    sign_up = EngageCommand(customer="c1", event="sign_up", key="k1", at=T)
    decision = model.decide(sign_up, NOW)
    assert isinstance(decision, Post)
    ch = model.chart
    award = Entry(1, T, (
        Leg(ch.issued_shard("c1"), ch.bucket("c1", EXPIRY), "PTS", 500),
        Leg(ch.engagement_counter("c1", "sign_up"), ch.engagement_awarded("sign_up"), "AWARDS", 1),
    ))
    assert decision.check(award) == []
    model.apply(award, sign_up)
    again = model.decide(EngageCommand(customer="c1", event="sign_up", key="k2", at=T), NOW)
    assert isinstance(again, Refuse) and again.kinds == {"limit"}


def test_an_earn_repays_debt_only_as_far_as_the_clawback_stays_at_or_below_zero(model: Programme) -> None:
    ch = model.chart
    # A debt of 50 recorded on day 10.
    model.apply(Entry(1, T + timedelta(days=10), (Leg(ch.clawback("c1"), ch.issued_shard("c1"), "PTS", 50),)), None)
    assert model.debt("c1", T + timedelta(days=11)) == 50
    assert model.debt("c1", T) == 0  # repaying it on day 0 would make the account positive until day 10
    order = EarnCommand(customer="c1", order_id="o1", amount=Money(amount=Decimal("30.00"), currency="USD"),
                        ordered_at=T + timedelta(days=11))
    decision = model.decide(order, NOW)
    assert isinstance(decision, Post)
    day = date(2026, 6, 12)
    posted = Entry(2, order.ordered_at, (
        Leg(ch.issued_shard("c1"), ch.clawback("c1"), "PTS", 30),
        Leg(ch.tiers_qualifying(), ch.qualifying("c1", day), "QPTS", 30),
    ))
    assert decision.check(posted) == []
    # Putting the 30 points in the pending account while a debt is owed is what the model refuses.
    wrong = Entry(2, order.ordered_at, (
        Leg(ch.issued_shard("c1"), ch.pending("c1", date(2026, 6, 26), date(2027, 6, 12)), "PTS", 30),
        Leg(ch.tiers_qualifying(), ch.qualifying("c1", day), "QPTS", 30),
    ))
    assert decision.check(wrong)


def test_capture_and_void_exclude_each_other(model: Programme) -> None:
    ch = model.chart
    credit(model, 1, "c1", 100, T)
    hold = HoldCommand(customer="c1", hold_id="h1", points=60, at=T + timedelta(minutes=1))
    held = spend(model, 2, "c1", 60, hold.at, ch.hold("c1", "h1"))
    model.apply(held, hold)
    lapsed = CaptureCommand(customer="c1", hold_id="h1", points=10, at=hold.at + timedelta(minutes=30))
    assert isinstance(model.decide(lapsed, NOW), Refuse)
    capture = CaptureCommand(customer="c1", hold_id="h1", points=45, at=hold.at + timedelta(minutes=5))
    decision = model.decide(capture, NOW)
    assert isinstance(decision, Post)
    captured = Entry(3, capture.at, (Leg(ch.hold("c1", "h1"), ch.redeemed(), "PTS", 45),
                                     Leg(ch.hold("c1", "h1"), ch.bucket("c1", EXPIRY), "PTS", 15)))
    assert decision.check(captured) == []
    model.apply(captured, capture)
    void = model.decide(VoidCommand(customer="c1", hold_id="h1"), NOW)
    assert isinstance(void, Refuse) and void.kinds == {"refused"}
    unknown = model.decide(VoidCommand(customer="c1", hold_id="h2"), NOW)
    assert isinstance(unknown, Refuse) and unknown.kinds == {"unknown"}


def test_refunds_never_before_the_order_nor_beyond_its_amount(model: Programme) -> None:
    ch = model.chart
    order = EarnCommand(customer="c1", order_id="o1", amount=Money(amount=Decimal("100.00"), currency="USD"), ordered_at=T)
    decision = model.decide(order, NOW)
    assert isinstance(decision, Post)
    day = date(2026, 6, 1)
    earned = Entry(1, T, (Leg(ch.issued_shard("c1"), ch.pending("c1", date(2026, 6, 15), EXPIRY), "PTS", 100),
                          Leg(ch.tiers_qualifying(), ch.qualifying("c1", day), "QPTS", 100)))
    assert decision.check(earned) == []
    model.apply(earned, order)

    def refund(amount: str, at: datetime) -> RefundCommand:
        return RefundCommand(customer="c1", order_id="o1", refund_id="rf", amount=Money(amount=Decimal(amount), currency="USD"), at=at)

    before = model.decide(refund("10.00", T - timedelta(days=1)), NOW)
    assert isinstance(before, Refuse)
    too_much = model.decide(refund("100.01", T + timedelta(days=1)), NOW)
    assert isinstance(too_much, Refuse) and too_much.kinds == {"refused"}
    assert isinstance(model.decide(refund("0.50", T + timedelta(days=1)), NOW), Nothing)
    half_refund = refund("50.50", T + timedelta(days=1))
    half = model.decide(half_refund, NOW)
    assert isinstance(half, Post)
    reversed_ = Entry(2, T + timedelta(days=1), (
        Leg(ch.pending("c1", date(2026, 6, 15), EXPIRY), ch.issued_shard("c1"), "PTS", 50),
        Leg(ch.qualifying("c1", day), ch.tiers_qualifying(), "QPTS", 50),
    ), metadata={"refunded_total": "50.50"})
    assert half.check(reversed_) == []
    model.apply(reversed_, half_refund)
    second = model.decide(refund("50.50", T + timedelta(days=2)), NOW)
    assert isinstance(second, Refuse)  # 101.00 in all on a 100.00 order


def test_a_conversion_buys_whole_money_units_only(model: Programme) -> None:
    from loyalty_accounts.operations import ConvertCommand

    credit(model, 1, "c1", 500, T)
    odd = model.decide(ConvertCommand(customer="c1", conversion_id="cv", points=150, at=T), NOW)
    assert isinstance(odd, Refuse) and odd.kinds == {"invalid"}
    whole = model.decide(ConvertCommand(customer="c1", conversion_id="cv", points=200, at=T), NOW)
    assert isinstance(whole, Post)
    ch = model.chart
    converted = Entry(2, T, (Leg(ch.bucket("c1", EXPIRY), ch.converted(), "PTS", 200),
                             Leg(ch.credit_issued(), ch.credit("c1"), "USD/2", 200)))
    assert whole.check(converted) == []


def test_a_release_is_due_on_its_date_and_moves_at_most_what_is_pending(model: Programme) -> None:
    ch = model.chart
    pending = ch.pending("c1", date(2026, 6, 15), EXPIRY)
    model.apply(Entry(1, T, (Leg(ch.issued_shard("c1"), pending, "PTS", 40),)), None)

    def release(points: int, at: datetime) -> Entry:
        return Entry(2, at, (Leg(pending, ch.bucket("c1", EXPIRY), "PTS", points),), {"operation": "release"})

    assert model.check_sweep(release(40, T + timedelta(days=14)), "release") == []
    assert model.check_sweep(release(40, T + timedelta(days=13)), "release")  # before its date
    assert model.check_sweep(release(41, T + timedelta(days=14)), "release")  # more than pending
    assert model.check_sweep(release(0, T + timedelta(days=14)), "release") == []  # emptied by a concurrent sweep
