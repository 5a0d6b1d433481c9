"""Programme analytics (``loyalty report programme``): how the programme did over a window, read from the ledger only.

Over the window ``(start, end]`` (see the package docstring), from the
transactions dated in it, classified by their postings
(:mod:`.programme_facts`), and from balances at the window's instants:

- **active members**: members (the ``{customer}`` of customer accounts)
  with a posting of points in the window other than a sweep's: a release
  (their pending points to their own bucket) or an expiry does not make a
  member active; an earn, award, hold, void, capture, redemption, refund,
  transfer (both sides), exchange, conversion or adjustment does;
- **daily flows**, per programme-calendar day with any: points issued
  (out of ``program:points:issued:*``: earn, engagement award, exchange in),
  reversed (back into it: refunds), redeemed (net into
  ``program:points:redeemed``: redeem, capture), converted, exchanged out to
  partners and expired. The sums equal the roll-forward's lines
  (``loyalty report activity``) for the same window;
- **redemption by reward type**: each transaction's net points into
  ``program:points:redeemed``, grouped by its ``reward_type`` metadata
  (``unspecified`` when it records none: a capture, or a redemption made
  before reward types existed);
- **tiers**: the distribution at ``end`` over every member with an account
  by then, and each tier change inside the window (:mod:`.programme_tiers`);
- **partners**: per declared partner, points exchanged out and in, partner
  units delivered and received, settlement money each way and net in the
  window, and the settlement balance at ``end``; and for each pool it is a
  member of (the chart's ``pools``, declared order), its pool figures in the
  window: points contributed, the movement of its funds, points drawn for
  members' earnings (awarded) and redemptions (redeemed), and the money paid
  for its contributions. Each is the movement over the window of its account
  ``pools:{pool}:partners:{partner}:{figure}`` (``contributed`` and ``paid``
  negated), so ``contributed = funds + awarded + redeemed``, and ``paid`` is
  the partner statement's pool lines;
- **expiring soon**: from the spendable and pending buckets as of ``end``,
  points whose expiry date falls within each of the chart's horizons
  (``analytics.expiring_within_days``) after ``end``'s day, and those
  already due (expiry date reached, not yet swept);
- **anomaly flags** (:mod:`.anomalies`), with the chart's thresholds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Mapping, Sequence

from ..chart import Chart, parse_date_segment
from ..chart.analytics import AnalyticsSpec
from ..errors import InvalidCommand
from ..ports import LedgerPort
from ..rules import Rules
from ..types import AccountState, PostedTransaction, VolumeRow
from ..vocabulary.amounts import from_minor
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import zone_name
from .anomalies import AnomalyFlag, anomaly_flags
from .common import ONE_MICROSECOND, Clock, Windowed, dated_points, money_value, read_dated_positions, window, windowed
from .pack.partners import PartnerBalance, read_partner_balances
from .pool import PoolFigures
from .programme_facts import UNSPECIFIED, PartnerFacts, PoolFacts, TxFacts, classify_all
from .programme_tiers import Days, TierChange, TierCount, tier_changes, tier_distribution

__all__ = [
    "FLOW_LINES",
    "UNSPECIFIED",
    "DailyFlow",
    "ExpiringLine",
    "PartnerPerformance",
    "PartnerPoolActivity",
    "ProgrammeReport",
    "RewardTypeLine",
    "programme_report",
    "read_daily_flows",
    "read_programme",
]

FLOW_LINES = ("issued", "reversed", "redeemed", "converted", "exchanged", "expired")
"""The daily flows, in points (see the module docstring)."""


class DailyFlow(Frozen):
    day: date
    issued: int
    reversed: int
    redeemed: int
    converted: int
    exchanged: int
    expired: int
    transactions: int
    """Transactions dated that day that moved points."""


class RewardTypeLine(Frozen):
    reward_type: str
    redemptions: int
    """Transactions with points into ``program:points:redeemed``."""
    points: int
    value: Decimal


class PartnerPoolActivity(PoolFigures):
    """One partner's figures in one pool over the window: the movements of its pool accounts (see the module
    docstring). ``contributed`` and ``paid`` are what it put in and came to owe for it in the window (``paid``:
    its ``pool`` lines on the partner statement), ``funds`` its funds' movement (``contributed − drawn``),
    ``awarded`` and ``redeemed`` the points of its funds drawn for members' earnings and redemptions."""

    pool: str


class PartnerPerformance(Frozen):
    partner: str
    name: str
    asset: str
    exchanges_out: int
    exchanges_in: int
    points_out: int
    """Our points members gave up for the partner's (into ``partners:{p}:exchanged``)."""
    points_in: int
    """Our points issued for the partner's units handed in."""
    units_delivered: int
    units_received: int
    settlement_out: Decimal
    """Money the programme came to owe the partner in the window (exchanges out)."""
    settlement_in: Decimal
    """Money the partner came to owe the programme (exchanges in)."""
    settlement_net: Decimal
    """``settlement_in − settlement_out``: the window's movement of the settlement balance."""
    balance_at_end: Decimal
    """The settlement account at ``end``: negative, the programme owes the partner."""
    pools: tuple[PartnerPoolActivity, ...] = ()
    """Its figures in each pool it is a member of (declared order), in the window."""


