"""The pack's sections: each one function from a :class:`PackContext` to a :class:`~.model.Section`.

A section reads what it shows through the context's ledger with the
reports' own ``read_*`` functions (nothing is recomputed here) and turns
the report into paragraphs, charts (:mod:`.charts`) and tables. The pack
holds the sections :data:`SECTIONS` lists, in that order.

Adding a section is one function and one line (:func:`revenue_section` is a short example)::

    def revenue_section(ctx: PackContext) -> Section:
        report = read_revenue(ctx.ledger, ctx.chart, ctx.start, ctx.end, clock=ctx.clock)
        ...
        return Section(key="revenue", title=..., paragraphs=(...,), tables=(Table.of("revenue_schedule", ...),))

    SECTIONS = (..., SectionEntry(revenue_section), ...)

A table's name becomes its CSV file (``revenue_schedule.csv``) and must be
unique in the pack; ``steps`` (default 1) is how many progress steps the
section counts, when it makes many reads and calls ``ctx.advance()`` after each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, NamedTuple

from ...chart import Chart
from ...errors import InvalidCommand
from ...ports import LedgerPort
from ...rules import Rules
from ...services.executor import CLOCK_SKEW
from ..breakage import read_breakage
from ..common import Clock
from ..liability import STATES, LiabilityStatement, read_liability
from ..pool import read_pool_positions
from ..reconcile import read_reconciliation
from ..revenue_read import read_revenue
from ..roll_forward import read_roll_forward
from .charts import bar_figure
from .flows import daily_flows_section
from .model import Section, Table
from .partners import read_partner_balances
from .triangle import MEASURES, CohortTriangle, read_cohort_triangle

__all__ = ["SECTIONS", "PackContext", "SectionEntry"]


@dataclass(frozen=True)
class PackContext:
    """What a section reads with: the ledger, the chart, the period ``(start, end]`` and its series' instants."""

    ledger: LedgerPort
    chart: Chart
    start: datetime
    end: datetime
    """The as-of instant: every read is effective at or before it."""
    instants: tuple[datetime, ...]
    """The start, every month end inside the period, and ``end`` (:func:`.period.series_instants`)."""
    clock: Clock
    rules: Rules | None = None
    clock_skew: timedelta = CLOCK_SKEW
    advance: Callable[[], None] = field(default=lambda: None)
    """Call after each of a section's long reads (it counts as many as its entry's ``steps``)."""

    def day(self, moment: datetime) -> str:
        """The programme-calendar date of ``moment``, ISO."""

        return self.chart.local_date(moment).isoformat()

    @property
    def window(self) -> str:
        return f"({self.start.isoformat()}, {self.end.isoformat()}]"


class SectionEntry(NamedTuple):
    """A registered section: its function and how many progress steps it counts."""

    build: Callable[[PackContext], Section]
    steps: Callable[[PackContext], int] = lambda ctx: 1


# -- liability by state over time ----------------------------------------------------------------

LIABILITY_COLUMNS = ("as_of", *STATES, "total_points", "total_value", "currency", "customers", "ties")


def _liability_row(statement: LiabilityStatement) -> dict[str, Any]:
    row: dict[str, Any] = {line.state: line.points for line in statement.lines}
    return row | {
        "as_of": statement.as_of,
        "total_points": statement.total_points,
        "total_value": statement.total_value,
        "currency": statement.currency,
        "customers": statement.customers_with_position,
        "ties": statement.ties,
    }


def liability_section(ctx: PackContext) -> Section:
    """The liability by state at the period's start, each month end and the as-of instant (one read each)."""

    statements = []
    for instant in ctx.instants:
        statements.append(read_liability(ctx.ledger, ctx.chart, instant, clock=ctx.clock))
        ctx.advance()
    last = statements[-1]
    shown = [s for s in STATES if any(line.points for st in statements for line in st.lines if line.state == s)]
    series = [
        (state, [float(next(line.value for line in st.lines if line.state == state)) for st in statements]) for state in shown
    ]
    figure = bar_figure(
        "liability_by_state",
        "Liability by state over time",
        f"Outstanding points by state, valued in {last.currency} at 1 {last.points_asset} = {last.point_value} "
        f"{last.currency}, at the period's start, each month end and the as-of date.",
        categories=[ctx.day(s.as_of) for s in statements],
        series=series,
        unit=last.currency,
    )
    return Section(
        key="liability",
        title="Liability by state over time",
        paragraphs=(
            f"Outstanding points by state (spendable, due, pending, held, negative, other), read effective at each "
            f"instant: every transaction dated at or before it, whenever it was posted, as `loyalty report liability "
            f"--as-of` reads it. At {last.as_of.isoformat()}: {last.total_points} {last.points_asset} = "
            f"{last.total_value} {last.currency}; ties with the ledger's own totals: {'yes' if all(s.ties for s in statements) else 'NO'}.",
        ),
        figures=(figure,),
        tables=(
            Table.of("liability_over_time", "Liability by state (points) and its value", LIABILITY_COLUMNS, [_liability_row(s) for s in statements]),
        ),
    )


