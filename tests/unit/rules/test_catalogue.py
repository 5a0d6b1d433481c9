"""The reward catalogue of a rules file: prices from value × type rate, minimums, every problem with its line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rulesupport import ROOT, TEXT, line_of

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.errors import ChartError, InvalidCommand
from loyalty_accounts.rules.loader import load_rules, parse_rules

CATALOGUE = """\
catalogue:
  currency: USD
  reward_types:
    cashback: {points_per_unit: 100, minimum_points: 2500}
    gift_card: {points_per_unit: "90", minimum_points: 2250}
    product: {points_per_unit: 80, minimum_points: 800}
    donation: {points_per_unit: 110, minimum_points: 550}
  rewards:
    - {sku: CASH-25, type: cashback, name: "25.00 cashback", value: "25.00"}
    - {sku: GIFT-30, type: gift_card, name: "30.00 gift card", value: 30.00, points: 2700}
    - {sku: MUG, type: product, name: "Mug", value: "12.50", physical: true}
    - {sku: TOTE, type: product, name: "Tote bag", points: 1200, physical: true}
    - {sku: DONATE-7, type: donation, name: "7.00 donated", value: "7.00"}
"""


def with_catalogue(*replacements: tuple[str, str]) -> str:
    text = TEXT + CATALOGUE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_prices_are_the_value_at_the_types_rate_exactly():
    catalogue = parse_rules(with_catalogue(), source="t.yaml").require_catalogue()
    prices = {r.sku: catalogue.price(r) for r in catalogue.rewards}
    # by hand: 25.00 × 100, 30.00 × 90, 12.50 × 80, given 1200, 7.00 × 110
    assert prices == {"CASH-25": 2500, "GIFT-30": 2700, "MUG": 1000, "TOTE": 1200, "DONATE-7": 770}
    assert catalogue.reward_types["gift_card"].points_per_unit == Decimal("90")
    assert [r.sku for r in catalogue.rewards if r.physical] == ["MUG", "TOTE"]


def test_the_repository_catalogue_loads_against_the_chart():
    rules = load_rules(ROOT / "rules.yaml", chart=load_chart(ROOT / "chart_of_accounts.yaml"))
    catalogue = rules.require_catalogue()
    rates = {name: (int(t.points_per_unit), t.minimum_points) for name, t in catalogue.reward_types.items()}
    assert rates["cashback"] == (100, 2500) and rates["gift_card"][0] == 90
    assert rates["product"][0] == 80 and rates["donation"][0] == 110
    for reward in catalogue.rewards:
        kind = catalogue.reward_types[reward.type]
        assert catalogue.price(reward) >= kind.minimum_points
        if reward.value is not None:
            assert catalogue.price(reward) == reward.value * kind.points_per_unit


def test_an_unknown_sku_is_a_bad_command_and_no_catalogue_is_said():
    catalogue = parse_rules(with_catalogue(), source="t.yaml").require_catalogue()
    with pytest.raises(InvalidCommand, match="'NOPE' is not in the catalogue"):
        catalogue.reward("NOPE")
    with pytest.raises(InvalidCommand, match="declare no reward catalogue"):
        parse_rules(TEXT, source="t.yaml").require_catalogue()


BAD = [
    ('value: "12.50", physical', 'value: "12.51", physical', "sku: MUG",
     r"catalogue\.rewards\.2\.value \(line {line}\): 12\.51 × 80 points per 1\.00 USD is not a whole number of points"),
    ("value: 30.00, points: 2700", "value: 30.00, points: 2600", "GIFT-30",
     r"catalogue\.rewards\.1\.points \(line {line}\): 2600 disagrees with the value: .* = 2700"),
    ('value: "7.00"}', 'value: "4.00"}', "DONATE-7",
     r"catalogue\.rewards\.4\.value \(line {line}\): 440 points is below the donation minimum of 550"),
    ("points: 1200, physical", "points: 700, physical", "sku: TOTE",
     r"catalogue\.rewards\.3\.points \(line {line}\): 700 points is below the product minimum of 800"),
    ("{sku: TOTE, type: product, name: \"Tote bag\", points: 1200,", "{sku: TOTE, type: product, name: \"Tote bag\",", "sku: TOTE",
     r"catalogue\.rewards\.3 \(line {line}\): give a value .* or a points price"),
    ("sku: DONATE-7, type: donation", "sku: MUG, type: donation", "name: \"7.00 donated\"",
     r"catalogue\.rewards\.4\.sku \(line {line}\): SKU 'MUG' is listed twice"),
    ("sku: MUG, type: product", "sku: MUG, type: voucher", "type: voucher",
     r"catalogue\.rewards\.2\.type \(line {line}\): 'voucher' is not a declared reward type"),
    ("sku: MUG,", "sku: blue.mug,", "blue.mug", r"catalogue\.rewards\.2\.sku \(line {line}\): String should match pattern"),
    ("cashback: {points_per_unit: 100", "cashback: {points_per_unit: -1", "cashback: {", r"catalogue\.reward_types\.cashback\.points_per_unit \(line {line}\)"),
    ('value: "25.00"}', "value: 25.00000001e0}", "CASH-25", r"catalogue\.rewards\.0\.value \(line {line}\)"),
    ("points: 1200, physical: true", "points: 1200.5, physical: true", "sku: TOTE", r"catalogue\.rewards\.3\.points \(line {line}\)"),
    ("points: 1200, physical: true", "points: 1200, physical: true, colour: red", "sku: TOTE",
     r"catalogue\.rewards\.3\.colour \(line {line}\): Extra inputs are not permitted"),
]


@pytest.mark.parametrize("old, new, marker, expected", BAD, ids=[b[3][:40] for b in BAD])
def test_a_bad_catalogue_names_the_file_the_field_and_the_line(old, new, marker, expected):
    text = with_catalogue((old, new))
    with pytest.raises(ChartError, match=r"t\.yaml: " + expected.format(line=line_of(text, marker))):
        parse_rules(text, source="t.yaml")


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("currency: USD", "currency: EUR", r"catalogue\.currency \(line \d+\): the chart's money asset is USD/2"),
        ('value: "12.50", physical', 'value: "12.500", physical', r"catalogue\.rewards\.2\.value \(line \d+\): USD takes 2 decimals"),
    ],
)
def test_the_catalogue_is_checked_against_the_chart(old, new, expected):
    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    parse_rules(with_catalogue(), chart=chart)
    with pytest.raises(ChartError, match=expected):
        parse_rules(with_catalogue((old, new)).replace("25.00 cashback", "cashback"), source="r.yaml", chart=chart)


def test_a_physical_reward_needs_the_charts_stock_accounts():
    text = (ROOT / "chart_of_accounts.yaml").read_text()
    without = text.replace("  stock_asset: UNITS", "  # no stock asset")
    chart = Chart.from_yaml(without, source="c.yaml")
    with pytest.raises(ChartError, match=r"catalogue\.rewards\.2\.physical \(line \d+\): a physical reward keeps its stock on the ledger"):
        parse_rules(with_catalogue(), source="r.yaml", chart=chart)
    # without physical rewards the same chart is enough
    parse_rules(with_catalogue().replace(", physical: true", ""), source="r.yaml", chart=chart)


def test_a_phone_number_typed_as_a_sku_is_not_repeated():
    catalogue = parse_rules(with_catalogue(), source="t.yaml").require_catalogue()
    with pytest.raises(InvalidCommand) as refused:
        catalogue.reward("4155550100")
    assert "4155550100" not in refused.value.message and "not repeated" in refused.value.message
