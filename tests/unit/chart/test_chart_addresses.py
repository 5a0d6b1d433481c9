"""Addresses and address filters, built only from the declared account kinds."""

from __future__ import annotations

from datetime import date

import pytest

from loyalty_accounts.chart import Chart
from loyalty_accounts.errors import ChartError, InvalidCommand


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


def test_a_kept_address_is_only_ever_the_one_asked_for(chart):
    # Built addresses are kept: asking again gives the same text, other values give their own,
    # and a value refused before is refused again (nothing wrong is ever kept).
    first = chart.bucket("c42", date(2027, 1, 1))
    assert chart.bucket("c42", date(2027, 1, 1)) == first == "customers:c42:points:20270101"
    assert chart.bucket("c43", date(2027, 1, 1)) == "customers:c43:points:20270101"
    assert chart.bucket("c42", None) == "customers:c42:points:noexpiry"
    for _ in range(2):
        with pytest.raises(InvalidCommand, match="customer"):
            chart.bucket("c 42", None)
    with pytest.raises(InvalidCommand, match="customer"):
        chart.address("customer_credit", customer=["c42"])  # unhashable: refused, not a TypeError


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


# -- address filters, built from the declared kinds --------------------------


def _example(chart: Chart, kind: str, customer: str) -> str:
    """An address of ``kind``, for ``customer`` when the kind has that segment."""

    samples = {"customer": customer, "expiry": "20270101", "release": "20260115", "hold": "h-1", "day": "20260110",
               "event": "sign_up", "shard": "3", "partner": "skyway", "campaign": "bf-2026",
               "pool": "travel", "reward": "MUG-BLUE"}
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
    assert chart.programme_filters() == ("program:...", "partners:...", "pools:...", "catalogue:...")
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


def test_kind_filters_leave_every_variable_segment_open(chart):
    assert chart.kind_filter("customer_points") == "customers::points:"
    assert chart.kind_filter("customer_pending") == "customers::pending::"
    assert chart.kind_filter("customer_hold") == "customers::holds:"
    assert chart.kind_filter("customer_clawback") == "customers::clawback"


def test_customer_of_names_the_customer_an_account_belongs_to(chart):
    assert chart.customer_of(chart.bucket("c1", date(2027, 1, 1))) == "c1"
    assert chart.customer_of(chart.hold("c10", "h1")) == "c10"
    assert chart.customer_of(chart.redeemed()) is None
    assert chart.customer_of("nowhere:at:all") is None