# -- roll-forward in points and money -----------------------------------------------------------

ROLL_FORWARD_COLUMNS = ("line", "account", "points", "value", "currency", "explained")


def roll_forward_section(ctx: PackContext) -> Section:
    """Opening + movements = closing over the period, in points and in money."""

    report = read_roll_forward(ctx.ledger, ctx.chart, ctx.start, ctx.end, clock=ctx.clock)

    def row(line: str, account: str, points: int, explained: bool | None = None) -> dict[str, Any]:
        return {"line": line, "account": account, "points": points, "value": report.value(points), "currency": report.currency, "explained": explained}

    rows = [row("opening", "customers:...", report.opening_points)]
    rows += [row(line.line, line.account, line.points, line.explained) for line in report.lines]
    footer = [
        row("expected_closing", "customers:...", report.expected_closing_points),
        row("closing", "customers:...", report.closing_points),
        row("difference", "customers:...", report.difference),
    ]
    verdict = "ties" if report.ties else f"does NOT tie: difference {report.difference} {report.points_asset}"
    return Section(
        key="roll_forward",
        title="Roll-forward of the points liability (points and money)",
        paragraphs=(
            f"Opening liability at {ctx.start.isoformat()} plus the period's movements equals the closing liability "
            f"at {ctx.end.isoformat()}, in points and in money (points × {report.point_value} {report.currency}), "
            f"as `loyalty report activity` reads it. The roll-forward {verdict}.",
        ),
        tables=(Table.of("roll_forward", "Roll-forward", ROLL_FORWARD_COLUMNS, rows, footer=footer),),
    )


# -- the revenue schedule (IFRS 15) -------------------------------------------------------------

REVENUE_COLUMNS = ("line", "points", "amount", "currency")
ESTIMATE_COLUMNS = ("effective", "breakage_rate", "constrained_rate", "method", "fx", "approved_by", "reason", "transaction")


def revenue_section(ctx: PackContext) -> Section:
    """The contract liability for points rolled forward in money over the period, and the estimates it used."""

    title = "Revenue schedule (IFRS 15 / ASC 606)"
    try:
        report = read_revenue(ctx.ledger, ctx.chart, ctx.start, ctx.end, clock=ctx.clock)
    except InvalidCommand as exc:
        return Section(key="revenue", title=title, paragraphs=(f"Not available for this period: {exc.message}",))
    rows = [{"line": line, "points": points, "amount": amount, "currency": report.currency} for line, points, amount in report.lines()]
    footer = [{"line": "closing", "points": report.closing_points, "amount": report.closing, "currency": report.currency}]
    estimates = [
        {
            "effective": e.effective,
            "breakage_rate": e.estimates.breakage_rate,
            "constrained_rate": e.estimates.constrained_rate,
            "method": e.estimates.method,
            "fx": " ".join(f"{c}={r}" for c, r in e.estimates.fx),
            "approved_by": e.approved_by,
            "reason": e.reason,
            "transaction": e.transaction_id,
        }
        for e in report.estimates
    ]
    verdict = "ties" if report.ties else f"does NOT tie (points differ by {report.points_tie})"
    unpriced = tuple(f"Not allocated: {u.reason}." for u in report.unpriced)
    return Section(
        key="revenue",
        title=title,
        paragraphs=unpriced + (
            f"The points' contract liability at its allocated price, as `loyalty report revenue` reads it: orders of "
            f"{report.sales_price} {report.currency} in the period, {report.allocated} allocated to points by relative "
            f"stand-alone selling price and {report.allocated_to_goods} to goods; revenue on points {report.revenue} "
            f"(redemption {report.recognised_redemption}, breakage {report.recognised_breakage}, catch-up "
            f"{report.catch_up}). The schedule {verdict}; the points column rolls forward like the activity report.",
        ),
        tables=(
            Table.of("revenue_schedule", "Contract liability roll-forward", REVENUE_COLUMNS, rows, footer=footer),
            Table.of("revenue_estimates", "Estimates in force", ESTIMATE_COLUMNS, estimates),
        ),
    )


# -- breakage by earn cohort --------------------------------------------------------------------

BREAKAGE_COLUMNS = (
    "cohort", "status", "first_expiry", "last_expiry", "issued", "expired", "rate",
    "outstanding", "awaiting_expiry", "estimated", "value", "currency",
)


