"""Expiry by kind of point: the chart's periods, the bucket addresses, and how earn, engage, transfer, FIFO,
refund and the breakage cohorts keep the kinds apart (issue 16, item 2)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import yaml
from opsupport import priced

from loyalty_accounts.chart import BASE, BONUS, TRANSFERRED, Chart, parse_expiry_segment
from loyalty_accounts.chart.point_kinds import add_months
from loyalty_accounts.errors import ChartError, InvalidCommand
from loyalty_accounts.operations import BucketBalance, EarnCommand, EarnRecord, RefundCommand, TransferCommand, earn, refund, transfer
from loyalty_accounts.operations.fifo import allocate, fifo_order, give_back
from loyalty_accounts.reports.breakage import bucket_cohort, chart_closed_cohorts, closed_cohorts
from loyalty_accounts.vocabulary.amounts import Money

from support.programme import ROOT

APP_WEEK = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)  # app-week-2026-11 adds 150 points to app orders


def listed(plan, name: str) -> list[str]:
    """A list var of a plan, as the rendered script flattens it (``name_0``, ``name_1``...)."""

    return [plan.vars[f"{name}_{k}"] for k in range(sum(1 for key in plan.vars if key.startswith(f"{name}_")))]


def variant(**policies: object) -> Chart:
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"].update(policies)
    return Chart.from_yaml(yaml.safe_dump(data), source="variant.yaml")


KINDS = {"bonus": {"expiry_months": 6}, "transferred": {"expiry_months": 3}}


@pytest.fixture(scope="session")
def chart() -> Chart:
    """The repository's chart with bonus points kept 6 months and transferred points 3 months."""

    return variant(point_kinds=KINDS)


def legacy() -> Chart:
    """A chart from before kinds: one expiry_days, no point_kinds, the old expiry pattern."""

    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"].pop("point_kinds", None)
    data["segments"]["expiry"]["pattern"] = "^([0-9]{8}|noexpiry)$"
    return Chart.from_yaml(yaml.safe_dump(data), source="legacy.yaml")


# -- the chart --------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-08-31", 6, "2027-02-28"),  # shorter month: its last day
        ("2027-08-31", 6, "2028-02-29"),  # leap year
        ("2026-01-31", 1, "2026-02-28"),
        ("2026-01-15", 12, "2027-01-15"),
        ("2027-02-28", -6, "2026-08-28"),
        ("2026-11-30", 3, "2027-02-28"),
    ],
)
def test_calendar_months_clamp_to_the_end_of_a_shorter_month(day, months, expected):
    assert add_months(date.fromisoformat(day), months) == date.fromisoformat(expected)


def test_each_kind_expires_after_its_own_period_and_base_addresses_are_unchanged(chart):
    day = date(2026, 8, 31)
    assert chart.expiry_for(day) == date(2027, 8, 31)  # 365 days
    assert chart.expiry_for(day, BONUS) == date(2027, 2, 28)  # 6 months, clamped
    assert chart.expiry_for(day, TRANSFERRED) == date(2026, 11, 30)  # 3 months
    assert chart.bucket("c42", date(2027, 8, 31)) == "customers:c42:points:20270831"
    assert chart.bucket("c42", date(2027, 2, 28), BONUS) == "customers:c42:points:20270228-bonus"
    assert chart.pending("c42", date(2026, 9, 14), date(2026, 11, 30), TRANSFERRED) == (
        "customers:c42:pending:20260914:20261130-transferred"
    )
    assert chart.bucket_of("customers:c42:points:20270228-bonus") == ("c42", date(2027, 2, 28), BONUS)
    assert chart.bucket_of("customers:c42:points:noexpiry") == ("c42", None, BASE)


def test_a_chart_with_only_expiry_days_keeps_every_kind_with_base_points():
    old = legacy()
    day = date(2026, 8, 31)
    assert old.point_kinds == (BASE,)
    assert old.expiry_for(day, BONUS) == old.expiry_for(day) == date(2027, 8, 31)
    assert old.bucket("c42", date(2027, 8, 31), BONUS) == "customers:c42:points:20270831"
    assert old.transferred(date(2027, 1, 1), BASE, day) == (date(2027, 1, 1), BASE)


def test_the_expiry_pattern_must_accept_every_declared_kind():
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"]["point_kinds"] = KINDS
    data["segments"]["expiry"]["pattern"] = "^([0-9]{8}(-bonus)?|noexpiry)$"
    with pytest.raises(ChartError, match="20270101-transferred"):
        Chart.from_yaml(yaml.safe_dump(data), source="bad.yaml")


def test_a_kind_takes_days_or_months_not_both():
    with pytest.raises(ChartError, match="not both"):
        variant(point_kinds={"bonus": {"expiry_days": 90, "expiry_months": 3}})


