"""Engage: an award issued like an earn, each limit a counter whose overdraft the script bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opsupport import AT

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.operations import EngageCommand, engage
from loyalty_accounts.rules import EngagementRule
from loyalty_accounts.types import TransactionPlan

ENGAGE_SCRIPT_2 = """\
vars {
  monetary $points
  monetary $debt
  account $issued
  account $clawback
  account $bucket
  monetary $award_0
  monetary $award_1
  account $counter_0
  account $counter_1
  monetary $limit_0
  monetary $limit_1
  account $awarded_0
  account $awarded_1
}

send $points (
  source = $issued allowing unbounded overdraft
  destination = {
    max $debt to $clawback
    remaining to $bucket
  }
)

send $award_0 (
  source = $counter_0 allowing overdraft up to $limit_0
  destination = $awarded_0
)

send $award_1 (
  source = $counter_1 allowing overdraft up to $limit_1
  destination = $awarded_1
)
"""


def command(event: str = "referral_completed", key: str = "ref-1", at=AT) -> EngageCommand:
    return EngageCommand(customer="c42", event=event, key=key, at=at)


def test_an_award_with_both_limits_moves_both_counters(chart, catalogue, rules):
    # referral_completed: 1000 points, at most 3 a day and 20 per customer
    plan = engage.plan(command(), chart, catalogue, rule=rules.engagement["referral_completed"],
                       rules_version=rules.version, clawback_balance=-40)
    assert plan == TransactionPlan(
        operation="engage",
        template="engage",
        script=ENGAGE_SCRIPT_2,
        vars={
            "points": "PTS 1000",
            "debt": "PTS 40",
            "issued": "program:points:issued:7",
            "clawback": "customers:c42:clawback",
            "bucket": "customers:c42:points:20270601",
            "award_0": "AWARDS 1",
            "award_1": "AWARDS 1",
            "counter_0": "customers:c42:engagement:referral_completed",
            "counter_1": "customers:c42:engagement:referral_completed:20260601",
            "limit_0": "AWARDS 20",
            "limit_1": "AWARDS 3",
            "awarded_0": "program:engagement:referral_completed",
            "awarded_1": "program:engagement:referral_completed",
        },
        reference="engage:referral_completed:c42:ref-1",
        command_hash=command().fingerprint(),
        metadata={
            "customer": "c42",
            "event": "referral_completed",
            "key": "ref-1",
            "points": "1000",
            "awarded_at": "2026-06-01T10:00:00Z",
            "awarded_on": "2026-06-01",
            "expires_at": "2027-06-01",
            "rules_version": "2026.12.1",
            "repaid": "40",
        },
        timestamp=AT,
    )


@pytest.mark.parametrize(
    ("event", "counters"),
    [
        ("sign_up", {"customers:c42:engagement:sign_up": "AWARDS 1"}),
        ("app_login", {"customers:c42:engagement:app_login:20260601": "AWARDS 1"}),
        ("review_written", {"customers:c42:engagement:review_written:20260601": "AWARDS 2"}),
    ],
)
def test_one_counter_per_limit_the_rules_set(chart, catalogue, rules, event, counters):
    plan = engage.plan(command(event), chart, catalogue, rule=rules.engagement[event], rules_version=rules.version)
    found = {plan.vars[k]: plan.vars[k.replace("counter", "limit")] for k in plan.vars if k.startswith("counter_")}
    assert found == counters
    assert plan.vars["debt"] == "PTS 0" and "repaid" not in plan.metadata


def test_the_key_makes_the_reference_and_the_instant_is_not_part_of_the_command():
    assert command().reference() == "engage:referral_completed:c42:ref-1"
    assert command(at=AT + timedelta(days=1)).fingerprint() == command().fingerprint()
    assert command(key="ref-2").reference() != command().reference()


def test_the_debt_is_repaid_only_under_claw_back(chart_with, catalogue, rules):
    plan = engage.plan(command("sign_up"), chart_with(refund_shortfall="write_off"), catalogue,
                       rule=rules.engagement["sign_up"], rules_version=rules.version, clawback_balance=-40)
    assert plan.vars["debt"] == "PTS 0"


def test_a_bad_event_or_key_is_a_bad_command():
    with pytest.raises(InvalidCommand, match="event"):
        command(event="Sign Up")
    with pytest.raises(InvalidCommand, match="key"):
        command(key="a key with spaces")


def test_rule_values_are_taken_as_given(chart, catalogue):
    plan = engage.plan(command("bonus"), chart, catalogue, rule=EngagementRule(points=7, per_day=5), rules_version="t.1")
    assert plan.vars["points"] == "PTS 7" and plan.vars["limit_0"] == "AWARDS 5"
    assert plan.metadata["rules_version"] == "t.1"