def breakage_section(ctx: PackContext) -> Section:
    """Realised breakage over the period and the estimate by earn cohort as of the as-of instant."""

    report = read_breakage(ctx.ledger, ctx.chart, ctx.start, ctx.end, clock=ctx.clock)
    cohorts = report.cohorts
    figure = bar_figure(
        "breakage_by_cohort",
        "Breakage by earn cohort",
        f"Per earn month: points the expiry runs swept (closed cohorts), points due and awaiting the sweep, and "
        f"the estimate for open cohorts, in {report.points_asset}.",
        categories=[c.cohort for c in cohorts],
        series=[
            ("expired", [float((c.expired or 0) - (c.awaiting_expiry if c.expired is not None else 0)) for c in cohorts]),
            ("awaiting expiry", [float(c.awaiting_expiry) for c in cohorts]),
            ("estimated", [float(c.estimated or 0) for c in cohorts]),
        ],
        unit=report.points_asset,
    )
    rows = [c.model_dump() | {"outstanding": c.outstanding if c.status == "open" else None, "currency": report.currency} for c in cohorts]
    estimate = (
        f"Estimated breakage on outstanding points: {report.estimated_points} {report.points_asset} = "
        f"{report.estimated_value} {report.currency} at rate {report.rate}."
        if report.estimated_points is not None
        else f"No estimate: {report.note}"
    )
    return Section(
        key="breakage",
        title="Breakage by earn cohort",
        paragraphs=(
            f"Realised breakage over {ctx.window}: {report.realised_points} {report.points_asset} = "
            f"{report.realised_value} {report.currency}. Awaiting expiry (due, not yet swept): "
            f"{report.awaiting_expiry_points} {report.points_asset}. {estimate}",
            f"Method: {report.method}",
        ),
        figures=(figure,),
        tables=(Table.of("breakage_cohorts", "Earn cohorts", BREAKAGE_COLUMNS, rows),),
    )


# -- cohort triangle ----------------------------------------------------------------------------


def _triangle_table(triangle: CohortTriangle, measure: str) -> Table:
    columns = ("cohort", "issued", *(f"age_{age}" for age in range(triangle.ages)))
    rows = [
        (row.cohort, row.issued, *(row.redeemed if measure == "redeemed" else row.expired)) for row in triangle.rows
    ]
    return Table(
        name=f"cohort_triangle_{measure}",
        title=f"Cumulative points {measure}, by earn month and age in months",
        columns=columns,
        rows=tuple(rows),
    )


def _triangle_ties(triangle: CohortTriangle) -> Table:
    rows: list[dict[str, Any]] = []
    for measure in MEASURES:
        account = f"program:points:{measure}"
        rows.append({
            "check": f"{measure}, every cohort (+ earlier {triangle.earlier.get(measure, 0)}, unattributed {triangle.unattributed.get(measure, 0)})",
            "triangle": triangle.total(measure),
            "ledger": triangle.ledger.get(measure, 0),
            "ledger_source": f"net input of {account} over [{triangle.since.isoformat()}, {triangle.as_of.isoformat()}]",
            "ties": triangle.ties(measure),
        })
    for row in triangle.rows:
        rows.append({
            "check": f"expired, cohort {row.cohort}",
            "triangle": row.expired_total,
            "ledger": row.expired_recorded,
            "ledger_source": "expire transactions by the expires_at they record",
            "ties": row.expired_total == row.expired_recorded,
        })
    return Table.of("cohort_triangle_ties", "Ties to the ledger", ("check", "triangle", "ledger", "ledger_source", "ties"), rows)


def _lifetimes(chart: Chart) -> str:
    """The expiry period of each kind of point the chart keeps, for prose: ``365 days`` or ``365 days (base), ...``."""

    if chart.point_kinds == ("base",):
        return chart.period().describe()
    return ", ".join(f"{chart.period(k).describe()} ({k})" for k in chart.point_kinds)


def triangle_section(ctx: PackContext) -> Section:
    """Per earn month and age, cumulative points redeemed and expired, tied to the ledger."""

    triangle = read_cohort_triangle(ctx.ledger, ctx.chart, ctx.start, ctx.end)
    if triangle.expiry_days is None:
        return Section(
            key="cohort_triangle",
            title="Cohort triangle",
            paragraphs=("Points never expire under this chart (policies.expiry_days is null): buckets carry no earn date, so there are no cohorts.",),
            tables=(_triangle_ties(triangle),),
        )
    return Section(
        key="cohort_triangle",
        title="Cohort triangle: cumulative redeemed and expired",
        paragraphs=(
            f"Rows are the earn months (cohorts) that issued or moved points, from {ctx.chart.local_date(triangle.since):%Y-%m} "
            f"on: the first month whose buckets could still be live after the period's start. Columns are ages in whole "
            f"months since the earn month (age 0: that month); empty cells are ages not reached by the as-of date. A point belongs to the "
            f"cohort of the bucket it leaves: the bucket's expiry date less {_lifetimes(ctx.chart)}; a capture's "
            f"points are traced through its hold to the buckets the hold drew from, soonest-expiring first.",
            f"The last figure of each row is that cohort's total. All cohorts together, with points of earlier "
            f"cohorts and points from accounts without an expiry date, equal the ledger's volumes of the redeemed and "
            f"expired accounts; each cohort's expired points equal what its expiry runs recorded. "
            f"Ties: {'yes' if triangle.ok else 'NO'}.",
        ),
        tables=(_triangle_table(triangle, "redeemed"), _triangle_table(triangle, "expired"), _triangle_ties(triangle)),
    )


