"""Limits read back from metadata: histories each operation's own plans would write if every read were stale, and clean ones."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from support.finance_books import at, priced, usd
from support.report_books import ROOT

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import (
    BucketBalance,
    EarnCommand,
    EarnRecord,
    EngageCommand,
    RefundCommand,
    RefundRecord,
    earn,
    engage,
    refund,
)
from loyalty_accounts.operations.earn import order_of
from loyalty_accounts.reports.check import SHOWN
from loyalty_accounts.reports.limits import (
    check_campaign_caps,
    check_engagement_limits,
    check_order_refunds,
    check_refunds_after_orders,
)
from loyalty_accounts.rules import Rules, load_rules, quote
from loyalty_accounts.types import PostedTransaction, TransactionPlan


@pytest.fixture(scope="module")
def rules(chart: Chart) -> Rules:
    return load_rules(ROOT / "rules.yaml", chart=chart)


class History:
    """Posted transactions made from plans, numbered in the order they are added."""

    def __init__(self) -> None:
        self.txs: list[PostedTransaction] = []

    def add(self, plan: TransactionPlan | None, *, when: datetime | None = None, reverted: bool = False) -> PostedTransaction:
        assert plan is not None
        stamp = when or plan.timestamp
        assert stamp is not None
        tx = PostedTransaction(id=len(self.txs) + 1, timestamp=stamp, postings=(), metadata=plan.all_metadata(), reverted=reverted)
        self.txs.append(tx)
        return tx


def award(h: History, chart: Chart, catalogue: Catalogue, rules: Rules, event: str, key: str, when: str, **kw: bool) -> None:
    command = EngageCommand(customer="c1", event=event, key=key, at=at(when))
    h.add(engage.plan(command, chart, catalogue, rule=rules.engagement[event], rules_version=rules.version), **kw)


def test_engagement_limits_per_customer_and_per_day(chart: Chart, catalogue: Catalogue, rules: Rules) -> None:
    h = History()
    # sign_up: once per customer; awarded three times (each planned on a stale count).
    for i in range(3):
        award(h, chart, catalogue, rules, "sign_up", f"s-{i}", f"2026-06-01T10:0{i}:00")
    # app_login: once a day; twice on 06-02, once on 06-03 (fine), and a reverted extra on 06-03 (not counted).
    award(h, chart, catalogue, rules, "app_login", "l-1", "2026-06-02T08:00:00")
    award(h, chart, catalogue, rules, "app_login", "l-2", "2026-06-02T09:00:00")
    award(h, chart, catalogue, rules, "app_login", "l-3", "2026-06-03T09:00:00")
    award(h, chart, catalogue, rules, "app_login", "l-4", "2026-06-03T10:00:00", reverted=True)
    result = check_engagement_limits(rules, h.txs)
    assert result.status == "fail" and result.count == 2
    assert result.offending == (
        "customers c1 sign_up: 3 awards, at most 1 per customer; award 2 at 2026-06-01T10:01:00Z (#2)",
        "customers c1 app_login on 2026-06-02: 2 awards, at most 1 a day; award 2 at 2026-06-02T09:00:00Z (#5)",
    )
    assert result.detail.startswith("6 award(s) counted")
    clean = [h.txs[0], h.txs[3], h.txs[5], h.txs[6]]
    assert check_engagement_limits(rules, clean).status == "pass"


def test_engagement_limits_need_rules_and_list_unknown_events(chart: Chart, catalogue: Catalogue, rules: Rules) -> None:
    h = History()
    award(h, chart, catalogue, rules, "review_written", "r-1", "2026-06-01T10:00:00")
    assert check_engagement_limits(None, h.txs).status == "not_verified"
    fewer = rules.model_copy(update={"engagement": {k: v for k, v in rules.engagement.items() if k != "review_written"}})
    result = check_engagement_limits(fewer, h.txs)
    assert result.status == "pass"
    assert result.info == (f"event 'review_written' is not in rules {rules.version}: its awards are not judged",)


def app_order(chart: Chart, catalogue: Catalogue, rules: Rules, order: str, when: str, usage: int = 0) -> TransactionPlan | None:
    """A 10.00 USD app order during app-week-2026-11 (bonus 150, at most 450 per customer), priced on ``usage``."""

    command = EarnCommand(customer="c1", order_id=order, amount=usd("10.00"), ordered_at=at(when), channel="app", category="general")
    breakdown = quote(rules, order_of(command, rules), tier=rules.base_tier.name, campaign_usage={"app-week-2026-11": usage})
    return earn.plan(command, chart, catalogue, breakdown=breakdown)


def test_campaign_caps(chart: Chart, catalogue: Catalogue, rules: Rules) -> None:
    stale = History()
    for i in range(4):  # four concurrent earns, each priced as if the campaign had charged nothing yet
        stale.add(app_order(chart, catalogue, rules, f"o-{i}", f"2026-11-24T10:0{i}:00"))
    result = check_campaign_caps(rules, stale.txs)
    assert result.status == "fail" and result.count == 1
    assert result.offending == (
        "customers c1 campaign app-week-2026-11: 600 points charged, cap 450 per customer; passed at 2026-11-24T10:03:00Z (#4)",
    )
    serial = History()
    for i in range(4):  # one by one: the fourth finds 450 used and gets no bonus
        serial.add(app_order(chart, catalogue, rules, f"o-{i}", f"2026-11-24T10:0{i}:00", usage=min(150 * i, 450)))
    result = check_campaign_caps(rules, serial.txs)
    assert result.status == "pass" and "1 customer-campaign usage(s)" in result.detail
    assert check_campaign_caps(None, stale.txs).status == "not_verified"


def order_history(chart: Chart, catalogue: Catalogue, *refunds: tuple[str, str, str]) -> History:
    """Order o-1 of 100.00 USD on 2026-03-01, then refunds (id, amount, instant) each planned with no earlier refund seen."""

    h = History()
    command = EarnCommand(customer="c1", order_id="o-1", amount=usd("100.00"), ordered_at=at("2026-03-01T10:00:00"))
    earned = h.add(earn.plan(command, chart, catalogue, breakdown=priced("100.00")))
    record = EarnRecord.from_metadata(earned.metadata)
    buckets = [BucketBalance(expiry=date(2027, 3, 1), points=100)]
    for refund_id, amount, when in refunds:
        # Planned at the order's own instant at the earliest, then dated as given: the plan itself
        # refuses a refund dated before its order, and this history is the ledger's, whatever wrote it.
        planned_at = max(at(when), command.ordered_at)
        command_r = RefundCommand(customer="c1", order_id="o-1", refund_id=refund_id, amount=usd(amount), at=planned_at)
        plan = refund.plan(command_r, chart, catalogue, earn=record, previous_refunds=[], buckets=buckets)
        h.add(plan.model_copy(update={"timestamp": at(when)}) if plan is not None else plan)
    return h


def test_refunds_beyond_the_order_amount(chart: Chart, catalogue: Catalogue) -> None:
    h = order_history(chart, catalogue, ("rf-1", "50.50", "2026-03-05T10:00:00"), ("rf-2", "50.50", "2026-03-05T10:00:01"))
    result = check_order_refunds(h.txs)
    assert result.status == "fail" and result.count == 1
    assert result.offending == ("order o-1 of customers c1: 101.00 USD refunded of 100.00 USD",)
    assert result.detail == "2 refund(s) of 1 order(s) summed against 1 earned order(s)"
    other = h.txs[0].model_copy(update={"id": 4, "metadata": {**h.txs[0].metadata, "order_id": "o-2"}})
    assert check_order_refunds([*h.txs, other]).detail == "2 refund(s) of 1 order(s) summed against 2 earned order(s)"
    fine = order_history(chart, catalogue, ("rf-1", "50.50", "2026-03-05T10:00:00"), ("rf-2", "49.50", "2026-03-06T10:00:00"))
    assert check_order_refunds(fine.txs).status == "pass"


def test_small_refunds_noted_on_the_earn_count(chart: Chart, catalogue: Catalogue) -> None:
    h = order_history(chart, catalogue, ("rf-1", "99.99", "2026-03-05T10:00:00"))
    note = refund.small_refund_note(
        RefundCommand(customer="c1", order_id="o-1", refund_id="rf-s", amount=usd("0.02"), at=at("2026-03-06T10:00:00"))
    )
    earned = h.txs[0]
    h.txs[0] = earned.model_copy(update={"metadata": {**earned.metadata, **note}})
    result = check_order_refunds(h.txs)
    assert result.offending == ("order o-1 of customers c1: 100.01 USD refunded of 100.00 USD",)
    assert result.detail.startswith("2 refund(s)")


def test_refunds_of_an_unknown_order_or_in_another_currency(chart: Chart, catalogue: Catalogue) -> None:
    h = order_history(chart, catalogue, ("rf-1", "10.00", "2026-03-05T10:00:00"))
    odd = h.txs[1].metadata
    h.txs.append(h.txs[1].model_copy(update={"id": 3, "metadata": {**odd, "refund_id": "rf-9", "order_id": "o-404"}}))
    h.txs.append(h.txs[1].model_copy(update={"id": 4, "metadata": {**odd, "refund_id": "rf-8", "currency": "EUR"}}))
    result = check_order_refunds(h.txs)
    assert result.offending == (
        "order o-1: refund rf-8 (#4, 2026-03-05T10:00:00Z) is in EUR, the order in USD",
        "order o-404: 1 refund(s) of an order with no earn in this ledger",
    )
    assert RefundRecord.from_metadata(h.txs[2].metadata).amount.amount == Decimal("10")


def test_refunds_dated_before_their_order(chart: Chart, catalogue: Catalogue) -> None:
    h = order_history(chart, catalogue, ("rf-1", "10.00", "2026-02-20T10:00:00"), ("rf-2", "10.00", "2026-03-02T10:00:00"))
    result = check_refunds_after_orders(h.txs)
    assert result.status == "fail" and result.count == 1
    assert result.offending == (
        "refund rf-1 (#2) at 2026-02-20T10:00:00Z is dated before order o-1 (earn #1 at 2026-03-01T10:00:00Z)",
    )
    assert check_refunds_after_orders(h.txs[:1] + h.txs[2:]).status == "pass"


def test_many_breaks_are_counted_beyond_those_shown(chart: Chart, catalogue: Catalogue, rules: Rules) -> None:
    h = History()
    for i in range(SHOWN + 3):  # two app logins every day for eight days
        award(h, chart, catalogue, rules, "app_login", f"a-{i}", f"2026-06-{i + 1:02d}T08:00:00")
        award(h, chart, catalogue, rules, "app_login", f"b-{i}", f"2026-06-{i + 1:02d}T09:00:00")
    result = check_engagement_limits(rules, h.txs)
    assert (result.count, len(result.offending)) == (SHOWN + 3, SHOWN)
    assert result.offending[0].startswith("customers c1 app_login on 2026-06-01:")


def test_campaign_caps_with_the_chart_check_the_usage_accounts(chart: Chart, catalogue: Catalogue, rules: Rules) -> None:
    from loyalty_accounts.types import Posting

    serial = History()
    for i in range(3):
        serial.add(app_order(chart, catalogue, rules, f"o-{i}", f"2026-11-24T10:0{i}:00", usage=150 * i))
    usage, counterpart = chart.campaign_usage("c1", "app-week-2026-11"), chart.campaign_charged("app-week-2026-11")

    def credit(points: int) -> PostedTransaction:
        posting = Posting(source=counterpart, destination=usage, amount=points, asset=chart.campaign_asset)
        return PostedTransaction(id=99, timestamp=at("2026-11-24T11:00:00"), postings=(posting,), metadata={})

    # Earns planned before usage accounts existed credited nothing: the check names the shortfall.
    result = check_campaign_caps(rules, serial.txs, chart)
    assert result.status == "fail"
    assert result.offending[0].startswith("customers c1 campaign app-week-2026-11: usage account credited 0, earns charged 450")
    assert check_campaign_caps(rules, [*serial.txs, credit(450)], chart).status == "pass"
    assert check_campaign_caps(rules, [*serial.txs, credit(300)], chart).status == "fail"
    assert check_campaign_caps(rules, serial.txs).status == "pass"  # without the chart: the caps alone
    # A tampered balance past Python's 4,300-digit limit on str(int) is named, not a traceback.
    huge = check_campaign_caps(rules, [*serial.txs, credit(10**5000 - 1)], chart)
    assert huge.status == "fail"
    assert huge.offending[0] == "customers c1 campaign app-week-2026-11: usage account credited 1.000000E+5000, earns charged 450"
