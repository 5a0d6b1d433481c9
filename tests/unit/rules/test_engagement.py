"""Engagement: per-customer and per-day limits, bad counts, and the programme day they are counted in."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rulesupport import PARIS, UTC

from loyalty_accounts.errors import InvalidCommand, LoyaltyError
from loyalty_accounts.rules.engagement import (
    EngagementLimitReached,
    engagement_points,
    programme_day,
)


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