# -- partner balances ---------------------------------------------------------------------------

PARTNER_COLUMNS = ("partner", "name", "account", "balance", "currency", "position")


POOL_COLUMNS = ("pool", "partner", "contributed", "funds", "awarded", "redeemed", "paid", "currency")


def partners_section(ctx: PackContext) -> Section:
    """Each partner's settlement balance at the as-of instant; and, when the chart declares partner pools, each
    member's figures in each pool at that instant (points, and money paid), with the pool's totals."""

    balances = read_partner_balances(ctx.ledger, ctx.chart, ctx.end)
    rows = [b.model_dump() | {"position": b.position} for b in balances]
    net = sum((b.balance for b in balances), Decimal(0))
    footer = [{"partner": "net", "balance": net, "currency": ctx.chart.money_currency}] if balances else []
    tables = [Table.of("partner_balances", "Settlement balances", PARTNER_COLUMNS, rows, footer=footer)]
    paragraphs = [
        f"The money balance of each partner's settlement account at {ctx.end.isoformat()}: negative when the "
        "programme owes the partner (points exchanged out), positive when the partner owes the programme "
        "(points exchanged in)."
    ]
    positions = read_pool_positions(ctx.ledger, ctx.chart, ctx.end)
    if positions:
        paragraphs.append(
            "Partner pools at the same instant, each figure a balance of the member's pool accounts: points it "
            "contributed, has left (funds), saw drawn for members' earnings (awarded) and redemptions (redeemed), "
            "and the money it paid for its contributions. For every member, contributed = funds + awarded + "
            f"redeemed: {'yes' if all(p.balanced for p in positions) else 'NO'}."
        )
        pool_rows = [
            {"pool": p.pool, "currency": p.currency} | m.model_dump(include=set(POOL_COLUMNS)) for p in positions for m in p.members
        ]
        totals = [
            {"pool": p.pool, "partner": "total", "currency": p.currency}
            | {f: p.total(f) for f in ("contributed", "funds", "awarded", "redeemed", "paid")}
            for p in positions
        ]
        tables.append(Table.of("pool_positions", "Partner pools", POOL_COLUMNS, pool_rows, footer=totals))
    return Section(key="partners", title="Partner balances", paragraphs=tuple(paragraphs), tables=tuple(tables))


# -- reconciliation -----------------------------------------------------------------------------

RECONCILE_COLUMNS = ("check", "status", "detail", "count", "offending", "info")


def reconciliation_section(ctx: PackContext) -> Section:
    """Every reconciliation check as of the as-of instant, the log chain verified in full."""

    result = read_reconciliation(
        ctx.ledger, ctx.chart, ctx.end, clock=ctx.clock, rules=ctx.rules, clock_skew=ctx.clock_skew, full_log_check=True
    )
    rows = [
        {"check": c.name, "status": c.status, "detail": c.detail, "count": c.violations, "offending": "; ".join(c.offending), "info": "; ".join(c.info)}
        for c in result.checks
    ]
    failed = [c.name for c in result.checks if c.status == "fail"]
    return Section(
        key="reconciliation",
        title="Reconciliation",
        paragraphs=(
            f"`loyalty reconcile --as-of {ctx.end.isoformat()} --full`: every check as of the as-of instant, the log "
            f"hash chain recomputed from the first log. Result: {'ok' if not failed else 'BREAK (' + ', '.join(failed) + ')'}. "
            "Logs are dated when they were written, so this table's log_chain covers the logs written by the as-of "
            "instant (none, for history posted later with earlier dates), and closed_periods the closes dated by it; "
            "the ledger log head above is checked over the whole log as it stands.",
        ),
        tables=(Table.of("reconciliation", "Checks", RECONCILE_COLUMNS, rows),),
    )


SECTIONS: tuple[SectionEntry, ...] = (
    SectionEntry(liability_section, steps=lambda ctx: len(ctx.instants)),
    SectionEntry(roll_forward_section),
    SectionEntry(daily_flows_section),
    SectionEntry(revenue_section),
    SectionEntry(breakage_section),
    SectionEntry(triangle_section),
    SectionEntry(partners_section),
    SectionEntry(reconciliation_section),
)
"""The pack's sections in document order."""