class ExpiringLine(Frozen):
    within_days: int
    """Expiry date within this many days after ``end``'s day (cumulative)."""
    expires_by: date
    points: int
    spendable: int
    pending: int
    members: int


class ProgrammeReport(Windowed):
    """The programme over ``(start, end]``."""

    timezone: str
    active_members: int
    members_at_end: int
    """Members with any account touched by a transaction dated at or before ``end``."""
    daily: tuple[DailyFlow, ...]
    totals: dict[str, int]
    """Each of :data:`FLOW_LINES` over the window."""
    rewards: tuple[RewardTypeLine, ...]
    tiers: tuple[TierCount, ...]
    """Empty when the report was made without the rules (no ladder)."""
    tier_changes: tuple[TierChange, ...]
    partners: tuple[PartnerPerformance, ...]
    expiring: tuple[ExpiringLine, ...]
    due_points: int
    """Points whose bucket's expiry date is at or before ``end``'s day, not yet swept by an expiry run."""
    flags: tuple[AnomalyFlag, ...]
    thresholds: AnalyticsSpec


def _daily(facts: Sequence[TxFacts]) -> tuple[DailyFlow, ...]:
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fact in facts:
        if not fact.moved_points:
            continue
        row = per_day[fact.day]
        row["transactions"] += 1
        for line in FLOW_LINES:
            row[line] += fact.flows.get(line, 0)
    return tuple(DailyFlow(day=day, **{k: per_day[day][k] for k in (*FLOW_LINES, "transactions")}) for day in sorted(per_day))


def _rewards(chart: Chart, facts: Sequence[TxFacts]) -> tuple[RewardTypeLine, ...]:
    lines: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for fact in facts:
        if fact.redeemed_by or fact.flows.get("redeemed", 0):
            lines[fact.reward_type][0] += 1
            lines[fact.reward_type][1] += fact.flows.get("redeemed", 0)
    return tuple(
        RewardTypeLine(reward_type=kind, redemptions=n, points=p, value=money_value(p, chart.point_value))
        for kind, (n, p) in sorted(lines.items(), key=lambda item: (item[0] == UNSPECIFIED, item[0]))
    )


def _add(total: PartnerFacts | PoolFacts, part: PartnerFacts | PoolFacts) -> None:
    """Add each figure of ``part`` to ``total`` (the same kind of facts)."""

    for name in vars(total):
        setattr(total, name, getattr(total, name) + getattr(part, name))


def _pools(chart: Chart, partner: str, facts: Sequence[TxFacts]) -> tuple[PartnerPoolActivity, ...]:
    """``partner``'s figures in each pool it is a member of (declared order), summed over ``facts``."""

    lines = []
    for pool, declared in chart.spec.pools.items():
        if partner not in declared.members:
            continue
        total = PoolFacts()
        for fact in facts:
            if (mine := fact.pools.get((pool, partner))) is not None:
                _add(total, mine)
        figures = {name: getattr(total, name) for name in ("contributed", "funds", "awarded", "redeemed")}
        lines.append(PartnerPoolActivity(partner=partner, pool=pool, **figures, paid=from_minor(total.paid, chart.money_asset)))
    return tuple(lines)


def _partners(chart: Chart, facts: Sequence[TxFacts], balances: Sequence[PartnerBalance]) -> tuple[PartnerPerformance, ...]:
    at_end = {b.partner: b.balance for b in balances}
    money = chart.money_asset
    lines = []
    for key in sorted(chart.spec.partners):
        total, outs, ins = PartnerFacts(), 0, 0
        for fact in facts:
            mine = fact.partners.get(key)
            if mine is None:
                continue
            outs += 1 if mine.points_out or mine.units_delivered else 0
            ins += 1 if mine.points_in or mine.units_received else 0
            _add(total, mine)
        lines.append(
            PartnerPerformance(
                partner=key,
                name=chart.spec.partners[key].name,
                asset=chart.spec.partners[key].asset,
                exchanges_out=outs,
                exchanges_in=ins,
                points_out=total.points_out,
                points_in=total.points_in,
                units_delivered=total.units_delivered,
                units_received=total.units_received,
                settlement_out=from_minor(total.settlement_out, money),
                settlement_in=from_minor(total.settlement_in, money),
                settlement_net=from_minor(total.settlement_in - total.settlement_out, money),
                balance_at_end=at_end.get(key, from_minor(0, money)),
                pools=_pools(chart, key, facts),
            )
        )
    return tuple(lines)


def _expiring(chart: Chart, end: datetime, positions: Sequence[AccountState], horizons: Sequence[int]) -> tuple[tuple[ExpiringLine, ...], int]:
    today = chart.local_date(end)
    dated = list(dated_points(chart, positions))
    due = sum(d.points for d in dated if d.kind == "customer_points" and d.expiry <= today)
    lines = []
    for days in horizons:
        limit = today + timedelta(days=days)
        inside = [d for d in dated if today < d.expiry <= limit]
        lines.append(
            ExpiringLine(
                within_days=days,
                expires_by=limit,
                points=sum(d.points for d in inside),
                spendable=sum(d.points for d in inside if d.kind == "customer_points"),
                pending=sum(d.points for d in inside if d.kind == "customer_pending"),
                members=len({d.customer for d in inside}),
            )
        )
    return tuple(lines), due


