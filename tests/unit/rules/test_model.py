"""The rules' shape: orders, order defaults, and campaign windows under the one instant rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from rulesupport import EDITIONS_2025, NEW_YORK, PARIS, TEXT, TOKYO, UTC, order, points

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.rules.loader import parse_rules
from loyalty_accounts.rules.model import Campaign, Order


def test_order_defaults_stand_in_for_what_an_order_does_not_say(repo_rules, rules):
    assert repo_rules.order_fields(None, None) == ("general", "store")
    assert repo_rules.order_fields("books", None) == ("books", "store")
    assert repo_rules.order_fields("books", "app") == ("books", "app")
    with pytest.raises(InvalidCommand, match="needs a category and channel: rules t.1 set no order_defaults"):
        rules.order_fields(None, None)
    assert rules.order_fields("books", "web") == ("books", "web")


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


def _campaign(zone: str, starts: str, ends: str = "'2026-12-31'") -> Campaign:
    """One more campaign in the test document (where nothing else runs in the second half of December)."""

    line = f"  - {{id: edge, timezone: {zone}, starts: {starts}, ends: {ends}, bonus: 1}}\n"
    return parse_rules(TEXT.replace("engagement:\n", line + "engagement:\n")).campaigns[-1]


@pytest.mark.parametrize(
    "zone, day, first_instant",
    [
        ("Europe/Paris", "2026-03-29", datetime(2026, 3, 28, 23, tzinfo=UTC)),  # clocks go forward at 02:00: midnight is CET
        ("Europe/Paris", "2026-10-25", datetime(2026, 10, 24, 22, tzinfo=UTC)),  # clocks go back at 03:00: midnight is CEST
        ("America/New_York", "2026-03-08", datetime(2026, 3, 8, 5, tzinfo=UTC)),  # EST until 02:00
        ("America/New_York", "2026-11-01", datetime(2026, 11, 1, 4, tzinfo=UTC)),  # EDT until 02:00
    ],
)
def test_a_bare_date_is_midnight_in_the_campaigns_zone_also_on_a_dst_change_day(zone, day, first_instant):
    quoted, unquoted = _campaign(zone, f"'{day}'"), _campaign(zone, day)  # YAML reads the unquoted one as a date
    assert quoted.start == unquoted.start == first_instant
    assert quoted.starts == unquoted.starts == day  # kept as written


@pytest.mark.parametrize(
    "zone, starts, instant",
    [
        # the second 02:30 of the day Paris clocks go back, which a time without an offset could not tell apart
        ("Europe/Paris", "'2026-10-25T02:30:00+01:00'", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        ("Europe/Paris", "'2026-10-25T02:30:00+02:00'", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("Asia/Tokyo", "'2026-07-01T12:00:00Z'", datetime(2026, 7, 1, 12, tzinfo=UTC)),  # another zone's offset is kept
        ("Asia/Tokyo", "2026-07-01T09:00:00+09:00", datetime(2026, 7, 1, 0, tzinfo=UTC)),  # unquoted: a YAML datetime
    ],
)
def test_an_edge_with_an_offset_is_that_instant_whatever_the_zone(zone, starts, instant):
    campaign = _campaign(zone, starts)
    assert campaign.start == instant
    assert campaign.start.utcoffset() == timedelta(0)


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
