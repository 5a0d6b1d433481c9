"""Tiers on the in-memory ledger: from the qualifying points of the orders inside the window, as of then.

Worked out by hand from rules.yaml (silver from 5000 qualifying points in a
rolling 365-day window, ×1.25) and the repository chart, like test_earning.py;
the same stories run on the real server in tests/integration/test_rules_on_server.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.programme import (
    T0,
    days,
    earn,
    programme,
    rules_text,
    story_clock,
    trial_balance_holds,
    usd,
)

from loyalty_accounts.errors import UnknownEntity
from loyalty_accounts.operations import RedeemCommand, RefundCommand, TransferCommand
from loyalty_accounts.services.results import TierChange

UTC = timezone.utc


LATER = datetime(2027, 6, 1, tzinfo=timezone.utc)
"""The programme's "now" in tests whose orders run into 2027 (operations may not be dated in the future)."""


def test_tier_upgrades_with_a_back_dated_order_priced_at_its_own_instant_then_downgrades_as_the_window_moves(ledger):
    program = programme(ledger, pending_days=0, clock=lambda: LATER)
    # o1 3000.00 on 2026-01-10: 3000 points, qualifying 3000 → member
    assert program.earn(earn("c1", "o1", "3000.00", T0)).tier_change is None
    # o2 2500.00 on 2026-04-20: member before (3000), 2500 points; after 5500 ≥ 5000 → silver
    second = program.earn(earn("c1", "o2", "2500.00", T0 + days(100)))
    assert second.points == 2500
    assert second.tier_change == TierChange(before="member", after="silver", direction="upgrade")
    # o3 1000.00 placed on 2026-03-01 but posted now: at ITS instant only o1 counts (3000, member),
    # so ×1 → 1000 points, and 4000 after it: still member then
    late = program.earn(earn("c1", "o3", "1000.00", T0 + days(50)))
    assert late.points == 1000 and late.tier_change is None
    assert program.explain("o3").breakdown.tier == "member"
    # o4 100.00 on 2026-07-29, silver (6500): 100 × 1.25 = 125
    assert program.earn(earn("c1", "o4", "100.00", T0 + days(200))).points == 125

    status = program.tier("c1", T0 + days(201))
    assert (status.tier, status.qualifying_points, status.next_tier, status.points_to_next) == ("silver", 6625, "gold", 13375)
    # 2027-01-10 00:00: the window starts 2026-01-10 00:00, so o1's day still counts: 6625
    year = datetime(2027, 1, 10, tzinfo=UTC)
    assert program.tier("c1", year).qualifying_points == 6625
    # one instant later the window starts inside 2026-01-10: that day drops out, 2500 + 1000 + 125 = 3625
    after = program.tier("c1", year + timedelta(microseconds=1))
    assert (after.tier, after.qualifying_points, after.points_to_next) == ("member", 3625, 1375)
    # an order then is priced at member, and lifts the customer back to silver: 3625 + 1400 = 5025
    again = program.earn(earn("c1", "o5", "1400.00", year + days(1)))
    assert again.points == 1400 and again.tier_change == TierChange(before="member", after="silver", direction="upgrade")
    trial_balance_holds(ledger)

def test_spending_moving_and_expiring_points_never_costs_a_tier(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0, expiry_days=30)
    program.earn(earn("c1", "o1", "5000.00", T0))
    program.redeem(RedeemCommand(customer="c1", redemption_id="r1", points=3000, at=T0 + days(1)))
    program.transfer(TransferCommand(customer="c1", to_customer="c2", transfer_id="t1", points=1000, at=T0 + days(2)))
    program.expire(T0 + days(30))
    assert program.balance("c1").total == 0
    assert program.tier("c1", T0 + days(31)).qualifying_points == 5000
    # and the receiver of the transfer did not buy anything
    assert program.tier("c2", T0 + days(31)).qualifying_points == 0

def test_a_refund_lowers_the_window_of_its_order_from_the_refund_on(ledger):
    program = programme(ledger, pending_days=0, clock=lambda: LATER)
    program.earn(earn("c1", "o1", "3000.00", T0))
    program.earn(earn("c1", "o2", "2400.00", T0 + days(10)))
    assert program.tier("c1", T0 + days(20)).tier == "silver"  # 5400
    # half of o2 back: floor(2400 × 1200 / 2400) = 1200 points and qualifying points
    program.refund(RefundCommand(customer="c1", order_id="o2", refund_id="f1", amount=usd("1200.00"), at=T0 + days(30)))
    assert program.tier("c1", T0 + days(29)).qualifying_points == 5400  # as it stood before the refund
    assert program.tier("c1", T0 + days(31)).qualifying_points == 4200
    assert program.tier("c1", T0 + days(31)).tier == "member"
    # on 2027-01-15 12:00 the window counts orders from 2026-01-16: o1 (2026-01-10) is out, o2's
    # remaining 1200 are in; refunding all of o1 then takes nothing from that window
    later = T0 + days(370)
    assert program.tier("c1", later).qualifying_points == 1200
    program.refund(RefundCommand(customer="c1", order_id="o1", refund_id="f2", amount=usd("3000.00"), at=later))
    assert program.tier("c1", later + days(1)).qualifying_points == 1200
    trial_balance_holds(ledger)

def test_tier_of_an_unknown_customer_and_a_lifetime_window(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0, rules=rules_text(("{window: rolling, days: 365}", "{window: lifetime}")))
    with pytest.raises(UnknownEntity):
        program.tier("ghost", T0)
    program.earn(earn("c1", "o1", "5000.00", T0))
    assert program.qualification_days(T0 + days(3000))[0] is None
    assert program.tier("c1", T0 + days(3000)).tier == "silver"

def test_an_award_never_qualifies_for_a_tier(ledger):
    program = programme(ledger, clock=story_clock, pending_days=0)
    program.engage("c1", "referral_completed", "ref-1", T0)
    assert program.balance("c1").spendable == 1000
    assert program.tier("c1", T0 + days(1)).qualifying_points == 0
