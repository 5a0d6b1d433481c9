"""Tiers: thresholds, the distance to the next, how a tier moved, and the qualification window."""

from __future__ import annotations

from datetime import datetime

import pytest
from rulesupport import PARIS, TEXT, UTC

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.rules.loader import parse_rules
from loyalty_accounts.rules.tiers import qualification_window, tier_change, tier_for


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
