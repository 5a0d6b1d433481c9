"""The chart of accounts: loading, errors that name the field, address builders, the ledger schema."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.vocabulary.amounts import asset_precision, from_minor, to_minor
from loyalty_accounts.errors import ChartError, InvalidCommand

ROOT = Path(__file__).resolve().parents[2]
CHART_PATH = ROOT / "chart_of_accounts.yaml"
TEXT = CHART_PATH.read_text()


@pytest.fixture(scope="module")
def chart() -> Chart:
    return load_chart(CHART_PATH)


def variant(mutate) -> str:
    data = yaml.safe_load(TEXT)
    mutate(data)
    return yaml.safe_dump(data, sort_keys=False)


# -- loading and policy ------------------------------------------------------


def test_the_repository_chart_loads_with_exact_decimals(chart):
    assert chart.points_asset == "PTS"
    assert chart.money_asset == "USD/2"
    assert chart.money_currency == "USD"
    assert chart.point_value == Decimal("0.01")
    assert chart.qualifying_asset == "QPTS" and chart.awards_asset == "AWARDS"
    # the chart prices nothing: it only accepts currencies and knows their decimals
    assert chart.order_currency("EUR").decimals == 2 and chart.order_currency("JPY").decimals == 0
    assert not hasattr(chart.order_currency("EUR"), "rate")
    assert chart.policies.refund_shortfall == "claw_back"
    assert chart.partner("skyway").outbound.price_per_partner_point == Decimal("0.0125")
    assert chart.hold_ttl == timedelta(minutes=30)


def test_yaml_floats_are_read_as_decimals_not_binary_floats():
    text = TEXT.replace('point_value: "0.01"', "point_value: 0.1")
    assert Chart.from_yaml(text).point_value == Decimal("0.1")


def test_default_path_is_the_repository_chart(monkeypatch):
    monkeypatch.delenv("LOYALTY_CHART", raising=False)
    assert load_chart().schema_version() == load_chart(CHART_PATH).schema_version()


def test_dates_follow_the_programme_calendar(chart):
    late = datetime(2026, 5, 31, 23, 30, tzinfo=timezone(timedelta(hours=-3)))
    assert chart.local_date(late) == date(2026, 6, 1)
    assert chart.expiry_for(date(2026, 6, 1)) == date(2027, 6, 1)
    assert chart.release_for(date(2026, 6, 1)) == date(2026, 6, 15)
    with pytest.raises(InvalidCommand, match="no time zone"):
        chart.local_date(datetime(2026, 6, 1))


# -- errors name the file, the field and the line ------------------------------


def test_malformed_yaml_names_the_line():
    with pytest.raises(ChartError, match=r"bad\.yaml: malformed YAML \(line 3, column \d+\)"):
        Chart.from_yaml("programme:\n  name: x\n  - oops\n", source="bad.yaml")


def test_a_wrong_value_names_its_field_path_and_line():
    text = TEXT.replace("hold_ttl_minutes: 30", "hold_ttl_minutes: soon")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "hold_ttl_minutes" in l)
    with pytest.raises(ChartError, match=rf"c\.yaml: policies\.hold_ttl_minutes \(line {line}\)"):
        Chart.from_yaml(text, source="c.yaml")


def test_a_missing_field_names_its_path():
    text = variant(lambda d: d["policies"].pop("expiry_days"))
    with pytest.raises(ChartError, match=r"policies\.expiry_days.*Field required"):
        Chart.from_yaml(text)


def test_nested_field_path():
    text = variant(lambda d: d["policies"]["currencies"]["USD"].update(decimals=-1))
    with pytest.raises(ChartError, match=r"policies\.currencies\.USD\.decimals"):
        Chart.from_yaml(text)


def test_a_rate_in_the_chart_is_refused_pricing_lives_in_the_rules_file():
    text = variant(lambda d: d["policies"]["currencies"]["USD"].update(rate="1"))
    with pytest.raises(ChartError, match=r"policies\.currencies\.USD\.rate.*not permitted"):
        Chart.from_yaml(text)


def test_an_unaccepted_currency_is_a_bad_command(chart):
    with pytest.raises(InvalidCommand, match=r"currency 'GBP' is not accepted \(accepted: EUR, JPY, USD\)"):
        chart.order_currency("GBP")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("qualifying_asset", "PTS", "already the points_asset"),
        ("awards_asset", "QPTS", "already the qualifying_asset"),
        ("qualifying_asset", "QPTS/2", "whole units"),
        ("awards_asset", "awards", "not a Formance asset"),
    ],
)
def test_memo_assets_are_whole_and_of_their_own(field, value, message):
    text = variant(lambda d: d["programme"].update({field: value}))
    with pytest.raises(ChartError, match=rf"programme\.{field} \(line \d+\): .*{message}"):
        Chart.from_yaml(text)


def test_unknown_fields_are_refused():
    text = variant(lambda d: d["policies"].update(expiry_dayz=3))
    with pytest.raises(ChartError, match=r"policies\.expiry_dayz.*not permitted"):
        Chart.from_yaml(text)


def test_bad_refund_policy_is_named():
    text = variant(lambda d: d["policies"].update(refund_shortfall="forgive"))
    with pytest.raises(ChartError, match=r"policies\.refund_shortfall"):
        Chart.from_yaml(text)


def test_duplicate_keys_are_an_error_with_a_line():
    text = TEXT.replace("  pending_days: 14", "  pending_days: 14\n  pending_days: 7")
    with pytest.raises(ChartError, match=r"line \d+.*duplicate key 'pending_days'"):
        Chart.from_yaml(text)


def test_unanchored_pattern():
    text = variant(lambda d: d["segments"]["customer"].update(pattern="[a-z]+"))
    with pytest.raises(ChartError, match=r"segments\.customer\.pattern \(line \d+\): the pattern must be anchored"):
        Chart.from_yaml(text)


def test_pattern_syntax_the_ledger_cannot_run():
    text = variant(lambda d: d["segments"]["customer"].update(pattern="^(?!admin)[a-z]+$"))
    with pytest.raises(ChartError, match=r"segments\.customer\.pattern.*RE2"):
        Chart.from_yaml(text)


def test_address_with_an_undeclared_segment():
    text = variant(lambda d: d["accounts"]["customer_credit"].update(address="customers:{customer}:credit:{currency}"))
    with pytest.raises(ChartError, match=r"accounts\.customer_credit\.address.*\{currency\} is not declared"):
        Chart.from_yaml(text)


def test_missing_account_kind():
    text = variant(lambda d: d["accounts"].pop("points_expired"))
    with pytest.raises(ChartError, match=r"accounts.*missing account kind 'points_expired'"):
        Chart.from_yaml(text)


def test_two_variables_at_one_level():
    text = variant(lambda d: d["accounts"]["customer_credit"].update(address="customers:{hold}:credit"))
    with pytest.raises(ChartError, match=r"accounts\.customer_credit\.address.*one per level"):
        Chart.from_yaml(text)


def test_fixed_and_variable_segment_at_one_level():
    text = variant(lambda d: d["accounts"]["customer_credit"].update(address="customers:vip"))
    with pytest.raises(ChartError, match=r"accounts\.customer_credit\.address.*ambiguous"):
        Chart.from_yaml(text)


def test_partner_asset_must_be_its_own():
    text = variant(lambda d: d["partners"]["skyway"].update(asset="PTS"))
    with pytest.raises(ChartError, match=r"partners\.skyway\.asset.*asset of their own"):
        Chart.from_yaml(text)


def test_points_take_no_decimals():
    text = variant(lambda d: d["programme"].update(points_asset="PTS/2"))
    with pytest.raises(ChartError, match=r"programme\.points_asset"):
        Chart.from_yaml(text)


def test_unknown_timezone():
    text = variant(lambda d: d["programme"].update(timezone="Mars/Olympus"))
    with pytest.raises(ChartError, match=r"programme\.timezone"):
        Chart.from_yaml(text)


def test_missing_file(tmp_path):
    with pytest.raises(ChartError, match="nowhere.yaml: cannot read"):
        load_chart(tmp_path / "nowhere.yaml")


# -- addresses -------------------------------------------------------------------


def test_address_builders(chart):
    assert chart.bucket("c42", date(2027, 1, 1)) == "customers:c42:points:20270101"
    assert chart.bucket("c42", None) == "customers:c42:points:noexpiry"
    assert chart.pending("c42", date(2026, 6, 15), date(2027, 6, 1)) == "customers:c42:pending:20260615:20270601"
    assert chart.hold("c42", "h-9") == "customers:c42:holds:h-9"
    assert chart.credit("c42") == "customers:c42:credit"
    assert chart.clawback("c42") == "customers:c42:clawback"
    assert chart.issued_shard("c42") == "program:points:issued:7"
    assert chart.redeemed() == "program:points:redeemed"
    assert chart.expired() == "program:points:expired"
    assert chart.converted() == "program:points:converted"
    assert chart.written_off() == "program:points:written_off"
    assert chart.adjustments() == "program:points:adjustments"
    assert chart.credit_issued() == "program:credit:issued"
    assert chart.exchange_cost() == "program:exchange:cost"
    assert chart.exchange_revenue() == "program:exchange:revenue"
    assert chart.partner_account("skyway", "settlement") == "partners:skyway:settlement"
    assert chart.qualifying("c42", date(2026, 6, 1)) == "customers:c42:qualifying:20260601"
    assert chart.tiers_qualifying() == "program:tiers:qualifying"
    assert chart.engagement_counter("c42", "sign_up") == "customers:c42:engagement:sign_up"
    assert chart.engagement_counter("c42", "app_login", date(2026, 6, 1)) == "customers:c42:engagement:app_login:20260601"
    assert chart.engagement_awarded("sign_up") == "program:engagement:sign_up"


@pytest.mark.parametrize("customer", ["c 42", "c42:points", "", "x" * 65, "c.42"])
def test_builders_refuse_values_outside_the_segment_pattern(chart, customer):
    with pytest.raises(InvalidCommand, match="customer"):
        chart.bucket(customer, None)


def test_builders_refuse_unknown_partners_and_kinds(chart):
    with pytest.raises(InvalidCommand, match="unknown partner 'railco'"):
        chart.partner_account("railco", "issued")
    with pytest.raises(ChartError, match="no account kind"):
        chart.address("customer_wallet", customer="c42")
    with pytest.raises(ChartError, match="missing"):
        chart.address("customer_points", customer="c42")


def test_shards_are_stable_and_in_range(chart):
    shards = {chart.shard_of(f"c{i}") for i in range(400)}
    assert shards == set(range(8))
    assert chart.shard_of("c42") == chart.shard_of("c42") == 7


def test_parse_maps_an_address_back_to_its_kind(chart):
    parsed = chart.parse("customers:c42:pending:20260615:noexpiry")
    assert parsed is not None
    assert parsed.kind == "customer_pending"
    assert parsed.values == {"customer": "c42", "release": "20260615", "expiry": "noexpiry"}
    assert chart.parse("customers:c42") is None
    assert chart.parse("customers:c42:points:2027") is None
    assert chart.parse("program:points:issued") is None
    assert chart.parse_bucket("customers:c42:points:20270101") == ("c42", date(2027, 1, 1))
    assert chart.kind_of("program:points:written_off").may_go_negative
    assert not chart.kind_of("customers:c42:points:noexpiry").may_go_negative


# -- the ledger schema -----------------------------------------------------------


EXPECTED_SCHEMA = {
    "chart": {
        "customers": {
            "$customer": {
                "clawback": {},
                "credit": {},
                "engagement": {
                    "$event": {
                        "$day": {".pattern": "^[0-9]{8}$"},
                        ".pattern": "^[a-z0-9][a-z0-9_-]{0,31}$",
                        ".self": {},
                    }
                },
                "holds": {"$hold": {".pattern": "^[A-Za-z0-9_-]{1,100}$"}},
                "pending": {
                    "$release": {
                        "$expiry": {".pattern": "^([0-9]{8}|noexpiry)$"},
                        ".pattern": "^[0-9]{8}$",
                    }
                },
                "points": {"$expiry": {".pattern": "^([0-9]{8}|noexpiry)$"}},
                "qualifying": {"$day": {".pattern": "^[0-9]{8}$"}},
                ".pattern": "^[A-Za-z0-9_-]{1,64}$",
            }
        },
        "partners": {
            "$partner": {
                "delivered": {},
                "exchanged": {},
                "issued": {},
                "received": {},
                "settlement": {},
                ".pattern": "^[a-z][a-z0-9_-]{0,31}$",
            }
        },
        "program": {
            "credit": {"issued": {}},
            "engagement": {"$event": {".pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"}},
            "exchange": {"cost": {}, "revenue": {}},
            "points": {
                "adjustments": {},
                "converted": {},
                "expired": {},
                "issued": {"$shard": {".pattern": "^[0-9]{1,4}$"}},
                "redeemed": {},
                "written_off": {},
            },
            "tiers": {"qualifying": {}},
        },
        "world": {},
    }
}


def test_schema_is_the_chart_only(chart):
    assert chart.to_formance_schema() == EXPECTED_SCHEMA


def test_an_account_with_children_is_marked_self():
    def add(d):
        d["accounts"]["customer_root"] = {
            "address": "customers:{customer}",
            "meaning": "the customer",
            "assets": ["points"],
            "may_go_negative": False,
        }

    chart = Chart.from_yaml(variant(add))
    assert chart.to_formance_schema()["chart"]["customers"]["$customer"][".self"] == {}
    assert chart.parse("customers:c42") is not None


def test_schema_version_is_stable_and_follows_the_chart(chart):
    same = Chart.from_yaml(TEXT)
    assert chart.schema_version() == same.schema_version()
    assert chart.schema_version().startswith("coa-") and len(chart.schema_version()) == 16
    # a policy change does not change the chart of accounts...
    assert Chart.from_yaml(variant(lambda d: d["policies"].update(pending_days=3))).schema_version() == chart.schema_version()
    # ...an address pattern change does
    changed = Chart.from_yaml(variant(lambda d: d["segments"]["shard"].update(pattern="^[0-9]{1,3}$")))
    assert changed.schema_version() != chart.schema_version()


def test_schema_is_json(chart):
    assert json.loads(json.dumps(chart.to_formance_schema())) == EXPECTED_SCHEMA


# -- assets and money ------------------------------------------------------------


def test_asset_precision_and_minor_units():
    assert asset_precision("USD/2") == 2
    assert asset_precision("PTS") == 0
    assert to_minor(Decimal("12.5"), "USD/2") == 1250
    assert to_minor(Decimal("12.50"), "USD/2") == 1250
    assert to_minor(Decimal("3"), "JPY") == 3
    assert from_minor(1250, "USD/2") == Decimal("12.50")
    assert str(from_minor(5, "USD/2")) == "0.05"


def test_minor_units_refuse_extra_decimals_and_bad_assets():
    with pytest.raises(InvalidCommand, match="more decimals"):
        to_minor(Decimal("12.345"), "USD/2")
    with pytest.raises(InvalidCommand, match="invalid asset"):
        asset_precision("usd")
    with pytest.raises(InvalidCommand):
        to_minor(Decimal("NaN"), "USD/2")


# -- address filters, built from the declared kinds --------------------------


def _example(chart: Chart, kind: str, customer: str) -> str:
    """An address of ``kind``, for ``customer`` when the kind has that segment."""

    samples = {"customer": customer, "expiry": "20270101", "release": "20260115", "hold": "h-1", "day": "20260110",
               "event": "sign_up", "shard": "3", "partner": "skyway"}
    return chart.address(kind, **{name: samples[name] for name in chart.kinds[kind].variables})


def test_filters_are_the_formance_filters_of_the_declared_kinds(chart):
    assert chart.buckets_filter() == "customers::points:"
    assert chart.buckets_filter("c42") == "customers:c42:points:"
    assert chart.pending_filter() == "customers::pending::"
    assert chart.pending_filter("c42") == "customers:c42:pending::"
    assert chart.qualifying_filter("c42") == "customers:c42:qualifying:"
    assert chart.customer_filter("c42") == "customers:c42:..."
    assert chart.customer_filter() == "customers:..."
    assert chart.root_filter("points_issued") == "program:..."
    assert chart.programme_filters() == ("program:...", "partners:...")
    assert chart.kind_filter("customer_engagement_day", event="sign_up") == "customers::engagement:sign_up:"


def test_each_filter_matches_exactly_the_accounts_it_names(chart):
    from support.fake_ledger import address_matches

    for kind in chart.kinds:
        mine, theirs = _example(chart, kind, "c42"), _example(chart, kind, "c43")
        is_customers = "customer" in chart.kinds[kind].variables
        assert address_matches(mine, chart.customer_filter("c42")) is is_customers, kind
        assert not (is_customers and address_matches(theirs, chart.customer_filter("c42"))), kind
        assert address_matches(mine, chart.customer_filter()) is is_customers, kind
        in_programme = any(address_matches(mine, f) for f in chart.programme_filters())
        assert in_programme is (not is_customers and kind != "world"), kind
        assert address_matches(mine, chart.kind_filter(kind)), kind
        for filter_of, own in ((chart.buckets_filter, "customer_points"), (chart.pending_filter, "customer_pending")):
            assert address_matches(mine, filter_of()) is (kind == own), kind
            assert address_matches(mine, filter_of("c42")) is (kind == own), kind
            assert not address_matches(theirs, filter_of("c42")), kind
        assert address_matches(mine, chart.qualifying_filter("c42")) is (kind == "customer_qualifying"), kind


@pytest.mark.parametrize("customer", ["", "c 42", "c:42", "c42:...", "c.42", "x" * 65])
def test_a_filter_refuses_a_customer_id_that_is_no_segment(chart, customer):
    # An empty id would be an empty part: a filter matching every customer.
    for make in (chart.customer_filter, chart.buckets_filter, chart.pending_filter, chart.qualifying_filter):
        with pytest.raises(InvalidCommand, match="does not match"):
            make(customer)


def test_a_filter_names_only_segments_its_kind_has(chart):
    with pytest.raises(ChartError, match="no segment"):
        chart.kind_filter("customer_points", hold="h-1")
    with pytest.raises(ChartError, match="no account kind"):
        chart.kind_filter("customer_points_typo")
