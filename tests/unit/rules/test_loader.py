"""Loading the rules: exact decimals, every problem named with its file, field and line, the chart's agreement."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from rulesupport import ROOT, TEXT, line_of

from loyalty_accounts.chart import load_chart
from loyalty_accounts.errors import ChartError
from loyalty_accounts.rules.loader import load_rules, parse_rules
from loyalty_accounts.rules.model import MAX_STACKED_CAMPAIGNS


def test_the_repository_rules_load_and_agree_with_the_chart(repo_rules):
    assert repo_rules.version == "2026.12.1"
    assert repo_rules.rounding == "floor"
    assert repo_rules.currency("EUR").rate == Decimal("1.1")
    assert [t.name for t in repo_rules.tiers.ladder] == ["member", "silver", "gold"]
    assert set(repo_rules.engagement) == {"sign_up", "referral_completed", "review_written", "app_login"}


def test_yaml_numbers_are_exact_decimals(rules):
    assert rules.currency("EUR").rate == Decimal("1.1")
    assert rules.category_multiplier("fuel") == Decimal("0.5")
    assert rules.category_multiplier("books") == 1


# (replace this, with that, line marker, expected message)
BAD_FILES = [
    ('ends: "2026-10-26"', 'ends: "2026-10-23"', "2026-10-23",
     r"campaigns\.0\.ends \(line {line}\): the campaign must end after it starts"),
    ('USD: {rate: "1"', 'USD: {rate: "-1"', "USD:", r"currencies\.USD\.rate \(line {line}\).*greater than 0"),
    ("{name: silver, threshold: 5000", "{name: silver, threshold: 0", "name: silver",
     r"tiers\.ladder\.1\.threshold \(line {line}\): thresholds must increase"),
    ("timezone: America/New_York", "timezone: America/Gotham", "America/Gotham",
     r"campaigns\.1\.timezone \(line {line}\): unknown IANA time zone"),
    # a time without an offset names no instant, quoted or not (YAML reads the unquoted one as a datetime)
    ('starts: "2026-10-24"', 'starts: "2026-10-24T00:00:00"', "2026-10-24T00",
     r"campaigns\.0\.starts \(line {line}\): '2026-10-24T00:00:00' has no UTC offset"),
    ('starts: "2026-10-24"', "starts: 2026-10-25T02:30:00", "2026-10-25T02:30",
     r"campaigns\.0\.starts \(line {line}\): '2026-10-25T02:30:00' has no UTC offset"),
    ("ends: 2026-06-02", "ends: 2026-06-02 09:00:00", "2026-06-02 09:00",
     r"campaigns\.1\.ends \(line {line}\): '2026-06-02T09:00:00' has no UTC offset"),
    ('starts: "2026-10-24"', 'starts: "2026-02-30"', "2026-02-30",
     r"campaigns\.0\.starts \(line {line}\): '2026-02-30' is not a calendar date"),
    ('starts: "2026-10-24"', 'starts: "next saturday"', "next saturday",
     r"campaigns\.0\.starts \(line {line}\): 'next saturday' is not an ISO 8601 instant or date"),
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


def test_a_campaign_time_without_an_offset_is_refused_with_its_field_and_line():
    text = TEXT.replace('ends: "2026-10-26"', 'ends: "2026-10-26T00:00:00"', 1)
    with pytest.raises(ChartError) as caught:
        parse_rules(text, source="t.yaml")
    assert caught.value.message == (
        f"t.yaml: campaigns.0.ends (line {line_of(text, '2026-10-26T00')}): '2026-10-26T00:00:00' has no UTC offset; "
        "write e.g. 2026-10-26T00:00:00Z or 2026-10-26T00:00:00+01:00 "
        "(a bare date such as 2026-10-26 is the start of that day in Europe/Paris)"
    )
    assert caught.value.exit_code == 2


def test_every_campaign_edge_of_the_repository_rules_is_a_bare_date(repo_rules):
    edges = [edge for c in repo_rules.campaigns for edge in (c.starts, c.ends)]
    assert edges and all(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", edge) for edge in edges)


def test_too_many_overlapping_campaigns_are_refused():
    extra = "".join(
        f"  - {{id: pile-{i}, timezone: UTC, starts: '2027-01-0{1 + i % 2}', ends: '2027-02-01', bonus: 1}}\n"
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


def test_a_capped_campaign_whose_id_cannot_name_its_usage_account_is_refused():
    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    text = (ROOT / "rules.yaml").read_text().replace("id: app-week-2026-11", "id: app.week.2026-11", 1)
    with pytest.raises(ChartError) as caught:
        parse_rules(text, source="t.yaml", chart=chart)
    assert "campaigns.1.id" in caught.value.message and "segments.campaign" in caught.value.message
    # An uncapped campaign keeps no usage account: a dot in its id is fine.
    fine = (ROOT / "rules.yaml").read_text().replace("id: winter-travel", "id: winter.travel", 1)
    assert parse_rules(fine, source="t.yaml", chart=chart).campaigns[2].id == "winter.travel"