def test_an_expiry_segment_names_a_known_kind():
    assert parse_expiry_segment("20270101-bonus") == (date(2027, 1, 1), BONUS)
    with pytest.raises(InvalidCommand):
        parse_expiry_segment("20270101-gold")
    with pytest.raises(InvalidCommand):
        parse_expiry_segment("20270101-base")


def test_a_transfer_never_extends_a_points_life(chart):
    day = date(2026, 6, 1)  # + 3 months = 2026-09-01
    assert chart.transferred(date(2027, 6, 1), BASE, day) == (date(2026, 9, 1), TRANSFERRED)
    assert chart.transferred(date(2026, 7, 1), BONUS, day) == (date(2026, 7, 1), TRANSFERRED)
    assert chart.transferred(None, BASE, day) == (date(2026, 9, 1), TRANSFERRED)


# -- FIFO -------------------------------------------------------------------


def test_fifo_takes_the_soonest_expiry_whatever_the_kind_and_gives_back_the_latest():
    held = [
        BucketBalance(expiry=date(2027, 6, 1), points=100),
        BucketBalance(expiry=date(2026, 12, 1), points=30, kind=BONUS),
        BucketBalance(expiry=date(2026, 12, 1), points=10),
        BucketBalance(expiry=date(2026, 9, 1), points=5, kind=TRANSFERRED),
    ]
    taken = allocate(fifo_order(held), 50)
    assert [(a.expiry, a.kind, a.points) for a in taken] == [
        (date(2026, 9, 1), TRANSFERRED, 5),
        (date(2026, 12, 1), BONUS, 30),
        (date(2026, 12, 1), BASE, 10),
        (date(2027, 6, 1), BASE, 5),
    ]
    back = give_back(taken, 12)
    assert [(a.expiry, a.kind, a.points) for a in back] == [(date(2027, 6, 1), BASE, 5), (date(2026, 12, 1), BASE, 7)]


def test_the_same_bucket_listed_twice_is_refused_but_two_kinds_on_one_date_are_two_buckets():
    fifo_order([BucketBalance(expiry=date(2026, 12, 1), points=1), BucketBalance(expiry=date(2026, 12, 1), points=1, kind=BONUS)])
    with pytest.raises(InvalidCommand, match="20261201-bonus"):
        fifo_order([BucketBalance(expiry=date(2026, 12, 1), points=1, kind=BONUS)] * 2)


# -- earn, transfer ------------------------------------------------------------


def app_order(amount: str = "100.00") -> EarnCommand:
    return EarnCommand(
        customer="c42", order_id="o-app", amount=Money(amount=Decimal(amount), currency="USD"), ordered_at=APP_WEEK,
        category="books", channel="app",
    )


def test_an_earn_puts_its_campaign_bonus_in_a_bonus_pending_account(chart, catalogue, rules):
    cmd = app_order()
    breakdown = priced(rules, cmd)
    assert breakdown.bonus_points == 150  # the campaign's part; the rest is the order's own price
    plan = earn.plan(cmd, chart, catalogue, breakdown=breakdown)
    assert plan is not None
    assert plan.vars["bonus"] == "PTS 150"
    assert plan.vars["bonus_destination"] == "customers:c42:pending:20261208:20270524-bonus"
    assert plan.vars["destination"] == "customers:c42:pending:20261208:20271124"
    assert plan.metadata["bonus_points"] == "150" and plan.metadata["bonus_expires_at"] == "2027-05-24"
    record = EarnRecord.from_metadata(plan.metadata)
    assert (record.bonus_points, record.bonus_expires_on) == (150, date(2027, 5, 24))


def test_a_debt_is_repaid_from_the_bonus_part_first(chart, catalogue, rules):
    cmd = app_order()
    plan = earn.plan(cmd, chart, catalogue, breakdown=priced(rules, cmd), clawback_balance=-100)
    assert plan is not None
    assert (plan.vars["debt"], plan.vars["bonus"]) == ("PTS 100", "PTS 50")


def test_without_a_bonus_kind_the_campaign_points_stay_with_the_order(catalogue, rules):
    old = legacy()
    cmd = app_order()
    plan = earn.plan(cmd, old, catalogue, breakdown=priced(rules, cmd))
    assert plan is not None
    assert plan.vars["bonus"] == "PTS 0" and plan.vars["bonus_destination"] == plan.vars["destination"]
    assert "bonus_points" not in plan.metadata


