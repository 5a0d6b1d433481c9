"""Helpers shared by the operation tests (imported by name; pytest adds this folder to sys.path)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from loyalty_accounts.operations import BucketBalance, DatedBucket, EarnCommand, Timeline
from loyalty_accounts.operations.earn import order_of
from loyalty_accounts.rules import EarnBreakdown, Rules, quote

# 2026-06-01 10:00 UTC: the instant most tests act at.
AT = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)


def buckets(**by_expiry: int) -> list[BucketBalance]:
    """buckets(d20260930=50, noexpiry=40) → bucket balances keyed by YYYYMMDD or noexpiry."""

    out = []
    for key, points in by_expiry.items():
        expiry = None if key == "noexpiry" else datetime.strptime(key[1:], "%Y%m%d").date()
        out.append(BucketBalance(expiry=expiry, points=points))
    return out


SINCE = datetime(2020, 1, 1, tzinfo=timezone.utc)
"""Where the timelines of these tests start: before every instant they plan at."""


def steady(points: int) -> Timeline:
    """An account holding ``points`` since :data:`SINCE`, unchanged since."""

    return Timeline(since=SINCE, current=points)


def dated_buckets(**by_expiry: int) -> list[DatedBucket]:
    """dated_buckets(d20260930=12) → buckets falling due, each holding its points unchanged since :data:`SINCE`."""

    return [DatedBucket(expiry=b.expiry, timeline=steady(b.points)) for b in buckets(**by_expiry)]


def d(text: str) -> date:
    return date.fromisoformat(text)



def priced(rules: Rules, command: EarnCommand, *, tier: str = "member", usage: dict[str, int] | None = None) -> EarnBreakdown:
    """The repository rules' price of an earn command, as the service would quote it for a customer of ``tier``."""

    return quote(rules, order_of(command, rules), tier=tier, campaign_usage=usage or {})