def programme_report(
    *,
    chart: Chart,
    rules: Rules | None,
    start: datetime,
    end: datetime,
    transactions: Sequence[PostedTransaction],
    opening_qualifying: Mapping[str, Days],
    members_at_end: Sequence[str],
    positions: Sequence[AccountState],
    partner_balances: Sequence[PartnerBalance],
) -> ProgrammeReport:
    """The report from the window's reads (pure).

    ``transactions``: those dated in ``(start, end]``; ``opening_qualifying``: per member, qualifying points
    by order day dated at or before ``start``; ``members_at_end``: every member with an account by ``end``;
    ``positions``: spendable and pending buckets effective at ``end``; ``partner_balances``: settlement
    accounts at ``end``. Without ``rules``, no tiers.
    """

    facts = classify_all(chart, transactions)
    spec = chart.spec.analytics
    if rules is not None:
        changes, days = tier_changes(rules, chart.timezone, start, end, opening_qualifying, facts)
        tiers = tier_distribution(rules, chart.timezone, end, members_at_end, days)
    else:
        changes, tiers = (), ()
    expiring, due = _expiring(chart, end, positions, spec.expiring_within_days)
    daily = _daily(facts)
    return ProgrammeReport(
        **windowed(chart, start, end),
        timezone=zone_name(chart.timezone),
        active_members=len({m for f in facts for m in f.active}),
        members_at_end=len(set(members_at_end)),
        daily=daily,
        totals={line: sum(getattr(d, line) for d in daily) for line in FLOW_LINES},
        rewards=_rewards(chart, facts),
        tiers=tiers,
        tier_changes=changes,
        partners=_partners(chart, facts, partner_balances),
        expiring=expiring,
        due_points=due,
        flags=anomaly_flags(facts, spec.anomalies),
        thresholds=spec,
    )


def _opening_qualifying(chart: Chart, rows: Sequence[VolumeRow]) -> dict[str, Days]:
    held: dict[str, dict[date, int]] = defaultdict(dict)
    for row in rows:
        parsed = chart.parse(row.account)
        if row.asset != chart.qualifying_asset or parsed is None or parsed.kind != "customer_qualifying":
            continue
        day = parse_date_segment(parsed.values["day"])
        if day is not None and row.balance:
            held[parsed.values["customer"]][day] = row.balance
    return dict(held)


def _members(chart: Chart, rows: Sequence[VolumeRow]) -> list[str]:
    """Members from volumes of the customer subtree grouped by ``{root}:{customer}``."""

    depth = [s.variable for s in chart.kinds["customer_points"].segments].index(True)
    return sorted({row.account.split(":")[depth] for row in rows if row.account.count(":") >= depth})


def _window_transactions(ledger: LedgerPort, start: datetime, end: datetime) -> list[PostedTransaction]:
    """The transactions dated in ``(start, end]`` (the listing's start is inclusive, its end exclusive)."""

    return list(ledger.transactions(start=start + ONE_MICROSECOND, end=end + ONE_MICROSECOND))


def read_daily_flows(ledger: LedgerPort, chart: Chart, start: datetime, end: datetime) -> tuple[DailyFlow, ...]:
    """Only the daily flows of ``(start, end]`` (one listing): what the report pack charts."""

    return _daily(classify_all(chart, _window_transactions(ledger, start, end)))


def read_programme(
    ledger: LedgerPort, chart: Chart, rules: Rules | None, start: datetime | None, end: datetime | None, *, clock: Clock
) -> ProgrammeReport:
    """The programme report over ``(start, end]`` (``end`` default: now); InvalidCommand unless start < end.

    Reads: the transactions dated in the window (one listing, every page); the qualifying accounts'
    volumes up to ``start`` (with rules); the customer subtree's volumes up to ``end`` grouped by
    member; the buckets and pending accounts effective at ``end``; the partners' settlement accounts at ``end``.
    """

    first, last = window(start, end, clock)
    if first is None:
        raise InvalidCommand("the programme report needs a window start (--from)")
    transactions = _window_transactions(ledger, first, last)
    opening = (
        _opening_qualifying(chart, ledger.volumes(chart.kind_filter("customer_qualifying"), end=first)) if rules is not None else {}
    )
    depth = [s.variable for s in chart.kinds["customer_points"].segments].index(True) + 1
    members = _members(chart, ledger.volumes(chart.customer_filter(), end=last, group_by=depth))
    return programme_report(
        chart=chart,
        rules=rules,
        start=first,
        end=last,
        transactions=transactions,
        opening_qualifying=opening,
        members_at_end=members,
        positions=read_dated_positions(ledger, chart, last),
        partner_balances=read_partner_balances(ledger, chart, last),
    )
