"""The chart of accounts: loading, errors that name the field and line, policy, the ledger schema."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from chartsupport import CHART_PATH, TEXT, variant

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.errors import ChartError, InvalidCommand

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


EXPECTED_SCHEMA = {
    "chart": {
        "catalogue": {
            "$reward": {
                ".pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                "delivered": {},
                "restocked": {},
                "sequence": {},
                "stock": {},
            }
        },
        "customers": {
            "$customer": {
                "campaigns": {"$campaign": {".pattern": "^[a-z0-9][a-z0-9_-]{0,47}$"}},
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
                        "$expiry": {".pattern": "^([0-9]{8}(-bonus|-transferred)?|noexpiry)$"},
                        ".pattern": "^[0-9]{8}$",
                    }
                },
                "points": {"$expiry": {".pattern": "^([0-9]{8}(-bonus|-transferred)?|noexpiry)$"}},
                "qualifying": {"$day": {".pattern": "^[0-9]{8}$"}},
                "sequence": {},
                "horizon": {},
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
        "pools": {
            "$pool": {
                "partners": {
                    "$partner": {
                        "awarded": {},
                        "contributed": {},
                        "funds": {},
                        "paid": {},
                        "redeemed": {},
                        ".pattern": "^[a-z][a-z0-9_-]{0,31}$",
                    }
                },
                "sequence": {},
                ".pattern": "^[a-z][a-z0-9_-]{0,31}$",
            }
        },
        "program": {
            "campaigns": {"$campaign": {".pattern": "^[a-z0-9][a-z0-9_-]{0,47}$"}},
            "control": {"closed": {}, "horizon": {}, "sequence": {}},
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
            "revenue": {"estimates": {}},
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
        # a kind holding points needs its GL account (the chart's general_ledger section)
        d["general_ledger"]["accounts"]["customer_root"] = {"account": "Liabilities:Loyalty:ContractLiability:Current"}

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