def test_a_transfer_lands_in_the_receivers_transferred_buckets(chart, catalogue):
    at = datetime(2026, 6, 1, 10, tzinfo=timezone.utc)
    cmd = TransferCommand(customer="c42", to_customer="c77", transfer_id="t-3", points=70, at=at)
    held = [BucketBalance(expiry=date(2026, 7, 1), points=50, kind=BONUS), BucketBalance(expiry=date(2027, 3, 31), points=40)]
    plan = transfer.plan(cmd, chart, catalogue, held)
    assert listed(plan, "from_bucket") == ["customers:c42:points:20260701-bonus", "customers:c42:points:20270331"]
    assert listed(plan, "to_bucket") == ["customers:c77:points:20260701-transferred", "customers:c77:points:20260901-transferred"]
    assert listed(plan, "moved") == ["PTS 50", "PTS 20"]


# -- refund ------------------------------------------------------------------


def earned(bonus: int = 150) -> EarnRecord:
    return EarnRecord(
        customer="c42", order_id="o-app", amount=Money(amount=Decimal("100.00"), currency="USD"), points=250,
        ordered_at=APP_WEEK, release_on=date(2026, 12, 8), expires_on=date(2027, 11, 24), qualifying_on=date(2026, 11, 24),
        bonus_points=bonus, bonus_expires_on=date(2027, 5, 24),
    )


def test_a_refund_takes_each_kind_back_from_the_orders_accounts_of_that_kind(chart, catalogue):
    cmd = RefundCommand(customer="c42", order_id="o-app", refund_id="rf-1", amount=Money(amount=Decimal("40.00"), currency="USD"),
                        at=datetime(2026, 12, 20, tzinfo=timezone.utc))
    held = [
        BucketBalance(expiry=date(2027, 5, 24), points=150, kind=BONUS),
        BucketBalance(expiry=date(2027, 11, 24), points=100),
        BucketBalance(expiry=date(2027, 1, 10), points=70),  # an older base bucket: FIFO alone would take it first
    ]
    plan = refund.plan(cmd, chart, catalogue, earn=earned(), previous_refunds=(), buckets=held)
    assert plan is not None
    # 40% of 250 = 100 points: 60 of the 150 bonus, 40 of the base part; each from its kind, soonest first.
    assert plan.metadata["points"] == "100" and plan.metadata["bonus_points"] == "60"
    assert list(zip(listed(plan, "sources"), listed(plan, "taken"))) == [
        ("customers:c42:points:20270524-bonus", "PTS 60"),
        ("customers:c42:points:20270110", "PTS 40"),
    ]
    # the rest of the order: the earlier refund's 60 bonus points count, so the whole bonus is reversed once
    rest = cmd.model_copy(update={"refund_id": "rf-2", "amount": Money(amount=Decimal("60.00"), currency="USD")})
    before = refund.RefundRecord(refund_id="rf-1", amount=cmd.amount, points=100, bonus_points=60)
    plan2 = refund.plan(rest, chart, catalogue, earn=earned(), previous_refunds=(before,), buckets=held, pending=0)
    assert plan2 is not None and plan2.metadata["points"] == "150" and plan2.metadata["bonus_points"] == "90"


def test_a_refund_in_the_chargeback_window_empties_both_pending_accounts(chart, catalogue):
    cmd = RefundCommand(customer="c42", order_id="o-app", refund_id="rf-1", amount=Money(amount=Decimal("100.00"), currency="USD"),
                        at=datetime(2026, 11, 25, tzinfo=timezone.utc))
    plan = refund.plan(cmd, chart, catalogue, earn=earned(), previous_refunds=(), buckets=[], pending=100, bonus_pending=150)
    assert plan is not None
    assert dict(zip(listed(plan, "sources"), listed(plan, "taken"))) == {
        "customers:c42:pending:20261208:20270524-bonus": "PTS 150",
        "customers:c42:pending:20261208:20271124": "PTS 100",
    }


# -- breakage cohorts ------------------------------------------------------------


def test_a_buckets_cohort_is_its_expiry_less_its_kinds_period(chart):
    assert bucket_cohort(chart, date(2027, 11, 24)) == date(2026, 11, 1)
    assert bucket_cohort(chart, date(2027, 5, 24), BONUS) == date(2026, 11, 1)
    assert bucket_cohort(chart, date(2027, 2, 28), BONUS) == date(2026, 8, 1)  # earned 28-31 August


def test_a_cohort_closes_when_its_longest_lived_kind_is_due(chart):
    # base points live longest (365 days): the same months as a chart of base points only
    assert chart_closed_cohorts(chart, date(2027, 12, 1), 3) == closed_cohorts(date(2027, 12, 1), 365, 3)
    short_base = variant(expiry_days=30, point_kinds={"bonus": {"expiry_months": 6}})
    assert variant().point_kinds == (BASE,)  # the repository's chart keeps every point as base
    assert chart_closed_cohorts(short_base, date(2027, 12, 1), 1) == (date(2027, 5, 1),)  # May's bonus due 30 Nov
