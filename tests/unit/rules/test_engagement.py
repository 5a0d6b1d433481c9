"""Engagement: per-customer and per-day limits, bad counts, and the programme day they are counted in."""

from __future__ import annotations

import pytest

from loyalty_accounts.errors import InvalidCommand, LoyaltyError
from loyalty_accounts.rules.engagement import (
    EngagementLimitReached,
    engagement_points,
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
