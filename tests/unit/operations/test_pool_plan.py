"""Partner pools, pure: the largest-remainder distribution, the checks of a draw, and the three plans' legs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from opsupport import AT, buckets

from loyalty_accounts.chart import Chart
from loyalty_accounts.errors import ChartError, InsufficientPoints, InvalidCommand
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import pool_contribute, pool_earn, pool_redeem
from loyalty_accounts.operations.pool import Charge, PoolFunds, distribute, largest_remainder, open_pool_sequence
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand, points_for_amount
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.operations.pool_redeem import PoolRedeemCommand
from loyalty_accounts.types import TransactionPlan

CHART_PATH = Path(__file__).resolve().parents[3] / "chart_of_accounts.yaml"


def listed(plan: TransactionPlan, name: str) -> list[str]:
    """A list variable of the template as the plan binds it (``$name_0``, ``$name_1``...)."""

    values = []
    while f"{name}_{len(values)}" in plan.vars:
        values.append(str(plan.vars[f"{name}_{len(values)}"]))
    return values


def charges(points: int, *weights: tuple[str, int]) -> dict[str, int]:
    return {c.partner: c.points for c in largest_remainder(points, list(weights))}


def test_the_chart_s_worked_example_3_to_1_draw_of_10() -> None:
    # floors 7 and 2, remainders 2 and 2: the tie goes to the larger share
    assert charges(10, ("skyway", 3), ("cityrail", 1)) == {"skyway": 8, "cityrail": 2}
    assert charges(10, ("cityrail", 1), ("skyway", 3)) == {"skyway": 8, "cityrail": 2}  # order of the keys is not the rule


def test_the_largest_remainder_gets_the_left_over_point() -> None:
    # 7 × 3/4 = 5.25, 7 × 1/4 = 1.75: floors 5 and 1, the point left over to the remainder .75
    assert charges(7, ("skyway", 3), ("cityrail", 1)) == {"skyway": 5, "cityrail": 2}


def test_equal_weights_and_remainders_go_alphabetically() -> None:
    assert charges(1, ("b", 1), ("a", 1)) == {"a": 1, "b": 0}
    assert charges(2, ("c", 1), ("b", 1), ("a", 1)) == {"a": 1, "b": 1, "c": 0}


def test_a_member_without_weight_is_charged_nothing() -> None:
    assert charges(5, ("a", 0), ("b", 2)) == {"a": 0, "b": 5}
    with pytest.raises(ValueError):
        largest_remainder(5, [("a", 0)])


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6).filter(lambda ws: sum(ws) > 0),
)
def test_the_charges_are_whole_sum_to_the_draw_and_stay_within_one_point_of_pro_rata(points: int, weights: list[int]) -> None:
    named = [(f"p{i}", w) for i, w in enumerate(weights)]
    got = largest_remainder(points, named)
    assert sum(c.points for c in got) == points
    total = sum(weights)
    for charge, (_, w) in zip(got, named):
        exact = Decimal(points * w) / total
        assert 0 <= charge.points - int(points * w // total) <= 1 and abs(charge.points - exact) < 1


def test_a_draw_is_refused_when_the_pool_or_a_member_cannot_cover_it(chart: Chart) -> None:
    pool = chart.pool("travel")
    with pytest.raises(InsufficientPoints, match="pool travel holds 9 points; the draw needs 10"):
        distribute("travel", pool, 10, {"skyway": 9, "cityrail": 0})
    # enough in the pool, but cityrail's share (2 of 10) exceeds its 1 point
    with pytest.raises(InsufficientPoints, match="charges cityrail 2 points .shares.; it has 1 left"):
        distribute("travel", pool, 10, {"skyway": 100, "cityrail": 1})
    assert distribute("travel", pool, 10, {"skyway": 8, "cityrail": 2}) == (
        Charge(partner="skyway", points=8), Charge(partner="cityrail", points=2)
    )


def test_distribution_by_funds_drains_the_pool_to_zero(chart: Chart) -> None:
    pool = chart.pool("travel").model_copy(update={"distribution": "funds"})
    # pro rata to what is left: 100 of 130 from 97 and 33 → 74.6 and 25.4: 75 and 25
    assert distribute("travel", pool, 100, {"skyway": 97, "cityrail": 33}) == (
        Charge(partner="skyway", points=75), Charge(partner="cityrail", points=25)
    )
    # the whole pool, whatever the split of its funds
    assert distribute("travel", pool, 130, {"skyway": 97, "cityrail": 33}) == (
        Charge(partner="skyway", points=97), Charge(partner="cityrail", points=33)
    )


def test_a_contribution_moves_points_to_funds_and_the_price_to_settlement(chart: Chart, catalogue: Catalogue) -> None:
    plan = pool_contribute.plan(
        PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c-1", points=3001, at=AT), chart, catalogue
    )
    assert plan.reference == "pool_contribute:c-1"
    assert plan.vars["points"] == "PTS 3001" and plan.vars["funds"] == "pools:travel:partners:skyway:funds"
    assert plan.vars["contributed"] == "pools:travel:partners:skyway:contributed"
    # 3001 × 0.0090 = 27.009, half_even to the cent: 27.01
    assert plan.vars["payment"] == "USD/2 2701" and plan.vars["partner_settlement"] == "partners:skyway:settlement"
    assert (plan.metadata["payment"], plan.metadata["price_per_point"], plan.metadata["currency"]) == ("27.01", "0.0090", "USD")
    # one unit off the pool's counter, unbounded (it also gives the counter its balance row)
    assert (plan.vars["counter_step"], plan.vars["counter_sequence"], plan.vars["counter_counted"]) == (
        "CTL 1", "pools:travel:sequence", "program:control:sequence"
    )
    assert "counter_expected" not in plan.vars


def test_a_contribution_is_refused_for_a_partner_outside_the_pool_or_paying_nothing(chart: Chart, catalogue: Catalogue) -> None:
    with pytest.raises(InvalidCommand, match="unknown pool 'nowhere' .declared: travel."):
        pool_contribute.plan(PoolContributeCommand(pool="nowhere", partner="skyway", contribution_id="c", points=5, at=AT), chart, catalogue)
    with pytest.raises(InvalidCommand, match="partner 'railco' is not a member of pool 'travel'"):
        pool_contribute.plan(PoolContributeCommand(pool="travel", partner="railco", contribution_id="c", points=5, at=AT), chart, catalogue)
    data = yaml.safe_load(CHART_PATH.read_text())
    data["pools"]["travel"]["price_per_point"] = "0.004"
    cheap = Chart.from_yaml(yaml.safe_dump(data))
    with pytest.raises(InvalidCommand, match="1 points at 0.004 a point pay 0.00: too small to contribute"):
        pool_contribute.plan(PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c", points=1, at=AT), cheap, catalogue)
    assert pool_contribute.plan(
        PoolContributeCommand(pool="travel", partner="skyway", contribution_id="c", points=2, at=AT), cheap, catalogue
    ).vars["payment"] == "USD/2 1"  # 0.008 → 0.01


def test_an_amount_buys_whole_points_or_is_refused(chart: Chart) -> None:
    assert points_for_amount(chart, "travel", Decimal("9.00")) == 1000
    with pytest.raises(InvalidCommand, match="buys 1111.1+ points"):
        points_for_amount(chart, "travel", Decimal("10.00"))
    with pytest.raises(InvalidCommand, match="more decimals"):
        points_for_amount(chart, "travel", Decimal("9.001"))


def test_an_earn_issues_to_the_bucket_and_charges_the_members(chart: Chart, catalogue: Catalogue) -> None:
    plan = pool_earn.plan(
        PoolEarnCommand(customer="c42", pool="travel", earn_id="e-1", points=10, at=AT), chart, catalogue,
        PoolFunds(count=6, funds={"skyway": 50, "cityrail": 50}),
    )
    assert plan.reference == "pool_earn:e-1"
    assert plan.vars["bucket"] == "customers:c42:points:20270601" and plan.vars["issued"] == chart.issued_shard("c42")
    assert listed(plan, "charges") == ["PTS 8", "PTS 2"]
    assert listed(plan, "funds") == ["pools:travel:partners:skyway:funds", "pools:travel:partners:cityrail:funds"]
    assert listed(plan, "draws") == ["pools:travel:partners:skyway:awarded", "pools:travel:partners:cityrail:awarded"]
    assert (plan.metadata["charges"], plan.metadata["expires_at"]) == ("cityrail=2,skyway=8", "2027-06-01")
    # the pool's counter read 6 operations: the draw may take it to -7, no further
    assert (plan.vars["counter_step"], plan.vars["counter_sequence"], plan.vars["counter_expected"], plan.vars["counter_counted"]) == (
        "CTL 1", "pools:travel:sequence", "CTL 7", "program:control:sequence"
    )


def test_a_member_charged_nothing_is_left_out_of_the_legs(chart: Chart, catalogue: Catalogue) -> None:
    plan = pool_earn.plan(
        PoolEarnCommand(customer="c42", pool="travel", earn_id="e-2", points=1, at=AT), chart, catalogue,
        PoolFunds(count=1, funds={"skyway": 5, "cityrail": 5}),
    )
    assert listed(plan, "charges") == ["PTS 1"] and listed(plan, "draws") == ["pools:travel:partners:skyway:awarded"]
    assert plan.metadata["charges"] == "cityrail=0,skyway=1"


def test_a_redemption_spends_the_buckets_and_charges_the_members(chart: Chart, catalogue: Catalogue) -> None:
    plan = pool_redeem.plan(
        PoolRedeemCommand(customer="c42", pool="travel", redemption_id="r-1", points=70, at=AT, reward="lounge"),
        chart,
        catalogue,
        (buckets(d20260930=50, noexpiry=40), PoolFunds(count=2, funds={"skyway": 100, "cityrail": 100})),
    )
    assert listed(plan, "taken") == ["PTS 50", "PTS 20"] and plan.vars["redeemed"] == "program:points:redeemed"
    # 70 × 3/4 = 52.5, 70 × 1/4 = 17.5: the tie to the larger share
    assert listed(plan, "charges") == ["PTS 53", "PTS 17"]
    assert listed(plan, "draws") == ["pools:travel:partners:skyway:redeemed", "pools:travel:partners:cityrail:redeemed"]
    assert plan.metadata["reward"] == "lounge"
    assert (plan.vars["counter_sequence"], plan.vars["counter_expected"]) == ("pools:travel:sequence", "CTL 3")
    with pytest.raises(InsufficientPoints):
        pool_redeem.plan(
            PoolRedeemCommand(customer="c42", pool="travel", redemption_id="r-2", points=91, at=AT),
            chart, catalogue, (buckets(d20260930=50, noexpiry=40), PoolFunds(count=2, funds={"skyway": 100, "cityrail": 100})),
        )



def test_a_redemption_of_a_catalogue_reward_records_its_type(chart: Chart, catalogue: Catalogue) -> None:
    """The type the read found in the catalogue is written beside the SKU, as a catalogue redemption writes it;
    a label the catalogue does not list (no type read) writes the label only."""

    command = PoolRedeemCommand(customer="c42", pool="travel", redemption_id="r-3", points=20, at=AT, reward="GIFT-25")
    funds = PoolFunds(count=2, funds={"skyway": 100, "cityrail": 100})
    typed = pool_redeem.plan(command, chart, catalogue, pool_redeem.State(buckets(noexpiry=40), funds, "gift_card"))
    assert (typed.metadata["reward"], typed.metadata["reward_type"]) == ("GIFT-25", "gift_card")
    label = pool_redeem.plan(command.model_copy(update={"reward": "lounge"}), chart, catalogue, pool_redeem.State(buckets(noexpiry=40), funds))
    assert label.metadata["reward"] == "lounge" and "reward_type" not in label.metadata
    # the type changes nothing else: the same postings' vars
    assert typed.vars == label.vars

def test_a_chart_declaring_pools_is_checked_on_load() -> None:
    data = yaml.safe_load(CHART_PATH.read_text())
    data["pools"]["travel"]["members"]["railco"] = {"share": 1}
    with pytest.raises(ChartError, match=r"pools\.travel\.members\.railco.*not a partner declared under partners"):
        Chart.from_yaml(yaml.safe_dump(data))
    data = yaml.safe_load(CHART_PATH.read_text())
    del data["accounts"]["pool_funds"], data["general_ledger"]["accounts"]["pool_funds"]
    with pytest.raises(ChartError, match="missing account kind 'pool_funds'"):
        Chart.from_yaml(yaml.safe_dump(data))
    data = yaml.safe_load(CHART_PATH.read_text())
    del data["accounts"]["pool_sequence"]
    with pytest.raises(ChartError, match="missing account kind 'pool_sequence'"):
        Chart.from_yaml(yaml.safe_dump(data))
    data = yaml.safe_load(CHART_PATH.read_text())
    data["pools"]["travel"]["members"]["skyway"] = {"share": 0}
    with pytest.raises(ChartError, match=r"share"):
        Chart.from_yaml(yaml.safe_dump(data))


def test_a_draw_opens_the_pool_counter_only_when_it_has_no_row(chart: Chart, catalogue: Catalogue) -> None:
    command = PoolEarnCommand(customer="c42", pool="travel", earn_id="e-3", points=1, at=AT)
    assert open_pool_sequence(command, chart, catalogue, 0) == []
    (opening,) = open_pool_sequence(command, chart, catalogue, None)
    assert opening.reference == "open_control:pools:travel:sequence"
    plan = pool_earn.plan(command, chart, catalogue, PoolFunds(count=None, funds={"skyway": 5, "cityrail": 5}))
    assert plan.vars["counter_expected"] == "CTL 1"  # no row: nothing counted yet
