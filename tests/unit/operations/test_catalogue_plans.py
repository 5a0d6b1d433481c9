"""Redeeming a catalogue reward (a physical one takes a unit of stock in the same transaction, or holds it for
review), its review's decision (the unit delivered or back in stock) and restocking."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from opsupport import AT, buckets

from loyalty_accounts.errors import InsufficientPoints, InvalidCommand, OperationRefused, OutOfStock
from loyalty_accounts.operations import RedeemCommand, redeem
from loyalty_accounts.operations import restock, review
from loyalty_accounts.operations.redeem import RedeemState
from loyalty_accounts.operations.redeem_review import Verdict
from loyalty_accounts.operations.restock import RestockCommand
from loyalty_accounts.operations.review import Held, ReviewCommand
from loyalty_accounts.operations.stock import RewardPick
from loyalty_accounts.rules import Reward
from loyalty_accounts.types import Posting

MUG = RewardPick(sku="MUG-BLUE", reward_type="product", points=1000, physical=True, stock=2, count=4)
CASH = RewardPick(sku="CASH-25", reward_type="cashback", points=2500, physical=False)


def redeem_of(pick: RewardPick | None, points: int | None = None, bucket_points: int = 3000):  # type: ignore[no-untyped-def]
    command = RedeemCommand(customer="c42", redemption_id="r-9", reward=pick.sku if pick else "mug", points=points, at=AT)
    return command, RedeemState(buckets=tuple(buckets(noexpiry=bucket_points)), reward=pick)


def test_a_physical_reward_moves_its_price_and_one_unit_of_stock(chart, catalogue):
    command, state = redeem_of(MUG)
    plan = redeem.plan(command, chart, catalogue, state)
    assert plan.template == "redeem_reward"
    assert (plan.vars["points"], plan.vars["unit"]) == ("PTS 1000", "UNITS 1")
    assert (plan.vars["stock"], plan.vars["delivered"]) == ("catalogue:MUG-BLUE:stock", "catalogue:MUG-BLUE:delivered")
    assert plan.metadata == {
        "customer": "c42", "redemption_id": "r-9", "points": "1000", "reward": "MUG-BLUE", "reward_type": "product",
    }
    # the stock account is a plain source: the ledger's overdraft check refuses a unit it no longer has;
    # the reward's counter may go down only to the count the read saw plus one (a stale plan fails)
    assert catalogue.get("redeem_reward").overdraft_vars == frozenset({"counter_sequence"})
    assert (plan.vars["counter_sequence"], plan.vars["counter_step"], plan.vars["counter_expected"]) == (
        "catalogue:MUG-BLUE:sequence", "CTL 1", f"CTL {MUG.count + 1}",
    )


def test_a_take_opens_the_reward_s_counter_first_only_when_it_has_no_row(chart, catalogue):
    setup = redeem.OPERATION.setup
    assert setup is not None
    command, state = redeem_of(MUG)
    assert setup(command, chart, catalogue, state) == []
    unopened = MUG.model_copy(update={"count": None})  # restocked before counters
    command, state = redeem_of(unopened)
    (opening,) = setup(command, chart, catalogue, state)
    assert opening.reference == "open_control:catalogue:MUG-BLUE:sequence"
    assert redeem.plan(command, chart, catalogue, state).vars["counter_expected"] == "CTL 1"  # no row: nothing counted yet
    for other in (CASH, None):
        command, state = redeem_of(other, points=2500)
        assert setup(command, chart, catalogue, state) == []


def test_a_reward_that_is_not_physical_is_a_plain_redemption_with_its_type(chart, catalogue):
    command, state = redeem_of(CASH)
    plan = redeem.plan(command, chart, catalogue, state)
    assert plan.template == "redeem" and plan.vars["points"] == "PTS 2500"
    assert (plan.metadata["reward"], plan.metadata["reward_type"]) == ("CASH-25", "cashback")


def test_no_stock_is_out_of_stock_before_the_points_are_looked_at(chart, catalogue):
    command, state = redeem_of(MUG.model_copy(update={"stock": 0}), bucket_points=10)
    with pytest.raises(OutOfStock, match="MUG-BLUE is out of stock"):
        redeem.plan(command, chart, catalogue, state)
    command, state = redeem_of(MUG, bucket_points=999)
    with pytest.raises(InsufficientPoints):
        redeem.plan(command, chart, catalogue, state)


def test_points_given_must_be_the_catalogue_price(chart, catalogue):
    command, state = redeem_of(MUG, points=1000)
    assert redeem.plan(command, chart, catalogue, state).vars["points"] == "PTS 1000"
    command, state = redeem_of(MUG, points=999)
    with pytest.raises(InvalidCommand, match="costs 1000 points, not 999"):
        redeem.plan(command, chart, catalogue, state)


def test_a_label_with_points_and_a_bare_bucket_list_plan_as_before(chart, catalogue):
    command, state = redeem_of(None, points=70)
    with_state = redeem.plan(command, chart, catalogue, state)
    bare = redeem.plan(command, chart, catalogue, list(state.buckets))
    assert with_state == bare and bare.template == "redeem" and "reward_type" not in bare.metadata


def test_a_redemption_needs_points_or_a_reward():
    with pytest.raises(InvalidCommand, match="give the points, or a catalogue reward"):
        RedeemCommand(customer="c42", redemption_id="r-1", at=AT)


def test_a_catalogue_redemption_is_the_sku_not_the_price_it_had():
    by_sku = RedeemCommand(customer="c42", redemption_id="r-1", reward="MUG-BLUE", at=AT)
    priced = RedeemCommand(customer="c42", redemption_id="r-1", reward="MUG-BLUE", points=1000, at=AT)
    assert by_sku.fingerprint() != priced.fingerprint()
    assert by_sku.fingerprint() == RedeemCommand(customer="c42", redemption_id="r-1", reward="MUG-BLUE", at=AT).fingerprint()


def test_restock_moves_units_from_the_counterpart_into_stock(chart, catalogue):
    mug = Reward(sku="MUG-BLUE", type="product", name="Mug", value=Decimal("12.50"), physical=True)
    plan = restock.plan(RestockCommand(reward="MUG-BLUE", units=3, restock_id="rs-1", at=AT), chart, catalogue, mug)
    assert plan.reference == "restock:rs-1"
    assert plan.vars == {
        "units": "UNITS 3", "restocked": "catalogue:MUG-BLUE:restocked", "stock": "catalogue:MUG-BLUE:stock",
        "counter_step": "CTL 1", "counter_sequence": "catalogue:MUG-BLUE:sequence", "counter_counted": "program:control:sequence",
    }
    assert plan.metadata == {"reward": "MUG-BLUE", "units": "3", "restock_id": "rs-1"}
    assert chart.kind_of(plan.vars["restocked"]).may_go_negative and not chart.kind_of(plan.vars["stock"]).may_go_negative


@pytest.mark.parametrize("units", [0, -1, 10**6 + 1, 1.5, "3"])
def test_restock_units_are_a_positive_whole_number(units):
    with pytest.raises(InvalidCommand, match="units"):
        RestockCommand(reward="MUG-BLUE", units=units, restock_id="rs-1", at=AT)


# -- a physical reward held for review ---------------------------------------------------------------------------

FLAGGED = Verdict(reasons=("points_above_threshold",), deadline=AT + timedelta(hours=72))


def held_of(pick: RewardPick, bucket_points: int = 3000):  # type: ignore[no-untyped-def]
    command = RedeemCommand(customer="c42", redemption_id="r-9", reward=pick.sku, at=AT)
    return command, RedeemState(buckets=tuple(buckets(noexpiry=bucket_points)), reward=pick, verdict=FLAGGED)


def test_a_flagged_physical_reward_holds_its_points_and_one_unit_in_the_review_hold(chart, catalogue):
    command, state = held_of(MUG)
    plan = redeem.route(command, chart, catalogue, state)
    assert plan.template == "hold_reward" and plan.reference == "redeem:r-9"
    assert (plan.vars["points"], plan.vars["unit"]) == ("PTS 1000", "UNITS 1")
    assert (plan.vars["stock"], plan.vars["hold"]) == ("catalogue:MUG-BLUE:stock", "customers:c42:holds:rv-r-9")
    assert (plan.metadata["reward"], plan.metadata["reward_type"], plan.metadata["review"]) == ("MUG-BLUE", "product", "required")
    # the unit is taken under the stock account's overdraft check and the reward's counter, as a redemption takes it
    assert catalogue.get("hold_reward").overdraft_vars == frozenset({"counter_sequence"})
    assert plan.vars["counter_expected"] == f"CTL {MUG.count + 1}"
    assert not chart.kind_of(plan.vars["stock"]).may_go_negative


def test_a_flagged_physical_reward_without_stock_is_out_of_stock_and_a_flagged_cashback_is_a_points_hold(chart, catalogue):
    command, state = held_of(MUG.model_copy(update={"stock": 0}))
    with pytest.raises(OutOfStock, match="MUG-BLUE is out of stock"):
        redeem.route(command, chart, catalogue, state)
    command, state = held_of(CASH)
    plan = redeem.route(command, chart, catalogue, state)
    assert plan.template == "hold" and "unit" not in plan.vars and plan.metadata["reward_type"] == "cashback"


def held_unit(decision: str, at=AT):  # type: ignore[no-untyped-def]
    hold = "customers:c42:holds:rv-r-9"
    postings = (
        Posting(source="customers:c42:points:20260930", destination=hold, amount=600, asset="PTS"),
        Posting(source="customers:c42:points:noexpiry", destination=hold, amount=400, asset="PTS"),
        Posting(source="catalogue:MUG-BLUE:stock", destination=hold, amount=1, asset="UNITS"),
    )
    held = Held(
        hold_id="rv-r-9", postings=postings, placed_at=AT, deadline=AT + timedelta(hours=72), available={"PTS": 1000},
        metadata={"reward": "MUG-BLUE", "reward_type": "product"},
    )
    command = ReviewCommand(customer="c42", redemption_id="r-9", decision=decision, operator="ops-7", reason="checked", at=at)
    return command, held


def test_approving_a_physical_reward_redeems_the_points_and_delivers_the_unit(chart, catalogue):
    command, held = held_unit("approved")
    plan = review.plan(command, chart, catalogue, held)
    assert plan.template == "capture_reward" and plan.reference == "review:r-9"
    assert plan.vars == {
        "captured": "PTS 1000", "hold": "customers:c42:holds:rv-r-9", "redeemed": "program:points:redeemed",
        "unit": "UNITS 1", "delivered": "catalogue:MUG-BLUE:delivered",
    }
    assert (plan.metadata["reward"], plan.metadata["reward_type"], plan.metadata["points"]) == ("MUG-BLUE", "product", "1000")


def test_rejecting_or_lapsing_a_physical_reward_returns_the_points_to_their_buckets_and_the_unit_to_stock(chart, catalogue):
    for decision, at in (("rejected", AT), ("lapsed", AT + timedelta(hours=72))):
        command, held = held_unit(decision, at)
        plan = review.plan(command, chart, catalogue, held)
        assert plan.template == "void" and "returned_3" not in plan.vars
        assert [(plan.vars[f"returned_{n}"], plan.vars[f"bucket_{n}"]) for n in range(3)] == [
            ("PTS 600", "customers:c42:points:20260930"), ("PTS 400", "customers:c42:points:noexpiry"),
            ("UNITS 1", "catalogue:MUG-BLUE:stock"),
        ]


def test_a_physical_reward_hold_already_decided_is_refused(chart, catalogue):
    command, held = held_unit("approved")
    with pytest.raises(OperationRefused, match="already decided"):
        review.plan(command, chart, catalogue, held.model_copy(update={"available": {"PTS": 0}}))


@pytest.mark.parametrize("hold_id", ["rv-r-9", "rvh-0123abcd"])
def test_an_authorisation_hold_may_not_take_the_name_of_a_review_hold(hold_id):
    from loyalty_accounts.operations import HoldCommand

    with pytest.raises(InvalidCommand, match="kept for redemptions held for review"):
        HoldCommand(customer="c42", hold_id=hold_id, points=10, at=AT)
    assert HoldCommand(customer="c42", hold_id="rv9", points=10, at=AT).hold_id == "rv9"
