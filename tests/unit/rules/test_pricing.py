"""Pricing: the order of the steps, caps, stacking, one rounding, refusals, metadata, and its properties."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rulesupport import EDITIONS_2025, NEW_YORK, PARIS, TEXT, TOKYO, UTC, order, points

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.rules.loader import parse_rules
from loyalty_accounts.rules.model import MAX_STACKED_CAMPAIGNS
from loyalty_accounts.rules.pricing import EarnBreakdown, quote


def test_the_worked_example_of_the_module_docstring(repo_rules):
    o = order("120.35", currency="EUR", category="groceries", channel="store",
              at=datetime(2026, 10, 24, 10, tzinfo=PARIS))
    b = quote(repo_rules, o, tier="gold", campaign_usage={})
    assert [(l.points, l.label.split()[0]) for l in b.lines()] == [
        (Decimal("132.385"), "base:"), (Decimal("132.385"), "category"), (Decimal("132.385"), "tier"),
        (300, "campaign"), (Decimal("-0.155"), "rounding"),
    ]
    assert b.campaigns[0].clipped == Decimal("97.155") and b.campaigns[0].cap == "order"
    assert b.points == 697


# -- caps ----------------------------------------------------------------------


AUG = datetime(2026, 8, 5, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "amount, category, channel, usage, total, kept, clipped, cap",
    [
        ("50.00", "electronics", "web", 0, 150, 100, 0, None),  # under both caps
        ("75.00", "electronics", "web", 0, 225, 150, 0, None),  # exactly the per-order cap: nothing clipped
        ("100.00", "electronics", "web", 0, 250, 150, 50, "order"),  # 200 wanted, 150 per order
        ("100.00", "electronics", "web", 300, 200, 100, 100, "customer"),  # 100 left of 400
        ("100.00", "electronics", "app", 250, 250, 150, 50, "customer"),  # 150 left = 150 per order: customer on a tie
        ("100.00", "electronics", "web", 400, 100, 0, 200, "customer"),  # cap used up: the step says so
        ("100.00", "electronics", "web", 900, 100, 0, 200, "customer"),  # usage beyond the cap is not negative room
        ("100.00", "books", "web", 0, 100, None, None, None),  # category filter
        ("100.00", "electronics", "store", 0, 100, None, None, None),  # channel filter
    ],
)
def test_caps_per_order_and_per_customer(rules, amount, category, channel, usage, total, kept, clipped, cap):
    b = quote(rules, order(amount, category=category, channel=channel, at=AUG), tier="member",
              campaign_usage={"capped": usage})
    assert b.points == total
    if kept is None:
        assert b.campaigns == ()
    else:
        (step,) = b.campaigns
        assert (step.points, step.clipped, step.cap) == (kept, clipped, cap)
        assert b.campaign_charges() == {"capped": kept}


def test_charges_round_up_so_a_customer_never_exceeds_the_cap(rules):
    # 33.33 × (3 − 1) = 66.66 kept, charged as 67
    b = quote(rules, order("33.33", category="electronics", at=AUG), tier="member", campaign_usage={})
    assert b.campaigns[0].points == Decimal("66.66")
    assert b.campaign_charges() == {"capped": 67}
    assert b.points == 99  # floor(33.33 + 66.66)


# -- stacking order, rounding, exclusions, minimum -----------------------------


def test_campaigns_stack_by_start_then_id_and_bonuses_are_not_multiplied(rules):
    b = quote(rules, order("100.00", category="books", at=datetime(2026, 9, 3, tzinfo=UTC)), tier="member",
              campaign_usage={})
    assert [(s.campaign, s.points, s.cap) for s in b.campaigns] == [
        ("stack-bonus", 25, None),  # starts first; a bonus is added aside
        ("stack-a", 50, None),  # same start as stack-b, id first: 100 × 0.5
        ("stack-b", 50, "order"),  # 150 wanted, 50 per order
        ("aa-late", 200, None),  # starts last whatever its id: running 200 × 1
    ]
    assert b.points == 425  # 100 + 50 + 50 + 200 + 25


def test_only_campaigns_already_started_stack(rules):
    b = quote(rules, order("100.00", category="books", at=datetime(2026, 9, 1, 23, 59, 59, tzinfo=UTC)),
              tier="member", campaign_usage={})
    assert [s.campaign for s in b.campaigns] == ["stack-bonus", "stack-a", "stack-b"]
    assert b.points == 225


@pytest.mark.parametrize(
    "amount, currency, category, tier, expected",
    [
        ("10.01", "EUR", "books", "member", 11),  # 11.011
        ("10.01", "EUR", "books", "silver", 13),  # 13.76375
        ("1.50", "EUR", "groceries", "member", 3),  # 1.65 × 2 = 3.3; flooring the base first would give 2
        ("1.50", "EUR", "groceries", "silver", 4),  # 4.125; flooring at every step would give 2
        ("9.99", "USD", "fuel", "member", 4),  # 4.995
        ("9.99", "USD", "fuel", "gold", 7),  # 7.4925
        ("1999", "JPY", "books", "member", 19),  # 19.99
        ("1999", "JPY", "groceries", "gold", 59),  # 59.97
        ("5.00", "USD", "books", "member", 5),  # the minimum itself earns
    ],
)
def test_rounding_is_one_floor_at_the_end(rules, amount, currency, category, tier, expected):
    b = quote(rules, order(amount, currency=currency, category=category), tier=tier, campaign_usage={})
    assert b.points == expected
    assert sum(l.points for l in b.lines()) == expected


def test_the_stated_rounding_rule_is_the_one_applied():
    ceiling = parse_rules(TEXT.replace("rounding: floor", "rounding: ceiling"))
    assert points(ceiling, order("10.01", currency="EUR")) == 12


@pytest.mark.parametrize(
    "amount, currency, category, at, reason",
    [
        ("100.00", "USD", "gift_cards", datetime(2026, 5, 1, tzinfo=UTC), "excluded_category"),
        ("100.00", "USD", "tobacco", datetime(2026, 6, 1, 12, tzinfo=UTC), "excluded_category"),  # no ny-day bonus either
        ("4.99", "USD", "books", datetime(2026, 5, 1, tzinfo=UTC), "below_minimum"),
        ("4.99", "USD", "books", datetime(2026, 6, 1, 12, tzinfo=UTC), "below_minimum"),  # nor a bonus below the minimum
        ("499", "JPY", "groceries", datetime(2026, 5, 1, tzinfo=UTC), "below_minimum"),
    ],
)
def test_excluded_categories_and_the_minimum_earn_nothing_with_a_reason(rules, amount, currency, category, at, reason):
    b = quote(rules, order(amount, currency=currency, category=category, at=at), tier="gold", campaign_usage={})
    assert (b.points, b.reason, b.campaigns) == (0, reason, ())
    assert [l.points for l in b.lines()] == [0]
    assert EarnBreakdown.from_metadata(b.to_metadata()) == b


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (lambda: order("10.00", currency="GBP"), {}, "currency 'GBP' does not earn points"),
        (lambda: order("10.001"), {}, "more than 2 decimals"),
        (lambda: order("100.5", currency="JPY"), {}, "more than 0 decimals"),
        (lambda: order(), {"tier": "platinum"}, "unknown tier 'platinum'"),
        (lambda: order(channel="kiosk"), {}, "unknown channel 'kiosk'"),
        (lambda: order(), {"campaign_usage": {"capped": -1}}, "non-negative integer"),
    ],
)
def test_bad_orders_are_invalid_commands(rules, make, kwargs, message):
    args = {"tier": "member", "campaign_usage": {}, **kwargs}
    with pytest.raises(InvalidCommand, match=message):
        quote(rules, make(), **args)


# -- metadata and explanation --------------------------------------------------


def test_metadata_is_flat_compact_and_free_of_customer_and_order(rules):
    b = quote(rules, order("100.00", category="books", at=datetime(2026, 9, 3, tzinfo=UTC)), tier="silver",
              campaign_usage={})
    meta = b.to_metadata()
    assert meta["r_ver"] == "t.1" and meta["r_pts"] == str(b.points) and meta["r_tier"] == "silver"
    assert meta["r_c2"] == "stack-b" and meta["r_c2_cap"] == "order" and meta["r_c0_b"] == "25"
    assert all(isinstance(v, str) for v in meta.values())
    assert "c42" not in meta.values() and "o-1" not in meta.values()
    assert all(k.startswith("r_") for k in meta)
    assert EarnBreakdown.from_metadata({**meta, "customer": "c42", "order_id": "o-1"}) == b


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.pop("r_ver"), "incomplete or malformed"),
        (lambda m: m.update(r_pts="9999"), "is not floor of"),
        (lambda m: m.update(r_c0_p="abc"), "malformed"),
        (lambda m: m.update(r_c7="ghost"), "unknown keys"),  # a campaign out of sequence
        (lambda m: m.update(r_extra="1"), "unknown keys"),
        (lambda m: m.update(r_amt="1" * 300), "malformed"),
    ],
)
def test_tampered_metadata_is_refused(rules, change, message):
    meta = quote(rules, order("100.00", category="books", at=datetime(2026, 9, 3, tzinfo=UTC)), tier="member",
                 campaign_usage={}).to_metadata()
    change(meta)
    with pytest.raises(InvalidCommand, match=message):
        EarnBreakdown.from_metadata(meta)


# -- properties ----------------------------------------------------------------


CATEGORIES = ["groceries", "fuel", "travel", "electronics", "fashion", "home", "gift_cards", "books"]
ZONES = [UTC, PARIS, NEW_YORK, TOKYO]


def _amounts(currency: str) -> st.SearchStrategy[Decimal]:
    if currency == "JPY":
        return st.integers(min_value=1, max_value=10**9).map(Decimal)
    return st.integers(min_value=1, max_value=10**10).map(lambda cents: Decimal(cents).scaleb(-2))


instants = st.datetimes(
    min_value=datetime(2025, 10, 20), max_value=datetime(2027, 3, 5), timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)


@st.composite
def scenarios(draw):
    currency = draw(st.sampled_from(["USD", "EUR", "JPY"]))
    low, high = sorted(draw(st.lists(_amounts(currency), min_size=2, max_size=2)))
    fields = dict(currency=currency, category=draw(st.sampled_from(CATEGORIES)),
                  channel=draw(st.sampled_from(["web", "app", "store"])), at=draw(instants))
    tier = draw(st.sampled_from(["member", "silver", "gold"]))
    ids = ["bf-2026", "app-week-2026-11", "winter-travel", "fresh-saturdays-2026-10", *EDITIONS_2025]
    usage = draw(st.dictionaries(st.sampled_from(ids), st.integers(min_value=0, max_value=10_000)))
    return order(low, **fields), order(high, **fields), tier, usage


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_properties_of_a_quote(repo_rules, scenario):
    low, high, tier, usage = scenario
    small = quote(repo_rules, low, tier=tier, campaign_usage=usage)
    large = quote(repo_rules, high, tier=tier, campaign_usage=usage)
    for b in (small, large):
        assert b.points >= 0
        assert sum(l.points for l in b.lines()) == b.points
        meta = b.to_metadata()
        assert EarnBreakdown.from_metadata(meta) == b
        assert len(meta) <= 12 + 5 * MAX_STACKED_CAMPAIGNS and all(len(v) <= 200 for v in meta.values())
    assert small.points <= large.points  # more money never earns fewer points


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=100, max_value=500_000), min_size=1, max_size=12),
       st.sampled_from(["member", "silver", "gold"]),
       st.sampled_from([datetime(2026, 11, 28, 12, tzinfo=NEW_YORK), datetime(2025, 11, 29, 12, tzinfo=NEW_YORK)]))
def test_a_customer_never_gets_more_than_a_campaigns_customer_cap(repo_rules, cents, tier, at):
    usage: dict[str, int] = {}
    kept = Decimal(0)
    for n in cents:
        o = order(Decimal(n).scaleb(-2), category="electronics", at=at)
        b = quote(repo_rules, o, tier=tier, campaign_usage=usage)
        for step in b.campaigns:
            kept += step.points
            usage[step.campaign] = usage.get(step.campaign, 0) + step.charged
    assert kept <= 6000  # bf-2026's (and bf-2025's) cap_per_customer
