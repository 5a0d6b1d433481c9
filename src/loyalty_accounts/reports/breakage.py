"""Breakage: points expired over a window (realised) and an estimate of what outstanding points will expire.

Breakage method
    Realised breakage over a window is the net input of
    ``program:points:expired``. The estimate for outstanding points uses earn
    cohorts (the programme-calendar month of the earn). A bucket's cohort is
    its expiry date minus the period of its kind of point
    (``policies.expiry_days`` for base points, ``policies.point_kinds`` for
    bonus and transferred ones; months are exact, see
    :mod:`loyalty_accounts.chart.point_kinds`), so it follows points through
    holds and captures, which keep expiry dates; transferred points count in
    the cohort of their transfer (or earlier when they kept an earlier expiry).
    A cohort is closed when the buckets of every kind earned in it are due. For the
    most recent ``rate_cohorts`` cohorts whose buckets have all passed their
    expiry date: issued = points out of the issuance shards and the
    adjustments account with an effective date in the month, less points
    that repaid clawback debt in that month, less the points refunds (dated
    by the report's instant) took back from the cohort's buckets and pending
    points (they will neither be redeemed nor expire); expired = points the expiry runs
    moved out of that cohort's buckets (read from the expire transactions'
    ``expires_at`` and postings, one per expired bucket, so bounded by the
    number of bucket accounts) plus points still sitting in those due
    buckets. The rate is Σ expired ÷ Σ issued over those cohorts, and the
    estimate for each open cohort is its not-yet-due points (buckets and
    pending, by expiry date) × the rate, rounded half-even to whole points.
    Points already due but not yet swept are reported apart as
    ``awaiting_expiry`` (they will expire for certain). Held points carry no
    expiry date and ``noexpiry`` buckets never expire: neither is estimated.
    With no closed cohort that issued anything the report says so and gives
    no rate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Iterable, Literal, Mapping, Sequence

from ..chart import BASE, Chart, parse_expiry_segment
from ..errors import InvalidCommand
from ..ports import LedgerPort
from ..types import AccountState, PostedTransaction
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import day_start, utc
from .common import (
    DATED_KINDS,
    ONE_MICROSECOND,
    Clock,
    Windowed,
    dated_points,
    kind_of,
    money_value,
    read_dated_positions,
    volume_window,
    window,
    windowed,
)
from .months import add_months, month_end, month_label, month_last_instant, month_start

__all__ = [
    "DEFAULT_RATE_COHORTS",
    "BreakageReport",
    "CohortRow",
    "breakage_method",
    "breakage_report",
    "bucket_cohort",
    "chart_closed_cohorts",
    "closed_cohorts",
    "cohort_of",
    "expiry_runs",
    "expiry_runs_by_kind",
    "issued_in",
    "read_breakage",
]

DEFAULT_RATE_COHORTS = 12
MAX_RATE_COHORTS = 1200
"""A century of monthly cohorts: more reaches back before the calendar the ledger keeps."""


def _rate_decimal(rate: Fraction) -> Decimal:
    """A rate for display: 6 decimals, half-even (the computation keeps the exact fraction)."""

    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(rate.numerator) / Decimal(rate.denominator)
    return value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


def cohort_of(expiry: date, expiry_days: int) -> date:
    """The earn cohort (first day of the earn month) of a bucket dated ``expiry``."""

    return month_start(expiry - timedelta(days=expiry_days))


def bucket_cohort(chart: Chart, expiry: date, kind: str = BASE) -> date:
    """The earn cohort (first day of the earn month) of a bucket of ``kind`` dated ``expiry``."""

    return month_start(chart.earned_on(expiry, kind))


def cohort_expiries(chart: Chart, month: date) -> tuple[date, date]:
    """The first and last expiry dates of the buckets, of any kind that expires, of the cohort earned in ``month``."""

    first = [e for k in chart.point_kinds if (e := chart.expiry_for(month, k)) is not None]
    last = [e for k in chart.point_kinds if (e := chart.expiry_for(month_end(month), k)) is not None]
    return min(first), max(last)


def chart_closed_cohorts(chart: Chart, as_of: date, count: int) -> tuple[date, ...]:
    """:func:`closed_cohorts` for every kind of point the chart keeps: a cohort is closed when the last bucket
    of its longest-lived kind is due on ``as_of``."""

    last = month_start(as_of)
    while cohort_expiries(chart, last)[1] > as_of:
        last = add_months(last, -1)
    return tuple(add_months(last, -i) for i in range(count - 1, -1, -1))


def closed_cohorts(as_of: date, expiry_days: int, count: int) -> tuple[date, ...]:
    """The ``count`` most recent cohorts whose buckets have all passed expiry on ``as_of``, oldest first.

    A cohort (month *m*) is closed when the bucket of its last day,
    ``last_day(m) + expiry_days``, is due: that date ≤ ``as_of``.
    """

    latest_earn = as_of - timedelta(days=expiry_days)
    last = month_start(latest_earn)
    if month_end(last) > latest_earn:
        last = add_months(last, -1)
    return tuple(add_months(last, -i) for i in range(count - 1, -1, -1))


class CohortRow(Frozen):
    cohort: str
    """Earn month, ``YYYY-MM``."""
    status: Literal["closed", "open"]
    first_expiry: date
    last_expiry: date
    issued: int | None = None
    expired: int | None = None
    rate: Decimal | None = None
    outstanding: int = 0
    """Open cohorts: points not yet due (buckets and pending)."""
    awaiting_expiry: int = 0
    """Points already due but not yet moved to expired."""
    estimated: int | None = None
    """Open cohorts: estimated breakage points."""
    value: Decimal | None = None
    """Money value of ``estimated``."""


class BreakageReport(Windowed):
    realised_points: int
    realised_value: Decimal
    method: str
    rate: Decimal | None
    rate_cohorts: tuple[str, ...]
    cohorts: tuple[CohortRow, ...]
    awaiting_expiry_points: int
    awaiting_expiry_value: Decimal
    estimated_points: int | None
    estimated_value: Decimal | None
    note: str | None = None
    """Why there is no estimate, when there is none."""


def breakage_method(rate_cohorts: int) -> str:
    return (
        f"rate = expired / issued over the {rate_cohorts} most recent earn cohorts (programme-calendar month "
        "of the earn) whose buckets have all passed expiry; issued = points out of the issuance shards and "
        "the adjustments account dated in the month, less clawback repayments; expired = points the expiry "
        "runs took from the cohort's buckets plus points still in them; a bucket's cohort is its expiry date "
        "minus policies.expiry_days (for bonus and transferred points: their period in policies.point_kinds). Estimate = each open cohort's not-yet-due points (buckets and pending) "
        "x rate, rounded half-even; held and noexpiry points are not estimated; due but unswept points are "
        "reported as awaiting expiry."
    )


def breakage_report(
    *,
    start: datetime | None,
    end: datetime,
    chart: Chart,
    realised: int,
    positions: Sequence[AccountState],
    expired_by_expiry: Mapping[tuple[date, str], int] | Mapping[date, int],
    issued_by_cohort: Mapping[date, int],
    rate_cohorts: int = DEFAULT_RATE_COHORTS,
) -> BreakageReport:
    """Realised breakage and the cohort estimate (see the module docstring for the method).

    ``positions``: every customer points bucket and pending account at
    ``end``; ``expired_by_expiry``: points the expiry runs moved to expired,
    by the bucket's expiry date and kind of point (a bare date: base points); ``issued_by_cohort``: issued points of each
    closed cohort in :func:`closed_cohorts` (keyed by the month's first day).
    """

    value = chart.point_value
    end = utc(end)
    days = chart.policies.expiry_days
    common: dict[str, Any] = {
        **windowed(chart, start, end),
        "realised_points": realised,
        "realised_value": money_value(realised, value),
        "method": breakage_method(rate_cohorts),
    }
    if days is None:
        return BreakageReport(
            **common,
            rate=None,
            rate_cohorts=(),
            cohorts=(),
            awaiting_expiry_points=0,
            awaiting_expiry_value=money_value(0, value),
            estimated_points=None,
            estimated_value=None,
            note="points never expire under this chart (policies.expiry_days is null): no breakage to estimate",
        )

    today = chart.local_date(end)
    closed = chart_closed_cohorts(chart, today, rate_cohorts)
    closed_set = set(closed)
    not_due: dict[date, int] = defaultdict(int)
    due: dict[date, int] = defaultdict(int)
    for dated in dated_points(chart, positions):
        cohort = bucket_cohort(chart, dated.expiry, dated.point_kind)
        if dated.expiry <= today:
            due[cohort] += dated.points
        else:
            not_due[cohort] += dated.points

    expired_by_cohort: dict[date, int] = defaultdict(int)
    for key, points in expired_by_expiry.items():
        expiry, kind = key if isinstance(key, tuple) else (key, BASE)
        expired_by_cohort[bucket_cohort(chart, expiry, kind)] += points

    def cohort_row(month: date, status: Literal["closed", "open"], **figures: Any) -> CohortRow:
        """The row of the cohort earned in ``month``: its expiry dates, its points awaiting expiry and ``figures``."""

        return CohortRow(
            cohort=month_label(month),
            status=status,
            first_expiry=cohort_expiries(chart, month)[0],
            last_expiry=cohort_expiries(chart, month)[1],
            awaiting_expiry=due.get(month, 0),
            **figures,
        )

    issued_total = sum(issued_by_cohort.get(m, 0) for m in closed)
    expired_total = sum(expired_by_cohort.get(m, 0) + due.get(m, 0) for m in closed)
    rate = Fraction(expired_total, issued_total) if issued_total > 0 else None

    rows: list[CohortRow] = []
    for month in closed:
        issued = issued_by_cohort.get(month, 0)
        expired = expired_by_cohort.get(month, 0) + due.get(month, 0)
        if issued == 0 and expired == 0:
            continue
        rows.append(
            cohort_row(
                month, "closed", issued=issued, expired=expired, rate=_rate_decimal(Fraction(expired, issued)) if issued else None
            )
        )
    estimated_total = 0
    for month in sorted((set(not_due) | set(due)) - closed_set):
        if cohort_expiries(chart, month)[1] <= today:
            # Closed, but older than the cohorts the rate uses: only what is left to sweep.
            rows.append(cohort_row(month, "closed"))
            continue
        outstanding = not_due.get(month, 0)
        estimate = round(outstanding * rate) if rate is not None else None
        estimated_total += estimate or 0
        rows.append(
            cohort_row(
                month,
                "open",
                outstanding=outstanding,
                estimated=estimate,
                value=money_value(estimate, value) if estimate is not None else None,
            )
        )
    awaiting = sum(due.values())
    note = None
    if rate is None:
        first_close = month_end(closed[-1]) if closed else today
        note = (
            "too little history to estimate breakage: no earn cohort whose buckets have all passed expiry "
            f"issued any points (the {rate_cohorts} most recent closed cohorts end with "
            f"{month_label(closed[-1]) if closed else 'none'}; cohorts earned after "
            f"{first_close.isoformat()} are still open)"
        )
    return BreakageReport(
        **common,
        rate=_rate_decimal(rate) if rate is not None else None,
        rate_cohorts=tuple(month_label(m) for m in closed),
        cohorts=tuple(sorted(rows, key=lambda r: r.cohort)),
        awaiting_expiry_points=awaiting,
        awaiting_expiry_value=money_value(awaiting, value),
        estimated_points=estimated_total if rate is not None else None,
        estimated_value=money_value(estimated_total, value) if rate is not None else None,
        note=note,
    )


def read_breakage(
    ledger: LedgerPort,
    chart: Chart,
    start: datetime | None,
    end: datetime | None,
    *,
    rate_cohorts: int = DEFAULT_RATE_COHORTS,
    clock: Clock,
) -> BreakageReport:
    """Realised breakage over ``(start, end]`` and the cohort estimate as of ``end`` (default: now)."""

    if not 1 <= rate_cohorts <= MAX_RATE_COHORTS:
        raise InvalidCommand(f"the rate takes 1 to {MAX_RATE_COHORTS} cohorts (months), got {rate_cohorts}")
    start, end = window(start, end, clock)
    asset = chart.points_asset
    realised = sum(
        row.input - row.output
        for row in ledger.volumes(chart.expired(), **volume_window(start, end))
        if row.asset == asset and row.account == chart.expired()
    )
    days = chart.policies.expiry_days
    positions: list[AccountState] = []
    expired_by_expiry: dict[tuple[date, str], int] = defaultdict(int)
    issued: dict[date, int] = {}
    if days is not None:
        positions = read_dated_positions(ledger, chart, end)
        months = chart_closed_cohorts(chart, chart.local_date(end), rate_cohorts)
        refunded = refunded_by_cohort(chart, ledger.transactions(metadata={"operation": "refund"}, end=end + ONE_MICROSECOND))
        for month in months:
            issued[month] = issued_in(ledger, chart, month) - refunded.get(month, 0)
        first_expiry = day_start(cohort_expiries(chart, months[0])[0], chart.timezone)
        if first_expiry <= end:
            runs = ledger.transactions(metadata={"operation": "expire"}, start=first_expiry, end=end + ONE_MICROSECOND)
            expired_by_expiry = expiry_runs_by_kind(chart, runs)
    return breakage_report(
        start=start,
        end=end,
        chart=chart,
        realised=realised,
        positions=positions,
        expired_by_expiry=expired_by_expiry,
        issued_by_cohort=issued,
        rate_cohorts=rate_cohorts,
    )


def expiry_runs(chart: Chart, transactions: Iterable[PostedTransaction]) -> dict[date, int]:
    """Points the expiry runs among ``transactions`` moved to the expired account, by the bucket expiry date
    each records (``expires_at``), whatever the kind of point; other transactions, reverted runs and unreadable
    dates are left out."""

    found: dict[date, int] = defaultdict(int)
    for (expiry, _), points in expiry_runs_by_kind(chart, transactions).items():
        found[expiry] += points
    return found


def expiry_runs_by_kind(chart: Chart, transactions: Iterable[PostedTransaction]) -> dict[tuple[date, str], int]:
    """:func:`expiry_runs` by (expiry date, kind of point): the kind an expiry run records (``point_kind``,
    absent for base points)."""

    found: dict[tuple[date, str], int] = defaultdict(int)
    for tx in transactions:
        if tx.metadata.get("operation") != "expire" or tx.reverted:
            continue
        try:
            expiry = date.fromisoformat(tx.metadata.get("expires_at", ""))
        except ValueError:
            continue
        kind = tx.metadata.get("point_kind", BASE)
        moved = sum(p.amount for p in tx.postings if p.asset == chart.points_asset and p.destination == chart.expired())
        found[expiry, kind] += moved
    return found


def refunded_by_cohort(chart: Chart, transactions: Iterable[PostedTransaction]) -> dict[date, int]:
    """Points refunds took back from dated accounts (buckets, pending), by the earn cohort of each account's expiry
    date: points that will neither be redeemed nor expire, so they leave the cohort's issued total. Refund
    shortfalls (clawback debt) and reverted refunds are left out; without an expiry period there are no cohorts."""

    days = chart.policies.expiry_days
    found: dict[date, int] = defaultdict(int)
    if days is None:
        return found
    for tx in transactions:
        if tx.metadata.get("operation") != "refund" or tx.reverted:
            continue
        for p in tx.postings:
            if p.asset != chart.points_asset or kind_of(chart, p.destination) != "points_issued":
                continue
            parsed = chart.parse(p.source)
            if parsed is None or parsed.kind not in DATED_KINDS:
                continue
            expiry, kind = parse_expiry_segment(parsed.values["expiry"])
            if expiry is not None:
                found[bucket_cohort(chart, expiry, kind)] += p.amount
    return found


def issued_in(ledger: LedgerPort, chart: Chart, month: date) -> int:
    """Points issued in a programme-calendar month, less clawback repayments (see breakage_method)."""

    asset = chart.points_asset
    start = day_start(month, chart.timezone)
    end = month_last_instant(chart, month)
    issued = 0
    for row in ledger.volumes(chart.root_filter("points_issued"), start=start, end=end):
        if row.asset == asset and kind_of(chart, row.account) in ("points_issued", "points_adjustments"):
            issued += row.output
    for row in ledger.volumes(chart.kind_filter("customer_clawback"), start=start, end=end, group_by=1):
        if row.asset == asset:
            issued -= row.input
    return issued
