"""One plan of every operation (every template of the catalogue), made by the operations' own pure plans.

Used by the tests that must hold for every operation: the metadata each writes (tests/unit/reports), the
personal-data screen, and the events every operation moving customers' points gives (tests/unit/events).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import yaml

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import (
    AdjustCommand,
    BucketBalance,
    DatedBucket,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    EarnRecord,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    ExpireCommand,
    HoldCommand,
    OpenCounterCommand,
    PendingBalance,
    Timeline,
    RedeemCommand,
    RefundCommand,
    ReleaseCommand,
    TransferCommand,
    VoidCommand,
    adjust,
    capture,
    convert,
    earn,
    engage,
    exchange_in,
    exchange_out,
    expire,
    hold,
    open_control,
    open_counter,
    period_close,
    redeem,
    refund,
    release,
    transfer,
    void,
)
from loyalty_accounts.operations.period_close import PeriodCloseCommand
from loyalty_accounts.operations import pool_contribute, pool_earn, pool_redeem
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool import PoolFunds
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.operations import revenue_estimate
from loyalty_accounts.operations.revenue_estimate import Estimates, RevenueEstimateCommand
from loyalty_accounts.operations import UsageCatchUpCommand, usage_catch_up
from loyalty_accounts.operations.usage_catch_up import UsageShortfall
from loyalty_accounts.operations import review as review_decision
from loyalty_accounts.operations.earn import order_of
from loyalty_accounts.operations import restock
from loyalty_accounts.operations.redeem import RedeemState
from loyalty_accounts.operations.redeem_review import Redeeming, Verdict
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.operations.stock import RewardPick
from loyalty_accounts.operations.review import Held, ReviewCommand
from loyalty_accounts.rules import EngagementRule, Reward, load_rules, quote
from loyalty_accounts.types import Posting, TransactionPlan
from loyalty_accounts.vocabulary.amounts import Money

from .finance_books import at, priced
from .programme import ROOT


def every_plan(chart: Chart, catalogue: Catalogue) -> list[TransactionPlan]:
    t = at("2026-06-01T10:00:00")
    usd = Money(amount=Decimal("125.90"), currency="USD")
    bks = [BucketBalance(expiry=date(2026, 9, 30), points=300), BucketBalance(expiry=date(2027, 3, 31), points=400)]
    dated = [DatedBucket(expiry=b.expiry, timeline=Timeline(since=t, current=b.points)) for b in bks if b.expiry is not None]
    held = (
        Posting(source="customers:c42:points:20260930", destination="customers:c42:holds:h-9", amount=50, asset="PTS"),
        Posting(source="customers:c42:points:20270331", destination="customers:c42:holds:h-9", amount=20, asset="PTS"),
    )
    record = EarnRecord(
        customer="c42", order_id="o-1", amount=usd, points=125, ordered_at=t, release_on=date(2026, 6, 15), expires_on=date(2027, 6, 1)
    )
    plans = [
        earn.plan(EarnCommand(customer="c42", order_id="o-1", amount=usd, ordered_at=t), chart, catalogue, breakdown=priced("125.90")),
        earn.plan(
            EarnCommand(customer="c42", order_id="o-2", amount=usd, ordered_at=t),
            chart,
            catalogue,
            breakdown=priced("125.90"),
            clawback_balance=-30,
            tier_after="silver",
            tier_change="upgrade",
        ),
        engage.plan(
            EngageCommand(customer="c42", event="review_written", key="rv-77", at=t),
            chart,
            catalogue,
            rule=EngagementRule(points=50, per_day=2, per_customer=10),
            rules_version="test-1",
            clawback_balance=-5,
        ),
        open_counter.plan(OpenCounterCommand(customer="c42", event="review_written", day=date(2026, 6, 1)), chart, catalogue),
        open_control.open_control(chart, catalogue, chart.period_closed()),
        period_close.plan(PeriodCloseCommand(through=t), chart, catalogue, t - timedelta(days=30)),
        revenue_estimate.plan(
            RevenueEstimateCommand(effective=t, estimates=Estimates(breakage_rate=Decimal("0.2"), constrained_rate=Decimal("0.1"), fx=(("EUR", Decimal("1.08")),)), approved_by="cfo", reason="launch"),
            chart, catalogue, None,
        ),
        void.plan(VoidCommand(customer="c42", hold_id="h-9"), chart, catalogue, held),
        *release.plan(
            ReleaseCommand(customer="c42", as_of=t), chart, catalogue, [PendingBalance(release=date(2026, 6, 1), expiry=date(2027, 5, 18), timeline=Timeline(since=t, current=95))]
        ),
        *usage_catch_up.plan(
            UsageCatchUpCommand(customer="c42", as_of=t), chart, catalogue, [UsageShortfall(campaign="bf-2026", charged=900, held=0)]
        ),
        hold.plan(HoldCommand(customer="c42", hold_id="h-9", points=70, at=t), chart, catalogue, bks),
        capture.plan(CaptureCommand(customer="c42", hold_id="h-9", points=55, at=t), chart, catalogue, held),
        redeem.plan(RedeemCommand(customer="c42", redemption_id="r-5", points=70, at=t), chart, catalogue, bks),
        redeem.plan(RedeemCommand(customer="c42", redemption_id="r-6", points=70, at=t, reward="mug"), chart, catalogue, bks),
        redeem.plan(  # a physical catalogue reward: its price, its type, one unit of its stock
            RedeemCommand(customer="c42", redemption_id="r-7", at=t, reward="MUG-BLUE"),
            chart,
            catalogue,
            RedeemState(buckets=tuple(bks), reward=RewardPick(sku="MUG-BLUE", reward_type="product", points=70, physical=True, stock=3)),
        ),
        redeem.route(
            RedeemCommand(customer="c42", redemption_id="r-9", points=70, at=t, reward="mug"),
            chart,
            catalogue,
            Redeeming(buckets=tuple(bks), verdict=Verdict(reasons=("points_above_threshold", "new_member"), deadline=t + timedelta(hours=72))),
        ),
        *(
            review_decision.plan(
                ReviewCommand(customer="c42", redemption_id="r-9", decision=decision, operator="ops-7", reason="suspected_fraud", at=t),
                chart,
                catalogue,
                Held(
                    hold_id="rv-r-9",
                    postings=tuple(p.model_copy(update={"destination": "customers:c42:holds:rv-r-9"}) for p in held),
                    placed_at=t,
                    deadline=t + timedelta(hours=72),
                    available={"PTS": 70},
                    metadata={"reward": "GIFT-25", "reward_type": "gift_card"},
                ),
            )
            for decision in ("approved", "rejected")
        ),
        # a physical reward: restocked, held for review with its unit, approved (the unit delivered)
        restock.plan(
            RestockCommand(reward="MUG-BLUE", units=3, restock_id="rs-1", at=t), chart, catalogue,
            Reward(sku="MUG-BLUE", type="product", name="Blue enamel mug", value=Decimal("12.50"), physical=True),
        ),
        redeem.route(
            RedeemCommand(customer="c42", redemption_id="r-10", reward="MUG-BLUE", at=t),
            chart,
            catalogue,
            RedeemState(
                buckets=tuple(bks),
                reward=RewardPick(sku="MUG-BLUE", reward_type="product", points=600, physical=True, stock=3),
                verdict=Verdict(reasons=("points_above_threshold",), deadline=t + timedelta(hours=72)),
            ),
        ),
        review_decision.plan(
            ReviewCommand(customer="c42", redemption_id="r-10", decision="approved", operator="ops-7", reason="checked", at=t),
            chart,
            catalogue,
            Held(
                hold_id="rv-r-10",
                postings=(
                    Posting(source="customers:c42:points:20260930", destination="customers:c42:holds:rv-r-10", amount=300, asset="PTS"),
                    Posting(source="customers:c42:points:20270331", destination="customers:c42:holds:rv-r-10", amount=300, asset="PTS"),
                    Posting(source="catalogue:MUG-BLUE:stock", destination="customers:c42:holds:rv-r-10", amount=1, asset="UNITS"),
                ),
                placed_at=t,
                deadline=t + timedelta(hours=72),
                available={"PTS": 600},
                metadata={"reward": "MUG-BLUE", "reward_type": "product"},
            ),
        ),
        *expire.plan(ExpireCommand(customer="c42", as_of=at("2026-09-30T03:00:00")), chart, catalogue, dated),
        transfer.plan(TransferCommand(customer="c42", to_customer="c77", transfer_id="t-3", points=70, at=t), chart, catalogue, bks),
        exchange_out.plan(
            ExchangeOutCommand(customer="c42", exchange_id="x-1", partner="skyway", partner_points=40, at=t), chart, catalogue, bks
        ),
        exchange_in.plan(ExchangeInCommand(customer="c42", exchange_id="x-2", partner="skyway", partner_points=100, at=t), chart, catalogue),
        pool_contribute.plan(
            PoolContributeCommand(pool="travel", partner="skyway", contribution_id="pc-1", points=3000, at=t), chart, catalogue
        ),
        pool_earn.plan(
            PoolEarnCommand(customer="c42", pool="travel", earn_id="pe-1", points=10, at=t), chart, catalogue,
            PoolFunds(count=4, funds={"skyway": 100, "cityrail": 100}),
        ),
        pool_redeem.plan(
            PoolRedeemCommand(customer="c42", pool="travel", redemption_id="pr-1", points=10, at=t, reward="lounge"),
            chart,
            catalogue,
            (bks, PoolFunds(count=5, funds={"skyway": 100, "cityrail": 100})),
        ),
        pool_redeem.plan(  # a catalogue reward (not physical) redeemed against the pool: its SKU and its type
            PoolRedeemCommand(customer="c42", pool="travel", redemption_id="pr-2", points=10, at=t, reward="GIFT-25"),
            chart,
            catalogue,
            pool_redeem.State(bks, PoolFunds(count=6, funds={"skyway": 100, "cityrail": 100}), "gift_card"),
        ),
        convert.plan(ConvertCommand(customer="c42", conversion_id="cv-1", points=500, at=t), chart, catalogue, bks),
        refund.plan(
            RefundCommand(customer="c42", order_id="o-1", refund_id="rf-1", amount=usd, at=t),
            chart,
            catalogue,
            earn=record,
            previous_refunds=[],
            buckets=bks,
        ),
        adjust.plan(
            AdjustCommand(customer="c42", adjustment_id="a-1", direction="credit", points=50, reason="goodwill", at=t), chart, catalogue
        ),
        adjust.plan(
            AdjustCommand(customer="c42", adjustment_id="a-2", direction="debit", points=30, reason="goodwill", at=t), chart, catalogue, bks
        ),
    ]
    plans += kind_plans(catalogue)
    return [p for p in plans if p is not None]


def kind_plans(catalogue: Catalogue) -> list[TransactionPlan | None]:
    """Plans that write the kinds-of-point keys: under a chart keeping bonus points apart, an app-week order's
    earn (a campaign bonus), a release and an expiry of bonus points, a refund of an order that earned some."""

    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["policies"]["point_kinds"] = {"bonus": {"expiry_months": 6}}
    kinds = Chart.from_yaml(yaml.safe_dump(data), source="kinds.yaml")
    rules = load_rules(ROOT / "rules.yaml", chart=kinds)
    t = at("2026-11-24T12:00:00")
    usd = Money(amount=Decimal("100.00"), currency="USD")
    order = EarnCommand(customer="c42", order_id="o-3", amount=usd, ordered_at=t, category="books", channel="app")
    record = EarnRecord(
        customer="c42", order_id="o-3", amount=usd, points=250, ordered_at=t, release_on=date(2026, 12, 8),
        expires_on=date(2027, 11, 24), bonus_points=150, bonus_expires_on=date(2027, 5, 24),
    )
    bonus = [BucketBalance(expiry=date(2027, 5, 24), points=150, kind="bonus")]
    line = Timeline(since=t, current=150)
    return [
        earn.plan(order, kinds, catalogue, breakdown=quote(rules, order_of(order, rules), tier="member", campaign_usage={})),
        *release.plan(ReleaseCommand(customer="c42", as_of=at("2026-12-08T02:00:00")), kinds, catalogue,
                      [PendingBalance(release=date(2026, 12, 8), expiry=date(2027, 5, 24), kind="bonus", timeline=line)]),
        *expire.plan(ExpireCommand(customer="c42", as_of=at("2027-05-24T03:00:00")), kinds, catalogue,
                     [DatedBucket(expiry=date(2027, 5, 24), kind="bonus", timeline=line)]),
        refund.plan(RefundCommand(customer="c42", order_id="o-3", refund_id="rf-3", amount=usd, at=t + timedelta(days=20)),
                    kinds, catalogue, earn=record, previous_refunds=[], buckets=bonus),
    ]
