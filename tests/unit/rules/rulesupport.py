"""What the rules tests share: a rules document covering every rule, a quick order, and where a marker is."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from loyalty_accounts.rules.model import Order, Rules
from loyalty_accounts.rules.pricing import quote

ROOT = Path(__file__).resolve().parents[3]
UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

# Each campaign lives in its own stretch of 2026 so the cases below do not mix.
TEXT = """\
version: "t.1"
programme: acme-rewards
rounding: floor
currencies:
  USD: {rate: "1", decimals: 2, minimum_order: "5.00"}
  EUR: {rate: 1.1, decimals: 2}
  JPY: {rate: "0.01", decimals: 0, minimum_order: "500"}
channels: [web, app, store]
category_multipliers:
  groceries: 2
  fuel: "0.5"
excluded_categories: [gift_cards, tobacco]
tiers:
  qualification: {window: rolling, days: 365}
  ladder:
    - {name: member, threshold: 0, multiplier: 1}
    - {name: silver, threshold: 5000, multiplier: "1.25"}
    - {name: gold, threshold: 20000, multiplier: "1.5"}
campaigns:
  - id: paris-weekend
    timezone: Europe/Paris
    starts: "2026-10-24"
    ends: "2026-10-26"
    multiplier: 2
  - id: ny-day
    timezone: America/New_York
    starts: 2026-06-01
    ends: 2026-06-02
    bonus: 100
  - id: tokyo-offsets
    timezone: Asia/Tokyo
    starts: "2026-07-01T09:00:00+09:00"
    ends: "2026-07-01T12:00:00Z"
    bonus: 10
  - id: capped
    timezone: UTC
    starts: "2026-08-01"
    ends: "2026-08-15"
    categories: [electronics]
    channels: [web, app]
    multiplier: 3
    cap_per_order: 150
    cap_per_customer: 400
  - id: stack-b
    timezone: UTC
    starts: "2026-09-01"
    ends: "2026-09-10"
    categories: [books]
    multiplier: 2
    cap_per_order: 50
  - id: stack-a
    timezone: UTC
    starts: "2026-09-01"
    ends: "2026-09-10"
    categories: [books]
    multiplier: "1.5"
  - id: stack-bonus
    timezone: UTC
    starts: "2026-08-31"
    ends: "2026-09-10"
    categories: [books]
    bonus: 25
  - id: aa-late
    timezone: UTC
    starts: "2026-09-02"
    ends: "2026-09-10"
    categories: [books]
    multiplier: 2
engagement:
  sign_up: {points: 500, per_customer: 1}
  referral_completed: {points: 1000, per_day: 3, per_customer: 20}
  review_written: {points: 50, per_day: 2}
  app_login: {points: 5, per_day: 1}
"""

NO_USAGE: dict[str, int] = {}


def order(amount: str | Decimal = "100.00", *, currency: str = "USD", category: str = "books",
          channel: str = "web", at: datetime = datetime(2026, 5, 1, 12, tzinfo=UTC)) -> Order:
    return Order(customer="c42", order_id="o-1", amount=Decimal(amount), currency=currency,
                 category=category, channel=channel, ordered_at=at)


def points(rules: Rules, o: Order, tier: str = "member", usage: dict[str, int] = NO_USAGE) -> int:
    return quote(rules, o, tier=tier, campaign_usage=usage).points


def line_of(text: str, marker: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


# The demo programme (src/loyalty_accounts/demo.py) plays autumn 2025 to autumn 2026 under
# last year's editions of the campaigns: each the 2026 campaign 52 weeks (364 days) earlier.
EDITIONS_2025 = {
    "fresh-saturdays-2025-10": "fresh-saturdays-2026-10",
    "app-week-2025-11": "app-week-2026-11",
    "bf-2025": "bf-2026",
    "winter-travel-2025-26": "winter-travel",
}
