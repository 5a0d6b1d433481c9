"""Earning rules: loading with named errors, the pricing order, campaigns in time, caps, tiers, engagement."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import ChartError, InvalidCommand, LoyaltyError
from loyalty_accounts.rules import (
    MAX_STACKED_CAMPAIGNS,
    EarnBreakdown,
    EngagementLimitReached,
    Order,
    Rules,
    compare_versions,
    engagement_points,
    load_rules,
    parse_rules,
    programme_day,
    qualification_window,
    quote,
    tier_change,
    tier_for,
)

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

# Each campaign lives in its own stretch of 2026 so the cases below do not mix.
TEXT = """\
version: "t.1"
programme: acme-rewards
rounding: floor
currencies:
  USD: {rate: "1", decimals: 2, minimum_order: "5.00"}
  EUR: {rate: 1.1, decimals: 2}
  JPY: {rate: "0.01", decimals: 0, minimum_order: "500"}
channels: [web, app, store]
category_multipliers:
  groceries: 2
  fuel: "0.5"
excluded_categories: [gift_cards, tobacco]
tiers:
  qualification: {window: rolling, days: 365}
  ladder:
    - {name: member, threshold: 0, multiplier: 1}
    - {name: silver, threshold: 5000, multiplier: "1.25"}
    - {name: gold, threshold: 20000, multiplier: "1.5"}
campaigns:
  - id: paris-weekend
    timezone: Europe/Paris
    starts: "2026-10-24T00:00:00"
    ends: "2026-10-26T00:00:00"
    multiplier: 2
  - id: ny-day
    timezone: America/New_York
    starts: 2026-06-01
    ends: 2026-06-02
    bonus: 100
  - id: tokyo-offsets
    timezone: Asia/Tokyo
    starts: "2026-07-01T09:00:00+09:00"
    ends: "2026-07-01T12:00:00Z"
    bonus: 10
  - id: capped
    timezone: UTC
    starts: "2026-08-01T00:00:00"
    ends: "2026-08-15T00:00:00"
    categories: [electronics]
    channels: [web, app]
    multiplier: 3
    cap_per_order: 150
    cap_per_customer: 400
  - id: stack-b
    timezone: UTC
    starts: "2026-09-01T00:00:00"
    ends: "2026-09-10T00:00:00"
    categories: [books]
    multiplier: 2
    cap_per_order: 50
  - id: stack-a
    timezone: UTC
    starts: "2026-09-01T00:00:00"
    ends: "2026-09-10T00:00:00"
    categories: [books]
    multiplier: "1.5"
  - id: stack-bonus
    timezone: UTC
    starts: "2026-08-31T00:00:00"
    ends: "2026-09-10T00:00:00"
    categories: [books]
    bonus: 25
  - id: aa-late
    timezone: UTC
    starts: "2026-09-02T00:00:00"
    ends: "2026-09-10T00:00:00"
    categories: [books]
    multiplier: 2
engagement:
  sign_up: {points: 500, per_customer: 1}
  referral_completed: {points: 1000, per_day: 3, per_customer: 20}
  review_written: {points: 50, per_day: 2}
  app_login: {points: 5, per_day: 1}
