"""Earn: the points the rules priced, at the order's own date, into pending or a bucket, with qualifying points."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from opsupport import AT, priced

from loyalty_accounts.errors import ChartError, InvalidCommand
from loyalty_accounts.operations import EarnCommand, EarnRecord, earn
from loyalty_accounts.rules import EarnBreakdown
from loyalty_accounts.types import TransactionPlan, command_fingerprint
from loyalty_accounts.vocabulary.amounts import Money

EARN_SCRIPT = """\
vars {
  monetary $points
  monetary $debt
  account $issued
  account $clawback
  account $destination
  monetary $bonus
  account $bonus_destination
  monetary $qualifying
  account $tiers
  account $qualified
}

send $points (
  source = $issued allowing unbounded overdraft
  destination = {
    max $debt to $clawback
    max $bonus to $bonus_destination
    remaining to $destination
  }
)

send $qualifying (
  source = $tiers allowing unbounded overdraft
  destination = $qualified
)
"""


def command(amount: str = "125.90", currency: str = "USD", at: datetime = AT, **fields: str) -> EarnCommand:
    return EarnCommand(
        customer="c42", order_id="o-1", amount=Money(amount=Decimal(amount), currency=currency), ordered_at=at, **fields
    )


def test_earn_into_pending_repaying_clawback_debt_with_its_breakdown(chart, catalogue, rules):
    cmd = command(category="books", channel="web")
    breakdown = priced(rules, cmd)  # 125.90 × 1, books ×1, member ×1, no campaign on 2026-06-01: floor → 125
    plan = earn.plan(cmd, chart, catalogue, breakdown=breakdown, clawback_balance=-30, tier_after="member")

    assert plan == TransactionPlan(
        operation="earn",
        template="earn",
        script=EARN_SCRIPT,
        vars={
            "points": "PTS 125",
            "debt": "PTS 30",
            "issued": "program:points:issued:7",
            "clawback": "customers:c42:clawback",
            "destination": "customers:c42:pending:20260615:20270601",
            "bonus": "PTS 0",
            "bonus_destination": "customers:c42:pending:20260615:20270601",
            "qualifying": "QPTS 125",
            "tiers": "program:tiers:qualifying",
            "qualified": "customers:c42:qualifying:20260601",
        },
        reference="earn:o-1",
        command_hash=command_fingerprint(
            {
                "operation": "earn",
                "customer": "c42",
                "order_id": "o-1",
                "amount": {"amount": "125.9", "currency": "USD"},
                "ordered_at": "2026-06-01T10:00:00Z",
                "category": "books",
                "channel": "web",
            }
        ),
        metadata={
            "customer": "c42",
            "order_id": "o-1",
            "amount": "125.90",
            "currency": "USD",
            "points": "125",
            "ordered_at": "2026-06-01T10:00:00Z",
            "expires_at": "2027-06-01",
            "release_at": "2026-06-15",
            "repaid": "30",
            "qualifying_on": "2026-06-01",
            "tier_after": "member",
            "r_ver": "2026.12.1",
            "r_amt": "125.9",
            "r_cur": "USD",
            "r_cat": "books",
            "r_ch": "web",
            "r_tier": "member",
            "r_rate": "1",
            "r_xcat": "1",
            "r_xtier": "1",
            "r_rnd": "floor",
            "r_pts": "125",
        },
        timestamp=AT,
    )
    assert EarnBreakdown.from_metadata(plan.metadata) == breakdown


def test_the_plan_posts_exactly_the_breakdowns_points(chart, catalogue, rules):
    # a gold customer's groceries in store on Saturday 2026-10-24 (the worked example in rules/pricing.py): 697
    cmd = command("120.35", "EUR", at=datetime(2026, 10, 24, 8, tzinfo=timezone.utc), category="groceries", channel="store")
    plan = earn.plan(cmd, chart, catalogue, breakdown=priced(rules, cmd, tier="gold"), tier_after="gold")
    assert plan is not None
    assert plan.vars["points"] == "PTS 697" and plan.vars["qualifying"] == "QPTS 697"
    assert plan.metadata["points"] == plan.metadata["r_pts"] == "697"
    assert plan.metadata["r_c0"] == "fresh-saturdays-2026-10" and plan.metadata["r_c0_cap"] == "order"


def test_a_tier_change_is_recorded(chart, catalogue, rules):
    cmd = command("5000.00")
    plan = earn.plan(cmd, chart, catalogue, breakdown=priced(rules, cmd), tier_after="silver", tier_change="upgrade")
    assert plan is not None
    assert (plan.metadata["r_tier"], plan.metadata["tier_after"], plan.metadata["tier_change"]) == ("member", "silver", "upgrade")


def test_without_chargeback_window_points_go_straight_to_the_bucket(chart_with, catalogue, rules):
    chart = chart_with(pending_days=0)
    plan = earn.plan(command(), chart, catalogue, breakdown=priced(rules, command()))
    assert plan is not None
    assert plan.vars["destination"] == "customers:c42:points:20270601"
    assert plan.vars["debt"] == "PTS 0"
    assert "release_at" not in plan.metadata
    assert "repaid" not in plan.metadata and "tier_after" not in plan.metadata


def test_without_expiry_the_bucket_is_noexpiry(chart_with, catalogue, rules):
    chart = chart_with(pending_days=0, expiry_days=None)
    plan = earn.plan(command(), chart, catalogue, breakdown=priced(rules, command()))
    assert plan is not None
    assert plan.vars["destination"] == "customers:c42:points:noexpiry"
    assert plan.metadata["expires_at"] == "never"


@pytest.mark.parametrize("policy", ["allow_negative", "write_off"])
def test_debt_is_only_repaid_under_claw_back(chart_with, catalogue, rules, policy):
    plan = earn.plan(command(), chart_with(refund_shortfall=policy), catalogue, breakdown=priced(rules, command()), clawback_balance=-30)
    assert plan is not None
    assert plan.vars["debt"] == "PTS 0"


def test_the_order_date_counts_not_the_posting_date(chart, catalogue, rules):
    late = command(at=datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    plan = earn.plan(late, chart, catalogue, breakdown=priced(rules, late))
    assert plan is not None
    # 23:30 at UTC-5 is 2026-01-01 04:30 UTC, and the programme calendar is UTC.
    assert plan.vars["destination"] == "customers:c42:pending:20260115:20270101"
    assert plan.vars["qualified"] == "customers:c42:qualifying:20260101"
    assert plan.timestamp == datetime(2026, 1, 1, 4, 30, tzinfo=timezone.utc)
    assert plan.metadata["ordered_at"] == "2026-01-01T04:30:00Z"
    assert plan.metadata["qualifying_on"] == "2026-01-01"


def test_an_order_priced_at_no_point_posts_nothing(chart, catalogue, rules):
    small = command("0.99")  # below the 1.00 USD minimum
    assert priced(rules, small).reason == "below_minimum"
    assert earn.plan(small, chart, catalogue, breakdown=priced(rules, small)) is None
    excluded = command(category="tobacco")
    assert earn.plan(excluded, chart, catalogue, breakdown=priced(rules, excluded)) is None


def test_a_breakdown_of_another_order_is_refused(chart, catalogue, rules):
    other = priced(rules, command("99.00"))
    with pytest.raises(ChartError, match="prices another order \\(different amount\\)"):
        earn.plan(command(), chart, catalogue, breakdown=other)
    groceries = command(category="groceries", channel="store")
    with pytest.raises(ChartError, match="different category"):
        earn.plan(groceries, chart, catalogue, breakdown=priced(rules, command(category="books", channel="store")))


def test_unaccepted_currency_and_too_many_decimals(chart, catalogue, rules):
    gbp = priced(rules, command()).model_copy(update={"currency": "GBP"})
    with pytest.raises(InvalidCommand, match="'GBP' is not accepted"):
        earn.plan(command("125.90", "GBP"), chart, catalogue, breakdown=gbp)
    fine = priced(rules, command("10.00"))
    with pytest.raises(InvalidCommand, match="more than 2 decimals"):
        earn.plan(command("10.001"), chart, catalogue, breakdown=fine.model_copy(update={"amount": Decimal("10.001")}))


def test_same_money_written_differently_is_the_same_command(chart, catalogue, rules):
    a = earn.plan(command("125.90"), chart, catalogue, breakdown=priced(rules, command("125.90")))
    b = earn.plan(command("125.9"), chart, catalogue, breakdown=priced(rules, command("125.9")))
    assert a is not None and b is not None
    assert a.command_hash == b.command_hash
    assert a == b


def test_an_order_without_category_keeps_the_fingerprint_it_had_before_categories():
    # earns posted before categories existed were hashed without them: a replay must still match
    assert command().fingerprint() == command_fingerprint(
        {
            "operation": "earn",
            "customer": "c42",
            "order_id": "o-1",
            "amount": {"amount": "125.9", "currency": "USD"},
            "ordered_at": "2026-06-01T10:00:00Z",
        }
    )
    assert command(category="books").fingerprint() != command().fingerprint()


def test_earn_record_reads_back_the_metadata(chart, catalogue, rules):
    plan = earn.plan(command(), chart, catalogue, breakdown=priced(rules, command()))
    assert plan is not None
    record = EarnRecord.from_metadata(plan.metadata)
    assert record.points == 125
    assert record.amount == Money(amount=Decimal("125.90"), currency="USD")
    assert record.release_on is not None and record.release_on.isoformat() == "2026-06-15"
    assert record.expires_on is not None and record.expires_on.isoformat() == "2027-06-01"
    assert record.qualifying_on is not None and record.qualifying_on.isoformat() == "2026-06-01"
    legacy = {k: v for k, v in plan.metadata.items() if k != "qualifying_on" and not k.startswith("r_")}
    assert EarnRecord.from_metadata(legacy).qualifying_on is None
    with pytest.raises(InvalidCommand, match="earn metadata"):
        EarnRecord.from_metadata({"customer": "c42"})


BLACK_FRIDAY = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)


def test_each_capped_campaign_credits_what_it_charged_to_the_customers_usage_account(chart, catalogue, rules):
    cmd = command(amount="800.00", at=BLACK_FRIDAY, category="electronics", channel="app")
    breakdown = priced(rules, cmd)
    charges = breakdown.campaign_charges()
    assert set(charges) == {"bf-2026", "app-week-2026-11"} and all(charges.values())
    plan = earn.plan(cmd, chart, catalogue, breakdown=breakdown, capped=("bf-2026", "app-week-2026-11"))
    assert plan is not None
    credited = {
        plan.vars[f"campaign_usage_{i}"]: (plan.vars[f"campaign_charged_{i}"], plan.vars[f"campaign_charge_{i}"])
        for i in range(2)
    }
    assert credited == {
        f"customers:c42:campaigns:{c}": (f"program:campaigns:{c}", f"CAMP {charges[c]}") for c in charges
    }
    # Only capped campaigns keep a usage account; an uncapped one charges nothing to it.
    only_bf = earn.plan(cmd, chart, catalogue, breakdown=breakdown, capped=("bf-2026",))
    assert only_bf is not None and "campaign_usage_1" not in only_bf.vars
    assert only_bf.vars["campaign_usage_0"] == "customers:c42:campaigns:bf-2026"


def test_campaign_usage_is_read_from_the_guards_listing_without_a_request(chart, rules):
    from loyalty_accounts.operations import Reading
    from loyalty_accounts.operations.reading import Snapshot
    from loyalty_accounts.types import AccountState, Volume

    class NoRequests:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the ledger was asked for {name}")

    cmd = command(amount="100.00", at=BLACK_FRIDAY, category="electronics", channel="app")
    usage_filter = chart.campaign_usage_filter("c42")
    bf = chart.campaign_usage("c42", "bf-2026")
    snapshot = Snapshot(
        filters=frozenset({usage_filter}),
        accounts={bf: AccountState(address=bf, volumes={"CAMP": Volume(input=5900, output=0)})},
        latest={},
        known=frozenset({"c42"}),
    )
    reading = Reading(NoRequests(), chart, rules, snapshot=snapshot)  # type: ignore[arg-type]
    assert earn.campaign_usage(reading, rules, earn.order_of(cmd, rules)) == {"bf-2026": 5900}
    assert usage_filter in earn.OPERATION.watch(cmd, chart)  # type: ignore[misc]
