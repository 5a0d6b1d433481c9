"""Programme analytics, tiers: the distribution at the window's end and every tier change inside the window.

A member's tier at an instant ``t`` is :func:`~loyalty_accounts.rules.tier_for`
of their qualifying points (QPTS) dated at or before ``t`` on the order days
from :func:`~loyalty_accounts.rules.first_qualifying_day` of ``t`` on (the
rules' qualification window; ``loyalty tier --as-of`` counts what is dated
strictly before ``t``, a microsecond apart). Qualifying points come from the
ledger: each member's qualifying accounts (one per order day) at the
window's start, plus the qualifying postings of the window's transactions.

A tier changes only when qualifying points move (an earn, a refund: the
transaction is named) or when an order day leaves the rolling window: day
``D`` stops counting one microsecond after local midnight of ``D`` plus the
window's days (no transaction: ``transaction_id`` None). Worked example,
a 365-day window: carol earns 5,000 qualifying points on 2025-10-03 and is
silver from that earn's instant; at 2026-10-03T00:00:00.000001Z the day
leaves the window and she is a member again (a downgrade without a
transaction).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Iterable, Literal, Mapping, Sequence

from ..rules import Rules, TierStatus, first_qualifying_day, tier_change, tier_for
from ..vocabulary.frozen import Frozen
from .programme_facts import TxFacts

__all__ = ["TierChange", "TierCount", "tier_changes", "tier_distribution"]

_TICK = timedelta(microseconds=1)


class TierCount(Frozen):
    tier: str
    rank: int
    members: int


class TierChange(Frozen):
    member: str
    at: datetime
    from_tier: str
    to_tier: str
    direction: Literal["upgrade", "downgrade", "changed"]
    transaction_id: int | None
    """The transaction whose qualifying points moved the tier; None: an order day left the rolling window."""


Days = Mapping[date, int]


def _tier(rules: Rules, zone: tzinfo, days: Days, at: datetime) -> TierStatus:
    first = first_qualifying_day(rules, zone, at)
    points = sum(p for d, p in days.items() if first is None or d >= first)
    return tier_for(rules, max(points, 0))


def _leaves(rules: Rules, zone: tzinfo, day: date) -> datetime | None:
    """The first instant at which ``day`` no longer counts (None: a lifetime window, never)."""

    qualification = rules.tiers.qualification
    if qualification.window == "lifetime" or qualification.days is None:
        return None
    return (datetime.combine(day, time(0), tzinfo=zone) + timedelta(days=qualification.days) + _TICK).astimezone(timezone.utc)


def tier_changes(
    rules: Rules,
    zone: tzinfo,
    start: datetime,
    end: datetime,
    opening: Mapping[str, Days],
    facts: Sequence[TxFacts],
) -> tuple[tuple[TierChange, ...], dict[str, Days]]:
    """Every tier change in ``(start, end]``, by instant then member, and each member's qualifying points by day at ``end``.

    ``opening``: per member, the qualifying points by order day of everything dated at or before ``start``.
    """

    days: dict[str, dict[date, int]] = {m: dict(d) for m, d in opening.items()}
    # Candidate instants per member: each transaction moving their qualifying points (all its moves at once),
    # and each order day leaving the window.
    moves: dict[str, dict[tuple[datetime, int], list[tuple[date, int]]]] = defaultdict(dict)
    for fact in facts:
        for move in fact.qualifying:
            moves[move.member].setdefault((fact.timestamp, fact.id), []).append((move.day, move.points))
    changes: list[TierChange] = []
    for member in sorted(set(days) | set(moves)):
        held = days.setdefault(member, {})
        mine = moves.get(member, {})
        events: list[tuple[datetime, int, int | None, list[tuple[date, int]]]] = [(at, tx, tx, moved) for (at, tx), moved in mine.items()]
        for day in {*held, *(day for moved in mine.values() for day, _ in moved)}:
            leaves = _leaves(rules, zone, day)
            if leaves is not None and start < leaves <= end:
                events.append((leaves, -1, None, []))
        before = _tier(rules, zone, held, start)
        for at, _, tx, moved in sorted(events, key=lambda e: (e[0], e[1])):
            for day, points in moved:
                held[day] = held.get(day, 0) + points
            after = _tier(rules, zone, held, at)
            direction = tier_change(before, after)
            if direction is not None:
                changes.append(
                    TierChange(member=member, at=at, from_tier=before.tier, to_tier=after.tier, direction=direction, transaction_id=tx)
                )
            before = after
    changes.sort(key=lambda c: (c.at, c.member))
    return tuple(changes), days


def tier_distribution(rules: Rules, zone: tzinfo, end: datetime, members: Iterable[str], days: Mapping[str, Days]) -> tuple[TierCount, ...]:
    """How many members are on each rung of the ladder at ``end`` (every rung listed, lowest first)."""

    counts: dict[str, int] = defaultdict(int)
    for member in set(members):
        counts[_tier(rules, zone, days.get(member, {}), end).tier] += 1
    return tuple(TierCount(tier=t.name, rank=rank, members=counts[t.name]) for rank, t in enumerate(rules.tiers.ladder))

