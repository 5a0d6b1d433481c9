"""Comparing two rule versions on sample orders."""

from __future__ import annotations

from rulesupport import TEXT, order

from loyalty_accounts.rules.loader import parse_rules
from loyalty_accounts.rules.versions import compare_versions


def test_compare_versions(rules):
    new = parse_rules(
        TEXT.replace('version: "t.1"', 'version: "t.2"')
        .replace("EUR: {rate: 1.1", "EUR: {rate: 1.2")
        .replace("groceries: 2", "groceries: 3")
        .replace('  JPY: {rate: "0.01", decimals: 0, minimum_order: "500"}\n', "")
    )
    samples = [
        order("100.00", currency="EUR", category="books").model_copy(update={"order_id": "eur"}),
        order("50.00", currency="USD", category="groceries").model_copy(update={"order_id": "groc"}),
        order("5000", currency="JPY", category="books").model_copy(update={"order_id": "yen"}),
        order("100.00", category="gift_cards").model_copy(update={"order_id": "gift"}),
    ]
    rows = compare_versions(rules, new, samples)
    got = [(r.order_id, r.tier, r.old_points, r.new_points, r.delta) for r in rows]
    assert got == [("eur", "member", 110, 120, 10), ("groc", "member", 100, 150, 50),
                   ("yen", "member", 50, None, None), ("gift", "member", 0, 0, 0)]
    assert "does not earn points" in rows[2].new_note
    assert rows[3].old_note == rows[3].new_note == "excluded_category"
    assert {(r.old_version, r.new_version) for r in rows} == {("t.1", "t.2")}
    assert compare_versions(rules, new, samples[:1], tier="gold")[0].new_points == 180