"""

NO_USAGE: dict[str, int] = {}


@pytest.fixture(scope="module")
def rules() -> Rules:
    return parse_rules(TEXT, source="t.yaml")


@pytest.fixture(scope="module")
def repo_rules() -> Rules:
    return load_rules(ROOT / "rules.yaml", chart=load_chart(ROOT / "chart_of_accounts.yaml"))


def order(amount: str | Decimal = "100.00", *, currency: str = "USD", category: str = "books",
          channel: str = "web", at: datetime = datetime(2026, 5, 1, 12, tzinfo=UTC)) -> Order:
    return Order(customer="c42", order_id="o-1", amount=Decimal(amount), currency=currency,
                 category=category, channel=channel, ordered_at=at)


def points(rules: Rules, o: Order, tier: str = "member", usage: dict[str, int] = NO_USAGE) -> int:
    return quote(rules, o, tier=tier, campaign_usage=usage).points


def line_of(text: str, marker: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


# -- the files -------------------------------------------------------------------


def test_the_repository_rules_load_and_agree_with_the_chart(repo_rules):
    assert repo_rules.version == "2026.11.3"
    assert repo_rules.rounding == "floor"
    assert repo_rules.currency("EUR").rate == Decimal("1.1")
    assert [t.name for t in repo_rules.tiers.ladder] == ["member", "silver", "gold"]
    assert set(repo_rules.engagement) == {"sign_up", "referral_completed", "review_written", "app_login"}


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


def test_yaml_numbers_are_exact_decimals(rules):
    assert rules.currency("EUR").rate == Decimal("1.1")
    assert rules.category_multiplier("fuel") == Decimal("0.5")
    assert rules.category_multiplier("books") == 1


# (replace this, with that, line marker, expected message)
BAD_FILES = [
    ('ends: "2026-10-26T00:00:00"', 'ends: "2026-10-23T00:00:00"', "2026-10-23T00",
     r"campaigns\.0\.ends \(line {line}\): the campaign must end after it starts"),
    ('USD: {rate: "1"', 'USD: {rate: "-1"', "USD:", r"currencies\.USD\.rate \(line {line}\).*greater than 0"),
    ("{name: silver, threshold: 5000", "{name: silver, threshold: 0", "name: silver",
     r"tiers\.ladder\.1\.threshold \(line {line}\): thresholds must increase"),
    ("timezone: America/New_York", "timezone: America/Gotham", "America/Gotham",
     r"campaigns\.1\.timezone \(line {line}\): unknown IANA time zone"),
    ('starts: "2026-10-24T00:00:00"', 'starts: "2026-03-29T02:30:00"', "2026-03-29T02:30",
     r"campaigns\.0\.starts \(line {line}\): 2026-03-29T02:30:00 does not exist in Europe/Paris"),
    ('starts: "2026-10-24T00:00:00"', 'starts: "2026-10-25T02:30:00"', "2026-10-25T02:30",
     r"campaigns\.0\.starts \(line {line}\): .*happens twice in Europe/Paris"),
    ("    bonus: 100\n", "    bonus: 100\n    multiplier: 2\n", "id: ny-day",
     r"campaigns\.1 \(line {line}\): give exactly one of multiplier or bonus"),
    ("categories: [electronics]", "categories: [tobacco]", "[tobacco]",
     r"campaigns\.3\.categories \(line {line}\): 'tobacco' is excluded"),
    ("channels: [web, app]", "channels: [web, kiosk]", "[web, kiosk]",
     r"campaigns\.3\.channels \(line {line}\): 'kiosk' is not one of the declared channels"),
    ('fuel: "0.5"', "tobacco: 3", "tobacco: 3", r"category_multipliers\.tobacco \(line {line}\): this category is excluded"),
    ("{points: 5, per_day: 1}", "{points: 5}", "app_login", r"engagement\.app_login \(line {line}\): give per_day"),
    ("rounding: floor", "roundng: floor", "roundng", r"roundng \(line {line}\): Extra inputs are not permitted"),
    ('version: "t.1"', "version: 2026.11", "version", r"version \(line {line}\): Input should be a valid string"),
    ("{window: rolling, days: 365}", "{window: rolling}", "window: rolling",
     r"tiers\.qualification\.days \(line {line}\): a rolling window needs"),
    ('minimum_order: "5.00"', 'minimum_order: "5.001"', "5.001",
     r"currencies\.USD\.minimum_order \(line {line}\): USD takes 2 decimals"),
    ("    bonus: 10\n", "    bonus: 2.5\n", "bonus: 2.5", r"campaigns\.2\.bonus \(line {line}\)"),
    ("  - id: stack-a\n", "  - id: stack-b\n", "stack-b",
     r"campaigns\.5\.id .*used twice"),
    ("    categories: [books]\n    bonus: 25\n", "    categories: [books]\n    bonus: 25\n    bonus: 30\n", "bonus: 30",
     r"malformed YAML \(line {line}, column \d+\): duplicate key 'bonus'"),
    ("channels: [web, app, store]", "channels: [web, app, store", "channels: [web, app, store",
     r"malformed YAML \(line \d+"),
]


@pytest.mark.parametrize("old, new, marker, expected", BAD_FILES, ids=[b[3][:30] for b in BAD_FILES])
def test_a_bad_rules_file_names_the_file_the_field_and_the_line(old, new, marker, expected):
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    with pytest.raises(ChartError, match=r"t\.yaml: " + expected.format(line=line_of(text, marker))):
        parse_rules(text, source="t.yaml")


def test_too_many_overlapping_campaigns_are_refused():
    extra = "".join(
        f"  - {{id: pile-{i}, timezone: UTC, starts: '2027-01-0{1 + i % 2}T00:00:00', ends: '2027-02-01T00:00:00', bonus: 1}}\n"
        for i in range(MAX_STACKED_CAMPAIGNS + 1)
    )
    text = TEXT.replace("engagement:\n", extra + "engagement:\n")
    with pytest.raises(ChartError, match=rf"campaigns\.\d+ \(line \d+\): more than {MAX_STACKED_CAMPAIGNS} campaigns overlap"):
        parse_rules(text, source="t.yaml")


def test_back_to_back_campaigns_do_not_overlap():
    extra = "".join(
        f"  - {{id: relay-{i}, timezone: UTC, starts: '2027-01-{i + 1:02d}', ends: '2027-01-{i + 2:02d}', bonus: 1}}\n"
        for i in range(MAX_STACKED_CAMPAIGNS + 3)
    )
    assert len(parse_rules(TEXT.replace("engagement:\n", extra + "engagement:\n")).campaigns) == 8 + MAX_STACKED_CAMPAIGNS + 3


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("programme: acme-rewards", "programme: other-club", r"r\.yaml: programme \(line 2\): the chart is for programme 'acme-rewards'"),
        ("  JPY: {", "  GBP: {rate: 1, decimals: 2}\n  JPY: {", r"currencies\.GBP \(line \d+\): the chart does not accept GBP"),
        ('JPY: {rate: "0.01", decimals: 0', 'JPY: {rate: "0.01", decimals: 2', r"currencies\.JPY\.decimals .*gives JPY 0 decimals"),
    ],
)
def test_rules_are_checked_against_the_chart(old, new, expected):
    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    parse_rules(TEXT, chart=chart)
    with pytest.raises(ChartError, match=expected):
        parse_rules(TEXT.replace(old, new), source="r.yaml", chart=chart)


def test_order_defaults_stand_in_for_what_an_order_does_not_say(repo_rules, rules):
    assert repo_rules.order_fields(None, None) == ("general", "store")
    assert repo_rules.order_fields("books", None) == ("books", "store")
    assert repo_rules.order_fields("books", "app") == ("books", "app")
    with pytest.raises(InvalidCommand, match="needs a category and channel: rules t.1 set no order_defaults"):
        rules.order_fields(None, None)
    assert rules.order_fields("books", "web") == ("books", "web")


@pytest.mark.parametrize(
    "defaults, expected",
    [
        ("{category: general, channel: kiosk}", r"order_defaults\.channel \(line {line}\): 'kiosk' is not one of the declared"),
        ("{category: tobacco, channel: web}", r"order_defaults\.category \(line {line}\): 'tobacco' is excluded"),
    ],
)
def test_order_defaults_are_checked(defaults, expected):
    text = TEXT + f"order_defaults: {defaults}\n"
    with pytest.raises(ChartError, match=r"t\.yaml: " + expected.format(line=line_of(text, "order_defaults"))):
        parse_rules(text, source="t.yaml")


def test_missing_rules_file(tmp_path):
    with pytest.raises(ChartError, match="nowhere.yaml: cannot read the rules file"):
        load_rules(tmp_path / "nowhere.yaml")


def test_default_path_is_the_repository_rules(monkeypatch):
    monkeypatch.delenv("LOYALTY_RULES", raising=False)
    assert load_rules() == load_rules(ROOT / "rules.yaml")


# -- campaign windows and time zones ------------------------------------------------


@pytest.mark.parametrize(
    "at, expected",
    [
        # paris-weekend: Sat 2026-10-24 00:00 CEST (22:00Z) to Mon 2026-10-26 00:00 CET (23:00Z); clocks go back on the 25th
        (datetime(2026, 10, 23, 21, 59, 59, tzinfo=UTC), 100),  # one second before the start
        (datetime(2026, 10, 23, 22, 0, 0, tzinfo=UTC), 200),  # start inclusive
        (datetime(2026, 10, 24, 0, 0, 0, tzinfo=PARIS), 200),  # the same instant, written in Paris time
        (datetime(2026, 10, 24, 6, 0, 0, tzinfo=timezone(timedelta(hours=8))), 200),  # and with a +08:00 offset
        (datetime(2026, 10, 25, 22, 30, 0, tzinfo=UTC), 200),  # 23:30 CET: still Sunday in Paris after the DST change
        (datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC), 200),  # last second
        (datetime(2026, 10, 25, 23, 0, 0, tzinfo=UTC), 100),  # end exclusive (00:00 CET, not 00:00 CEST)
        # ny-day: dates only, midnight to midnight in New York (EDT, -04:00)
        (datetime(2026, 6, 1, 3, 59, 59, tzinfo=UTC), 100),
        (datetime(2026, 6, 1, 4, 0, 0, tzinfo=UTC), 200),
        (datetime(2026, 6, 2, 1, 0, 0, tzinfo=PARIS), 200),  # 2026-06-01 19:00 in New York
        (datetime(2026, 6, 1, 23, 59, 59, tzinfo=NEW_YORK), 200),
        (datetime(2026, 6, 2, 0, 0, 0, tzinfo=NEW_YORK), 100),
        # tokyo-offsets: edges given with offsets are instants, whatever the campaign's zone
        (datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC), 100),
        (datetime(2026, 7, 1, 9, 0, 0, tzinfo=TOKYO), 110),
        (datetime(2026, 7, 1, 11, 59, 59, tzinfo=UTC), 110),
        (datetime(2026, 7, 1, 21, 0, 0, tzinfo=TOKYO), 100),
    ],
)
def test_campaign_windows_start_inclusive_end_exclusive_in_their_time_zone(rules, at, expected):
    assert points(rules, order("100.00", category="shoes", at=at)) == expected


def test_the_dst_campaign_window_lasts_49_hours(rules):
    campaign = next(c for c in rules.campaigns if c.id == "paris-weekend")
    assert campaign.start == datetime(2026, 10, 23, 22, tzinfo=UTC)
    assert campaign.end == datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert campaign.end - campaign.start == timedelta(hours=49)


# The demo programme (src/loyalty_accounts/demo.py) plays autumn 2025 to autumn 2026 under
# last year's editions of the campaigns: each the 2026 campaign 52 weeks (364 days) earlier.
EDITIONS_2025 = {
    "fresh-saturdays-2025-10": "fresh-saturdays-2026-10",
    "app-week-2025-11": "app-week-2026-11",
    "bf-2025": "bf-2026",
    "winter-travel-2025-26": "winter-travel",
}


@pytest.mark.parametrize("old_id, new_id", EDITIONS_2025.items())
def test_the_2025_campaigns_are_the_2026_ones_52_weeks_earlier(repo_rules, old_id, new_id):
    old, new = (next(c for c in repo_rules.campaigns if c.id == i) for i in (old_id, new_id))
    # the same weekdays and wall-clock hours in the same zone: exactly 364 days in UTC, DST included
    assert (new.start - old.start, new.end - old.end) == (timedelta(days=364), timedelta(days=364))
    assert old.start.astimezone(old.zone).weekday() == new.start.astimezone(new.zone).weekday()
    same = ("timezone", "categories", "channels", "multiplier", "bonus", "cap_per_order", "cap_per_customer")
    assert {f: getattr(old, f) for f in same} == {f: getattr(new, f) for f in same}


@pytest.mark.parametrize(
    "campaign, start, end",
    [
        # Sat 00:00 CEST to Mon 00:00 CET: summer time ended on Sunday 2025-10-26 (and 2026-10-25)
        ("fresh-saturdays-2025-10", datetime(2025, 10, 24, 22, tzinfo=UTC), datetime(2025, 10, 26, 23, tzinfo=UTC)),
        ("fresh-saturdays-2026-10", datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)),
        # Black Friday 2025 was Friday 2025-11-28 (Thanksgiving on the 27th); New York is on EST (-05:00)
        ("bf-2025", datetime(2025, 11, 28, 5, tzinfo=UTC), datetime(2025, 12, 2, 5, tzinfo=UTC)),
    ],
)
def test_the_repository_campaigns_in_time(repo_rules, campaign, start, end):
    found = next(c for c in repo_rules.campaigns if c.id == campaign)
    assert (found.start, found.end) == (start, end)
    if campaign.startswith("fresh-saturdays"):
        assert end - start == timedelta(hours=49)  # the weekend gains the hour summer time gives back


# -- caps -----------------------------------------------------------------------------

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


# -- stacking order, rounding, exclusions, minimum ------------------------------------


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


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("amount", 10.5, "never a float"),
        ("amount", Decimal("0"), "greater than 0"),
        ("ordered_at", datetime(2026, 5, 1, 12), "timezone"),
        ("currency", "usd", "currency"),
        ("category", "Gift Cards", "category"),
    ],
)
def test_orders_are_checked_when_made(field, value, message):
    fields = {"customer": "c42", "order_id": "o-1", "amount": Decimal("1.00"), "currency": "USD",
              "category": "books", "channel": "web", "ordered_at": datetime(2026, 5, 1, tzinfo=UTC)}
    with pytest.raises(InvalidCommand, match=message):
        Order(**{**fields, field: value})


# -- metadata and explanation ---------------------------------------------------------


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


# -- tiers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "qualifying, tier, rank, next_tier, needed",
    [
        (0, "member", 0, "silver", 5000),
        (4999, "member", 0, "silver", 1),
        (5000, "silver", 1, "gold", 15000),
        (19999, "silver", 1, "gold", 1),
        (20000, "gold", 2, None, None),
        (10**9, "gold", 2, None, None),
    ],
)
def test_tier_thresholds_and_the_distance_to_the_next(rules, qualifying, tier, rank, next_tier, needed):
    status = tier_for(rules, qualifying)
    assert (status.tier, status.rank, status.next_tier, status.points_to_next) == (tier, rank, next_tier, needed)
    assert status.qualifying_points == qualifying
    assert status.multiplier == rules.tier(tier).multiplier


@pytest.mark.parametrize("bad", [-1, True, "5000"])
def test_qualifying_points_are_a_non_negative_integer(rules, bad):
    with pytest.raises(InvalidCommand):
        tier_for(rules, bad)


@pytest.mark.parametrize(
    "before, after, change",
    [(0, 5000, "upgrade"), (4999, 25000, "upgrade"), (20000, 19999, "downgrade"), (6000, 7000, None), (0, 0, None)],
)
def test_tier_change(rules, before, after, change):
    assert tier_change(tier_for(rules, before), tier_for(rules, after)) == change


def test_a_renamed_tier_at_the_same_rank_is_a_change(rules):
    renamed = parse_rules(TEXT.replace("name: silver", "name: argent"))
    assert tier_change(tier_for(rules, 6000), tier_for(renamed, 6000)) == "changed"


@pytest.mark.parametrize(
    "text, as_of, expected",
    [
        (TEXT, datetime(2026, 11, 1, tzinfo=PARIS),
         (datetime(2025, 10, 31, 23, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC))),
        (TEXT.replace("{window: rolling, days: 365}", "{window: rolling, days: 30}"), datetime(2026, 3, 1, tzinfo=UTC),
         (datetime(2026, 1, 30, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))),
        (TEXT.replace("{window: rolling, days: 365}", "{window: lifetime}"), datetime(2026, 3, 1, tzinfo=UTC),
         (None, datetime(2026, 3, 1, tzinfo=UTC))),
    ],
)
def test_qualification_window(text, as_of, expected):
    assert qualification_window(parse_rules(text), as_of) == expected


def test_qualification_window_needs_an_aware_instant(rules):
    with pytest.raises(InvalidCommand, match="no time zone"):
        qualification_window(rules, datetime(2026, 3, 1))


# -- engagement ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "event, today, ever, expected",
    [
        ("sign_up", 0, 0, 500),
        ("sign_up", 0, 1, "limit"),  # once per customer
        ("app_login", 0, 40, 5),
        ("app_login", 1, 41, "limit"),  # once a day
        ("review_written", 1, 9, 50),
        ("review_written", 2, 10, "limit"),
        ("referral_completed", 2, 19, 1000),
        ("referral_completed", 0, 20, "limit"),  # lifetime limit even on a fresh day
        ("referral_completed", 3, 5, "limit"),
    ],
)
def test_engagement_limits(rules, event, today, ever, expected):
    if expected == "limit":
        with pytest.raises(EngagementLimitReached) as caught:
            engagement_points(rules, event, already_awarded_today=today, already_awarded_ever=ever)
        assert isinstance(caught.value, LoyaltyError) and not isinstance(caught.value, InvalidCommand)  # exit 1
        assert caught.value.exit_code == 1 and caught.value.code == "ENGAGEMENT_LIMIT"
    else:
        assert engagement_points(rules, event, already_awarded_today=today, already_awarded_ever=ever) == expected


@pytest.mark.parametrize(
    "event, today, ever, message",
    [
        ("birthday", 0, 0, "unknown engagement event 'birthday'"),
        ("app_login", 2, 1, "inconsistent"),
        ("app_login", -1, 0, "non-negative"),
    ],
)
def test_engagement_bad_requests(rules, event, today, ever, message):
    with pytest.raises(InvalidCommand, match=message):
        engagement_points(rules, event, already_awarded_today=today, already_awarded_ever=ever)


@pytest.mark.parametrize(
    "instant, zone, start, hours",
    [
        (datetime(2026, 5, 1, 23, 30, tzinfo=UTC), UTC, datetime(2026, 5, 1, tzinfo=UTC), 24),
        (datetime(2026, 5, 1, 23, 30, tzinfo=UTC), PARIS, datetime(2026, 5, 1, 22, tzinfo=UTC), 24),  # already the 2nd in Paris
        (datetime(2026, 10, 25, 12, tzinfo=UTC), PARIS, datetime(2026, 10, 24, 22, tzinfo=UTC), 25),  # clocks go back
        (datetime(2026, 3, 29, 12, tzinfo=UTC), PARIS, datetime(2026, 3, 28, 23, tzinfo=UTC), 23),  # clocks go forward
    ],
)
def test_programme_day_follows_the_local_calendar(instant, zone, start, hours):
    assert programme_day(instant, zone) == (start, start + timedelta(hours=hours))


# -- comparing versions -------------------------------------------------------------


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


# -- properties ---------------------------------------------------------------------

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
