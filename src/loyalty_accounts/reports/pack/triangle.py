"""The cohort triangle: per earn month (cohort) and age in months, the cumulative points redeemed and expired.

Attribution
    A point's cohort is the earn month of the bucket it leaves, as the
    breakage report derives it: the expiry date in the address of a
    ``customers:{c}:points:{expiry}`` bucket (or ``pending:{release}:{expiry}``
    account) less the period of the bucket's kind of point (``policies.expiry_days``
    for base points, ``policies.point_kinds`` for bonus and transferred ones),
    so holds and releases, which keep expiry dates and kinds, keep points in
    their cohort (transferred points count in the cohort of their transfer). Each posting into
    ``program:points:redeemed`` or ``program:points:expired`` counts for the
    cohort of its source bucket, at the age of the transaction: whole
    programme-calendar months from the cohort's month to the transaction's
    (0: the month it was earned; a posting dated before its cohort's month
    counts at age 0). A posting out of those accounts back into a bucket (a
    revert) counts negatively. A capture redeems from a hold account, not a
    bucket: the hold's own postings say which buckets it drew from, the
    capture's returns go back to some of them, and the captured points are
    what is left, taken soonest-expiring first (as ``capture.num`` returns
    the latest first). Points from an account without an expiry date
    (``noexpiry`` buckets, a hold whose origin is not in the reads, a manual
    posting) are *unattributed*; points from cohorts earned before the
    triangle's first cohort are *earlier*.

Ties
    Every posting into or out of the two accounts since the first cohort's
    month is counted once, so the cohorts' final figures plus earlier and
    unattributed points equal the net input of each account over the same
    window, which the ledger's volumes give separately (``ledger_redeemed``,
    ``ledger_expired``). Per cohort, the expired figure must also equal what
    the expiry runs recorded: each ``expire`` transaction names the expiry
    date of the bucket it swept (``expires_at``), independently of the
    posting's source address.

Worked example (expiry 365 days, as of 2026-03-31): 100 points earned on
2026-01-10 land in bucket ``20270110`` (cohort 2026-01); 30 are redeemed on
2026-01-20 and 20 more on 2026-03-02; a hold of 40 on 2026-02-01 is captured
the same day for 25 (15 go back)::

    cohort  issued  redeemed: age 0  1   2     expired: age 0 1 2
    2026-01    100            30     55  75             0   0 0
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Mapping, Sequence

from ...chart import Chart, parse_expiry_segment
from ...ports import LedgerPort
from ...types import PostedTransaction
from ...vocabulary.frozen import Frozen
from ...vocabulary.instants import day_start, utc
from ..breakage import bucket_cohort, expiry_runs_by_kind, issued_in
from ..common import DATED_KINDS, ONE_MICROSECOND
from ..months import add_months, month_label, month_start, months_apart

__all__ = ["CohortTriangle", "TriangleRow", "cohort_triangle", "first_cohort", "read_cohort_triangle"]

MEASURES = ("redeemed", "expired")


class TriangleRow(Frozen):
    """One cohort: its issued points and, by age in months (0 first), cumulative redeemed and expired points.

    Ages the cohort has not reached by the as-of instant are None.
    """

    cohort: str
    """Earn month, ``YYYY-MM``."""
    issued: int
    """Points issued in the month (the breakage report's definition: issuance shards and adjustments, less clawback repayments)."""
    redeemed: tuple[int | None, ...]
    expired: tuple[int | None, ...]
    expired_recorded: int
    """Points the expiry runs recorded for this cohort's buckets (``expire`` transactions by ``expires_at``)."""

    @property
    def redeemed_total(self) -> int:
        return _last(self.redeemed)

    @property
    def expired_total(self) -> int:
        return _last(self.expired)


def _last(cells: tuple[int | None, ...]) -> int:
    reached = [c for c in cells if c is not None]
    return reached[-1] if reached else 0


class CohortTriangle(Frozen):
    """The triangle as of an instant, over the cohorts from ``since``'s month on (see the module docstring)."""

    since: datetime
    """The first instant of the first cohort's month: the reads start there."""
    as_of: datetime
    expiry_days: int | None
    """None: points never expire under the chart, and there are no cohorts."""
    ages: int
    """How many age columns (0 to ``ages - 1``)."""
    rows: tuple[TriangleRow, ...]
    earlier: Mapping[str, int]
    """Points of cohorts before the first one, by measure (``redeemed``, ``expired``)."""
    unattributed: Mapping[str, int]
    """Points from accounts without an expiry date, by measure."""
    ledger: Mapping[str, int]
    """The ledger's own figure for each measure: the account's net input over ``[since, as_of]`` (volumes)."""

    def total(self, measure: str) -> int:
        """Every cohort's final figure plus earlier and unattributed points: what should equal :attr:`ledger`."""

        rows = sum(r.redeemed_total if measure == "redeemed" else r.expired_total for r in self.rows)
        return rows + self.earlier.get(measure, 0) + self.unattributed.get(measure, 0)

    def ties(self, measure: str) -> bool:
        return self.total(measure) == self.ledger.get(measure, 0)

    @property
    def expired_ties_per_cohort(self) -> bool:
        return all(row.expired_total == row.expired_recorded for row in self.rows)

    @property
    def ok(self) -> bool:
        return all(self.ties(m) for m in MEASURES) and self.expired_ties_per_cohort


def first_cohort(chart: Chart, start: datetime) -> date | None:
    """The earliest cohort with a bucket still live after ``start``: the month of (start's date − expiry days)."""

    if chart.policies.expiry_days is None:
        return None
    day = chart.local_date(utc(start))
    return min(month_start(chart.earned_on(day, k)) for k in chart.point_kinds if not chart.period(k).never)


class _Attribution:
    """Points per (cohort or None, measure, age) from the transactions' postings (see the module docstring)."""

    def __init__(self, chart: Chart, days: int) -> None:
        self.chart = chart
        self.days = days
        self.ends = {chart.redeemed(): "redeemed", chart.expired(): "expired"}
        self.holds: dict[str, dict[date | None, int]] = defaultdict(lambda: defaultdict(int))
        self.cells: dict[tuple[date | None, str, date], int] = defaultdict(int)

    def _where(self, address: str) -> tuple[str, date | None]:
        """``("dated", cohort or None)``, ``("hold", None)`` or ``("other", None)``."""

        parsed = self.chart.parse(address)
        if parsed is None:
            return "other", None
        if parsed.kind in DATED_KINDS:
            expiry, kind = parse_expiry_segment(parsed.values["expiry"])
            dated = expiry is not None and not self.chart.period(kind).never
            return "dated", (bucket_cohort(self.chart, expiry, kind) if dated else None)
        return ("hold", None) if parsed.kind == "customer_hold" else ("other", None)

    def add(self, tx: PostedTransaction) -> None:
        month = month_start(self.chart.local_date(utc(tx.timestamp)))
        postings = [p for p in tx.postings if p.asset == self.chart.points_asset and p.amount]
        for p in postings:  # into and out of holds first: a capture's returns settle before what it captured
            source, destination = self._where(p.source), self._where(p.destination)
            if source[0] == "dated" and destination[0] == "hold":
                self.holds[p.destination][source[1]] += p.amount
            elif source[0] == "hold" and destination[0] == "dated":
                self.holds[p.source][destination[1]] -= p.amount
        for p in postings:
            if p.destination in self.ends:
                kind, cohort = self._where(p.source)
                if kind == "hold":
                    self._from_hold(p.source, self.ends[p.destination], month, p.amount)
                else:
                    self.cells[(cohort, self.ends[p.destination], month)] += p.amount
            elif p.source in self.ends:
                kind, cohort = self._where(p.destination)
                self.cells[(cohort if kind == "dated" else None, self.ends[p.source], month)] -= p.amount

    def _from_hold(self, hold: str, measure: str, month: date, points: int) -> None:
        """Points captured from ``hold``: from the cohorts it still holds, soonest first; the rest unattributed."""

        held = self.holds[hold]
        for cohort in sorted((c for c in held if c is not None and held[c] > 0)):
            taken = min(held[cohort], points)
            held[cohort] -= taken
            points -= taken
            self.cells[(cohort, measure, month)] += taken
        if points:
            self.cells[(None, measure, month)] += points


def cohort_triangle(
    *,
    chart: Chart,
    since: datetime,
    as_of: datetime,
    transactions: Sequence[PostedTransaction],
    issued: Mapping[date, int],
    ledger: Mapping[str, int],
) -> CohortTriangle:
    """The triangle of the cohorts from ``since``'s month to ``as_of``'s.

    ``transactions``: every transaction dated in ``[since, as_of]`` that touches the redeemed or
    expired account or a hold account (any order; one listed twice counts once); ``issued``: each
    cohort month's issued points; ``ledger``: the net input of the redeemed and expired accounts over
    the same window, by measure. With ``policies.expiry_days`` null there are no cohorts: every
    point is unattributed.
    """

    since, as_of = utc(since), utc(as_of)
    days = chart.policies.expiry_days
    unique = sorted({tx.id: tx for tx in transactions}.values(), key=lambda t: (utc(t.timestamp), t.id))
    first = month_start(chart.local_date(since))
    last = month_start(chart.local_date(as_of))
    attribution = _Attribution(chart, days if days is not None else 0)
    for tx in unique:
        attribution.add(tx)
    if days is None:
        flat: dict[str, int] = defaultdict(int)
        for (_, measure, _), points in attribution.cells.items():
            flat[measure] += points
        return CohortTriangle(
            since=since, as_of=as_of, expiry_days=None, ages=0, rows=(), earlier={}, unattributed=dict(flat), ledger=dict(ledger)
        )
    recorded: dict[date, int] = defaultdict(int)
    for (expiry, kind), points in expiry_runs_by_kind(chart, unique).items():
        recorded[bucket_cohort(chart, expiry, kind)] += points
    by_cohort: dict[tuple[date, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    earlier: dict[str, int] = defaultdict(int)
    unattributed: dict[str, int] = defaultdict(int)
    for (cohort, measure, month), points in attribution.cells.items():
        if cohort is None:
            unattributed[measure] += points
        elif cohort < first:
            earlier[measure] += points
        else:
            by_cohort[(cohort, measure)][max(months_apart(cohort, month), 0)] += points
    active = {cohort for cohort, _ in by_cohort} | {m for m, n in issued.items() if n} | set(recorded)
    cohorts = [add_months(first, i) for i in range(months_apart(first, last) + 1)]
    cohorts = [c for c in cohorts if c in active]
    ages = months_apart(cohorts[0], last) + 1 if cohorts else 0

    def cumulative(cohort: date, measure: str) -> tuple[int | None, ...]:
        reached = months_apart(cohort, last)
        moves = by_cohort.get((cohort, measure), {})
        out: list[int | None] = []
        running = 0
        for age in range(ages):
            running += moves.get(age, 0)
            out.append(running if age <= reached else None)
        return tuple(out)

    rows = tuple(
        TriangleRow(
            cohort=month_label(c),
            issued=issued.get(c, 0),
            redeemed=cumulative(c, "redeemed"),
            expired=cumulative(c, "expired"),
            expired_recorded=recorded.get(c, 0),
        )
        for c in cohorts
    )
    return CohortTriangle(
        since=since,
        as_of=as_of,
        expiry_days=days,
        ages=ages,
        rows=rows,
        earlier=dict(earlier),
        unattributed=dict(unattributed),
        ledger=dict(ledger),
    )


def read_cohort_triangle(ledger: LedgerPort, chart: Chart, start: datetime, as_of: datetime) -> CohortTriangle:
    """The triangle of the cohorts with buckets live after ``start``, as of ``as_of``.

    Reads, over ``[since, as_of]`` where ``since`` starts :func:`first_cohort`'s month (the period's
    start when points never expire): the transactions touching the redeemed account, the expired
    account and the hold accounts (three listings), those two accounts' volumes (two requests), and
    each cohort month's issued points (two requests a month).
    """

    as_of = utc(as_of)
    first = first_cohort(chart, start)
    since = day_start(first, chart.timezone) if first is not None else utc(start) + ONE_MICROSECOND
    bounds = {"start": since, "end": as_of + ONE_MICROSECOND}
    transactions: list[PostedTransaction] = []
    for address in (chart.redeemed(), chart.expired(), chart.kind_filter("customer_hold")):
        transactions.extend(ledger.transactions(account=address, **bounds))
    totals = {}
    for address, measure in ((chart.redeemed(), "redeemed"), (chart.expired(), "expired")):
        rows = ledger.volumes(address, start=since, end=as_of)
        totals[measure] = sum(r.input - r.output for r in rows if r.account == address and r.asset == chart.points_asset)
    issued: dict[date, int] = {}
    if first is not None:
        month, last = first, month_start(chart.local_date(as_of))
        while month <= last:
            issued[month] = issued_in(ledger, chart, month)
            month = add_months(month, 1)
    return cohort_triangle(chart=chart, since=since, as_of=as_of, transactions=transactions, issued=issued, ledger=totals)
