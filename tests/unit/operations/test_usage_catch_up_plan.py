"""Usage catch-up: each capped campaign's usage account is credited with what earns charged and it lacks."""

from __future__ import annotations

from datetime import datetime, timezone

from pathlib import Path

from support.programme import usd

from loyalty_accounts.operations import EarnCommand, UsageCatchUpCommand, earn, usage_catch_up
from loyalty_accounts.operations.usage_catch_up import UsageShortfall, charges_by_campaign
from loyalty_accounts.rules import Rules, load_rules, quote
from loyalty_accounts.types import PostedTransaction, TransactionPlan

ROOT = Path(__file__).resolve().parents[3]

AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)

SCRIPT = """\
vars {
  monetary $usage
  account $charged
  account $account
}

send $usage (
  source = $charged allowing unbounded overdraft
  destination = $account
)
"""


def test_only_accounts_holding_less_than_was_charged_are_credited_by_the_difference(chart, catalogue):
    cmd = UsageCatchUpCommand(customer="c42", as_of=AS_OF)
    usage = [
        UsageShortfall(campaign="bf-2026", charged=1800, held=1800),  # caught up already
        UsageShortfall(campaign="app-week-2026-11", charged=300, held=150),
        UsageShortfall(campaign="zz-over", charged=10, held=40),  # more than charged: left to reconcile
    ]
    plans = usage_catch_up.plan(cmd, chart, catalogue, usage)
    assert plans == (
        TransactionPlan(
            operation="usage_catch_up",
            template="usage_catch_up",
            script=SCRIPT,
            vars={
                "usage": "CAMP 150",
                "charged": "program:campaigns:app-week-2026-11",
                "account": "customers:c42:campaigns:app-week-2026-11",
            },
            reference="usage_catch_up:20261201T090000Z:c42:app-week-2026-11:300",
            command_hash=cmd.fingerprint(campaign="app-week-2026-11", charged="300"),
            metadata={
                "customer": "c42",
                "campaign": "app-week-2026-11",
                "charged": "300",
                "held": "150",
                "as_of": "2026-12-01T09:00:00Z",
            },
            timestamp=AS_OF,
        ),
    )


def _earn(tx_id: int, command: EarnCommand, rules: Rules, *, priced: bool = True) -> PostedTransaction:
    metadata = {"operation": "earn", "customer": command.customer}
    if priced:
        order = earn.order_of(command, rules)
        metadata |= quote(rules, order, tier=rules.base_tier.name, campaign_usage={}).to_metadata()
    return PostedTransaction(id=tx_id, timestamp=command.ordered_at, postings=(), metadata=metadata)


def test_charges_are_summed_per_customer_and_capped_campaign_from_the_breakdowns(chart):
    rules = load_rules(ROOT / "rules.yaml", chart=chart)
    friday = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)  # bf-2026 (x3, capped 6000) and app-week (+150, capped 450)
    app_tv = EarnCommand(customer="c1", order_id="o1", amount=usd("300.00"), ordered_at=friday, category="electronics", channel="app")
    app_food = EarnCommand(customer="c1", order_id="o2", amount=usd("10.00"), ordered_at=friday, category="groceries", channel="app")
    other = EarnCommand(customer="c2", order_id="o3", amount=usd("10.00"), ordered_at=friday, category="groceries", channel="app")
    earns = [_earn(1, app_tv, rules), _earn(2, app_food, rules), _earn(3, other, rules), _earn(4, other, rules, priced=False)]
    # o1: 300 base, bf triples it (+600), app-week +150; o2 and o3: +150 each; an earn without a breakdown charged nothing.
    assert charges_by_campaign(earns, {"bf-2026", "app-week-2026-11"}) == {
        ("c1", "bf-2026"): 600,
        ("c1", "app-week-2026-11"): 300,
        ("c2", "app-week-2026-11"): 150,
    }
    assert charges_by_campaign(earns, {"app-week-2026-11"}) == {("c1", "app-week-2026-11"): 300, ("c2", "app-week-2026-11"): 150}
    assert charges_by_campaign(earns, set()) == {}
