"""Engage: points for an engagement event, its limits enforced by the ledger (template ``engage``).

The points are issued like an earn's: from the customer's issuance shard,
repaying a clawback debt first under ``claw_back``, the rest into the bucket
of the award day's expiry date (no chargeback window: nothing was sold). They
are bonus points: their expiry is bonus points' own when the chart keeps that
kind apart (``policies.point_kinds.bonus``), else base points'. They are not
qualifying points: tiers count purchases only.

Each limit the rules set for the event is a counter in the awards asset that
the same transaction moves by one: ``customers:{c}:engagement:{event}`` for
the per-customer limit and ``customers:{c}:engagement:{event}:{day}`` for the
per-day one (the programme calendar's day), each sent to
``program:engagement:{event}`` with ``allowing overdraft up to`` the limit.
The ledger computes the counter's balance and checks that bound inside the
post, the same check that stops two spends of the same points, so two
processes awarding at once cannot both pass the limit: the one that would
exceed it is refused with ``INSUFFICIENT_FUND`` and posts nothing.

The reference carries the caller's key (``engage:{event}:{customer}:{key}``):
the same key again, on any day, is a replay of the award it made, never a
new award.

Worked example: the rules give ``review_written`` 50 points, at most 2 a day;
c42 (no debt) writes a review, key rv-77, on 2026-06-01; bonus points expire after 6 months::

    program:points:issued:7                            -50 PTS    → customers:c42:points:20261201-bonus +50
    customers:c42:engagement:review_written:20260601    -1 AWARDS → program:engagement:review_written   +1
                                                        (may go down to -2, the day's limit)

    reference "engage:review_written:c42:rv-77"; metadata customer=c42,
    event=review_written, key=rv-77, points=50, awarded_on=2026-06-01,
    expires_at=2026-12-01, rules_version=...
"""

from __future__ import annotations

from datetime import date

from ..chart import BONUS, Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, monetary
from ..rules import EngagementRule, Rules, engagement_points
from ..types import TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import BusinessKey, Code, CustomerId
from ..vocabulary.instants import Instant, iso_day, iso_instant
from . import open_counter
from .base import Command, plan_command
from .entry import Operation, Writes
from .open_counter import OpenCounterCommand
from .reading import Reading

TEMPLATE = "engage"


class EngageCommand(Command):
    """An engagement event of a customer; ``key`` is the caller's id for this award (a replay repeats it)."""

    operation = "engage"
    key_field = "key"
    customer: CustomerId
    event: Code
    key: BusinessKey
    at: Instant

    def reference(self) -> str:
        """``engage:{event}:{customer}:{key}``: keys are the caller's, unique per customer and event only."""

        return f"{self.operation}:{self.event}:{self.customer}:{self.key}"


def plan(
    command: EngageCommand,
    chart: Chart,
    catalogue: Catalogue,
    *,
    rule: EngagementRule,
    rules_version: str,
    clawback_balance: int = 0,
) -> TransactionPlan:
    """The award of ``rule.points``, with one bounded counter leg per limit of ``rule``.

    ``clawback_balance`` is the customer's clawback balance (negative = debt)
    as an award at ``command.at`` may repay it (the highest from then on, see
    :meth:`~.reading.AsOf.clawback_balance`); it matters only under ``claw_back``.
    """

    customer, event = command.customer, command.event
    day = chart.local_date(command.at)
    expiry = chart.expiry_for(day, BONUS)
    debt = max(0, -clawback_balance) if chart.policies.refund_shortfall == "claw_back" else 0
    counters: list[tuple[str, int]] = []
    if rule.per_customer is not None:
        counters.append((chart.engagement_counter(customer, event), rule.per_customer))
    if rule.per_day is not None:
        counters.append((chart.engagement_counter(customer, event, day), rule.per_day))
    awards = chart.awards_asset
    metadata = {
        "customer": customer,
        "event": event,
        "key": command.key,
        "points": str(rule.points),
        "awarded_at": iso_instant(command.at),
        "awarded_on": day.isoformat(),
        "expires_at": iso_day(expiry),
        "rules_version": rules_version,
    }
    if debt:
        metadata["repaid"] = str(min(debt, rule.points))
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "points": monetary(chart.points_asset, rule.points),
            "debt": monetary(chart.points_asset, debt),
            "issued": chart.issued_shard(customer),
            "clawback": chart.clawback(customer),
            "bucket": chart.bucket(customer, expiry, BONUS),
            "award": [monetary(awards, 1) for _ in counters],
            "counter": [address for address, _ in counters],
            "limit": [monetary(awards, limit) for _, limit in counters],
            "awarded": [chart.engagement_awarded(event) for _ in counters],
        },
        metadata=metadata,
        timestamp=command.at,
    )


