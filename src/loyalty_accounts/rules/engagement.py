"""Engagement: what an engagement event (a sign-up, a review, a login) is worth, within its limits.

Pure like the rest of the rules: the service counts the awards already made
(on the ledger's ``AWARDS`` counters) and passes the counts in; a limit
already reached is :class:`EngagementLimitReached`, a business refusal
(exit 1), never a bad command.
"""

from __future__ import annotations

from ..errors import InvalidCommand, LoyaltyError
from .model import Rules


class EngagementLimitReached(LoyaltyError):
    """The customer already had every award of this event the rules allow (a business refusal)."""


def engagement_points(rules: Rules, event: str, *, already_awarded_today: int, already_awarded_ever: int) -> int:
    """Points for one engagement event, given how many times it was already awarded.

    ``already_awarded_today`` counts awards of this event in the current
    programme day (:func:`loyalty_accounts.vocabulary.instants.day_bounds`), ``already_awarded_ever`` all of
    them. A limit already reached raises :class:`EngagementLimitReached`.
    """

    try:
        rule = rules.engagement[event]
    except KeyError:
        known = ", ".join(sorted(rules.engagement)) or "none"
        raise InvalidCommand(f"unknown engagement event {event!r} (events: {known})") from None
    for name, count in (("already_awarded_today", already_awarded_today), ("already_awarded_ever", already_awarded_ever)):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidCommand(f"{name} must be a non-negative integer, got {count!r}")
    if already_awarded_today > already_awarded_ever:
        raise InvalidCommand("more awards today than ever: the counts are inconsistent")
    if rule.per_customer is not None and already_awarded_ever >= rule.per_customer:
        raise EngagementLimitReached(
            f"{event} is awarded at most {rule.per_customer} time(s) per customer", code="ENGAGEMENT_LIMIT"
        )
    if rule.per_day is not None and already_awarded_today >= rule.per_day:
        raise EngagementLimitReached(f"{event} is awarded at most {rule.per_day} time(s) a day", code="ENGAGEMENT_LIMIT")
    return rule.points
