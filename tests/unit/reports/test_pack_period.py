"""The pack's period: its default start and the instants its series is read at, in the programme's calendar."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from support.report_books import ROOT

from loyalty_accounts.chart import Chart
from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.reports.pack import default_start, series_instants

UTC = timezone.utc


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def paris() -> Chart:
    data = yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())
    data["programme"]["timezone"] = "Europe/Paris"
    return Chart.from_yaml(yaml.safe_dump(data), source="paris.yaml")


def test_the_default_start_is_twelve_months_before(chart: Chart) -> None:
    assert default_start(chart, utc("2026-10-31T23:59:59.999999")) == utc("2025-10-31T23:59:59.999999")
    assert default_start(chart, utc("2028-02-29T23:59:59.999999")) == utc("2027-02-28T23:59:59.999999")


def test_the_series_is_the_start_each_month_end_and_the_as_of(chart: Chart) -> None:
    instants = series_instants(chart, utc("2025-10-31T23:59:59.999999"), utc("2026-02-15T12:00:00"))
    assert instants == (
        utc("2025-10-31T23:59:59.999999"),
        utc("2025-11-30T23:59:59.999999"),
        utc("2025-12-31T23:59:59.999999"),
        utc("2026-01-31T23:59:59.999999"),
        utc("2026-02-15T12:00:00"),
    )


def test_month_ends_are_the_programme_calendars(paris: Chart) -> None:
    # Paris is UTC+1 in winter and UTC+2 from the last Sunday of March
    instants = series_instants(paris, utc("2026-01-31T22:59:59.999999"), utc("2026-04-30T21:59:59.999999"))
    assert instants == (
        utc("2026-01-31T22:59:59.999999"),
        utc("2026-02-28T22:59:59.999999"),
        utc("2026-03-31T21:59:59.999999"),
        utc("2026-04-30T21:59:59.999999"),
    )


def test_a_period_must_start_before_its_end_and_be_at_most_ten_years(chart: Chart) -> None:
    with pytest.raises(InvalidCommand, match="must start before"):
        series_instants(chart, utc("2026-01-01T00:00:00"), utc("2026-01-01T00:00:00"))
    with pytest.raises(InvalidCommand, match="spans 121 months: at most 120"):
        series_instants(chart, utc("2016-01-01T00:00:00"), utc("2026-02-01T00:00:00"))