# -- what the service reads for an award ------------------------------------


class Counted(Frozen):
    """What an award reads: the rules and the event's rule, the award counters, the clawback balance.

    ``unopened`` are the counters a limit of the rule needs that the ledger has
    never moved: they are opened (:mod:`.open_counter`) before the award is
    posted, since the ledger's bound on a counter holds under concurrency only
    once the counter has a balance row.
    """

    rules: Rules
    rule: EngagementRule
    awarded_today: int
    awarded_ever: int
    clawback_balance: int
    unopened: tuple[OpenCounterCommand, ...] = ()


def read(command: EngageCommand, reading: Reading) -> Counted:
    """The event's rule and (awards today, awards ever) of the event to the customer, from the award counters.

    The rule is looked up here, after the replay check: a key awarded under an
    event the rules have since dropped is still recognised. A counter the rules
    do not keep (no such limit) reads 0; "ever" is at least "today" (a per-day
    limit alone keeps no "ever" counter).
    """

    rules = reading.require_rules("engage")
    rule = rules.engagement.get(command.event)
    if rule is None:
        known = ", ".join(sorted(rules.engagement)) or "none"
        raise InvalidCommand(f"unknown engagement event {command.event!r} (events: {known})")
    chart = reading.chart
    day = chart.local_date(command.at)
    counts: dict[date | None, int] = {}
    unopened: list[OpenCounterCommand] = []
    for counter_day, limit in ((day, rule.per_day), (None, rule.per_customer)):
        account = reading.account_now(chart.engagement_counter(command.customer, command.event, counter_day))
        volume = None if account is None else account.volumes.get(chart.awards_asset)
        if volume is None and limit is not None:
            unopened.append(OpenCounterCommand(customer=command.customer, event=command.event, day=counter_day))
        counts[counter_day] = -volume.balance if volume else 0
    return Counted(
        rules=rules,
        rule=rule,
        awarded_today=counts[day],
        awarded_ever=max(counts[None], counts[day]),
        clawback_balance=reading.at(command.at).clawback_balance(command.customer),
        unopened=tuple(unopened),
    )


def _watched(command: EngageCommand, chart: Chart) -> tuple[str, ...]:
    """What :func:`read` reads: the event's counters (today's and ever) and the clawback account."""

    day = chart.local_date(command.at)
    return (
        chart.engagement_counter(command.customer, command.event, day),
        chart.engagement_counter(command.customer, command.event, None),
        chart.clawback(command.customer),
    )


def _open_counters(command: EngageCommand, chart: Chart, catalogue: Catalogue, counted: Counted) -> list[TransactionPlan]:
    return [open_counter.plan(opening, chart, catalogue) for opening in counted.unopened]


def _plan_counted(command: EngageCommand, chart: Chart, catalogue: Catalogue, counted: Counted) -> TransactionPlan:
    """The award, once the rules' limits allow it (EngagementLimitReached when a counter is at its limit)."""

    engagement_points(
        counted.rules,
        command.event,
        already_awarded_today=counted.awarded_today,
        already_awarded_ever=counted.awarded_ever,
    )
    return plan(
        command,
        chart,
        catalogue,
        rule=counted.rule,
        rules_version=counted.rules.version,
        clawback_balance=counted.clawback_balance,
    )


OPERATION: Operation[EngageCommand, Counted] = Operation(
    command=EngageCommand,
    templates=(TEMPLATE,),
    read=read,
    plan=_plan_counted,
    setup=_open_counters,
    watch=_watched,
    writes=Writes(
        required=frozenset(
            {"customer", "event", "key", "points", "awarded_at", "awarded_on", "expires_at", "rules_version"}
        ),
        optional=frozenset({"repaid"}),
        business_key="key",
    ),
)
