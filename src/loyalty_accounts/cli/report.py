"""``loyalty report ...``, ``loyalty reconcile`` and ``loyalty statement``: finance reports from the ledger.

Instants are ISO 8601 with an offset (``2026-05-01T00:00:00Z``,
``2026-05-01T02:00:00+02:00``) or a bare date, the start of that day in the
programme's time zone; a time without an offset is refused (exit 2), since a
report as of an unknown moment cannot be reproduced. Windows are
``(--from, --to]``. Tables for people; ``--format json`` and ``--format csv``
carry the same lines with stable column names, ISO dates and exact decimal
amounts (a CSV holds one kind of row; totals are in the table and the JSON).

Exit codes: 0 ok, 1 reconciliation break, 2 bad input, 3 ledger unavailable.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from ..reports import DEFAULT_HORIZON_DAYS, DEFAULT_RATE_COHORTS, FinanceReports, RevenueSchedule
from ..reports.check import SHOWN
from ..reports.statement import CustomerStatement
from .context import app_context
from .programme_views import PROGRAMME_TABLES, programme_json, programme_table
from .inputs import parse_instant as parse_cli_instant
from .output import Format, emit_json, emit_rows, formatted, show, table
from .revenue_views import REVENUE_COLUMNS, revenue_closing_row, revenue_json, revenue_rows
from ..vocabulary.quoting import quoted
from .shell import fail, run_guarded
from .views import (
    ACTIVITY_COLUMNS,
    BREAKAGE_COHORT_COLUMNS,
    BREAKAGE_COLUMNS,
    LIABILITY_COLUMNS,
    RECONCILE_COLUMNS,
    STATEMENT_COLUMNS,
    STATEMENT_EXPIRING_COLUMNS,
    activity_json,
    activity_rows,
    activity_summary_rows,
    breakage_json,
    breakage_rows,
    liability_json,
    liability_rows,
    liability_total_row,
    reconcile_json,
    reconcile_rows,
    statement_balance_row,
    statement_expiring_rows,
    statement_json,
    statement_rows,
)

_log = logging.getLogger(__name__)

app = typer.Typer(
    help="Finance reports read from the ledger: liability, activity (roll-forward), breakage, revenue (IFRS 15), programme analytics, the report pack.",
    no_args_is_help=True,
)

AsOfOption = Annotated[
    Optional[str],
    typer.Option("--as-of", help="An instant with its offset (2026-05-01T00:00:00Z), or a date: through the end of that day in the programme's time zone (default: now)."),
]
FromOption = Annotated[
    Optional[str],
    typer.Option("--from", help="Window start, exclusive: an instant with its offset, or a date: the window starts with that day (default: the beginning)."),
]
ToOption = Annotated[
    Optional[str],
    typer.Option("--to", help="Window end, inclusive: an instant with its offset, or a date: through the end of that day (default: now)."),
]
WindowStart = Annotated[str, typer.Option("--from", help="Window start, exclusive: an instant with its offset, or a date: the window starts with that day.")]
WindowEnd = Annotated[str, typer.Option("--to", help="Window end, inclusive: an instant with its offset, or a date: through the end of that day.")]
_DAY_MEANS = {"--from": "before", "--to": "end", "--as-of": "end"}
"""What a bare date names for each reading option (see :mod:`.inputs`)."""


def parse_instant(value: str | None, option: str) -> datetime | None:
    """An optional ISO 8601 instant from the command line, in UTC; exit 2 when malformed or without an offset."""

    if value is None:
        return None
    day = _DAY_MEANS.get(option, "start")
    return run_guarded(lambda: parse_cli_instant(value.strip(), option=option, day=day)).astimezone(timezone.utc)  # type: ignore[arg-type]


def _window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """The window ``(--from, --to]`` the options name; exit 2 unless it starts before it ends."""

    first, last = parse_instant(start, "--from"), parse_instant(end, "--to")
    if first is not None and last is not None and first >= last:
        fail(f"--from {start} must come before --to {end}", 2)
    return first, last


def _span(start: datetime | None, end: datetime) -> str:
    """A window as its title names it: ``(start, end]``."""

    return f"({start.isoformat() if start else 'beginning'}, {end.isoformat()}]"


def _service(ctx: typer.Context) -> FinanceReports:
    return app_context(ctx).reports()


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


@app.command()
@formatted
def liability(ctx: typer.Context, as_of: AsOfOption = None, *, fmt: Format) -> None:
    """Outstanding points by state (spendable, pending, held, negative) and their money value."""

    when = parse_instant(as_of, "--as-of")
    report = run_guarded(lambda: _service(ctx).liability(when))
    if fmt is Format.json:
        emit_json(liability_json(report))
        return
    title = (
        f"Liability as of {report.as_of.isoformat()} "
        f"(1 {report.points_asset} = {report.point_value} {report.currency})"
    )
    emit_rows(liability_rows(report), fmt, columns=LIABILITY_COLUMNS, title=title, footer=[liability_total_row(report)])
    if fmt is Format.table:
        typer.echo(
            f"ties: {_yes(report.ties)} (states {report.total_points}, ledger customers:... "
            f"{report.ledger_total_points}, listed accounts {report.listed_total_points})"
        )
        for account in report.accounts_below_zero:
            typer.echo(f"below zero: {account.address} {account.balance} {account.asset}")


@app.command()
@formatted
def activity(
    ctx: typer.Context,
    start: WindowStart,
    end: WindowEnd,
    *,
    fmt: Format,
) -> None:
    """Roll-forward: opening + issued - reversed - redeemed - expired - converted ± adjusted ± exchanged ± written-off = closing."""

    first, last = _window(start, end)
    report = run_guarded(lambda: _service(ctx).activity(first, last))
    if fmt is Format.json:
        emit_json(activity_json(report))
        return
    title = f"Roll-forward of the points liability over {_span(report.start, report.end)}"
    emit_rows(activity_rows(report), fmt, columns=ACTIVITY_COLUMNS, title=title, footer=activity_summary_rows(report))
    if fmt is Format.table:
        if report.ties:
            typer.echo("ties: yes")
        else:
            typer.echo(
                f"ties: NO, closing differs from the expected closing by {report.difference} {report.points_asset}; "
                f"unexplained movements {report.unexplained_points}, residual {report.residual}"
            )


@app.command()
@formatted
def breakage(
    ctx: typer.Context,
    start: FromOption = None,
    end: ToOption = None,
    cohorts: Annotated[
        int, typer.Option("--cohorts", min=1, help="How many recent closed earn cohorts the rate uses.")
    ] = DEFAULT_RATE_COHORTS,
    *,
    fmt: Format,
) -> None:
    """Realised breakage (points expired in the window) and an estimate for outstanding points, with its method."""

    first, last = _window(start, end)
    report = run_guarded(lambda: _service(ctx).breakage(first, last, rate_cohorts=cohorts))
    if fmt is Format.json:
        emit_json(breakage_json(report))
        return
    if fmt is Format.csv:
        emit_rows(breakage_rows(report), fmt, columns=BREAKAGE_COLUMNS)
        return
    window = _span(report.start, report.end)
    typer.echo(f"Realised breakage over {window}: {report.realised_points} {report.points_asset} = {report.realised_value} {report.currency}")
    typer.echo(f"Earn cohorts as of {report.end.isoformat()}:")
    show(table(breakage_rows(report), BREAKAGE_COHORT_COLUMNS))
    typer.echo(f"Awaiting expiry (due, not yet swept): {report.awaiting_expiry_points} {report.points_asset} = {report.awaiting_expiry_value} {report.currency}")
    if report.estimated_points is None:
        typer.echo(f"Estimate: none. {report.note}")
    else:
        typer.echo(
            f"Estimated breakage on outstanding points: {report.estimated_points} {report.points_asset} = "
            f"{report.estimated_value} {report.currency} at rate {report.rate}"
        )
    typer.echo(f"Method: {report.method}")


@app.command()
@formatted
def revenue(
    ctx: typer.Context,
    start: WindowStart,
    end: WindowEnd,
    *,
    fmt: Format,
) -> None:
    """IFRS 15 / ASC 606 schedule: the points' contract liability rolled forward in money (allocated, recognised on redemption and as breakage, catch-up)."""

    first, last = _window(start, end)
    report = run_guarded(lambda: _service(ctx).revenue(first, last))
    if fmt is Format.json:
        emit_json(revenue_json(report))
        _unpriced(report)
        return
    title = f"Contract liability for points over {_span(report.start, report.end)}, {report.currency}"
    emit_rows(revenue_rows(report), fmt, columns=REVENUE_COLUMNS, title=title, footer=[revenue_closing_row(report)])
    if fmt is not Format.table:
        _unpriced(report)
        return
    typer.echo(
        f"Orders in the window: {report.sales_price} {report.currency}, allocated {report.allocated_to_goods} to goods "
        f"and {report.allocated} to points"
    )
    typer.echo(
        f"Revenue on points: {report.revenue} {report.currency} (redemption {report.recognised_redemption}, "
        f"breakage {report.recognised_breakage}, catch-up {report.catch_up})"
    )
    for e in report.estimates:
        constrained = f", constrained to {e.estimates.constrained_rate}" if e.estimates.constrained_rate is not None else ""
        fx = "".join(f", {c} at {r}" for c, r in e.estimates.fx)
        typer.echo(
            f"Estimate from {e.effective.isoformat()} (#{e.transaction_id}): breakage {e.estimates.breakage_rate}{constrained}, "
            f"{e.estimates.method}{fx}; approved by {e.approved_by}"
        )
    if not report.estimates:
        typer.echo("Estimate: none in force (record one with `loyalty estimate record`)")
    typer.echo("ties: yes" if report.ties else f"ties: NO (points differ by {report.points_tie})")
    _unpriced(report)


_PROGRAMME_TITLES = {
    "daily": "Points per day (issued out of the issuance shards; redeemed, converted, exchanged, expired net into their accounts)",
    "rewards": "Redemption by reward type (reward_type metadata; unspecified when a redemption records none)",
    "tiers": "Tier distribution at the window's end",
    "tier_changes": "Tier changes in the window (no transaction: an order day left the qualification window)",
    "partners": "Partner performance",
    "partner_pools": "Partner performance in pools (points contributed, funds' movement, drawn for earnings and redemptions; money paid)",
    "expiring": "Points expiring soon after the window's end (buckets as of --to)",
    "flags": "Anomaly flags",
}


@app.command()
@formatted
def programme(
    ctx: typer.Context,
    start: WindowStart,
    end: WindowEnd,
    part: Annotated[
        str | None,
        typer.Option(
            "--table",
            help=f"One part of the report: the one -f csv writes (a CSV holds one kind of row; default daily), "
            f"or the only one -f table shows: {', '.join(PROGRAMME_TABLES)}.",
        ),
    ] = None,
    *,
    fmt: Format,
) -> None:
    """Programme analytics over the window, from the ledger: active members, points issued and redeemed per day, redemption by reward type, tiers, partners and their pool figures, expiring-soon points, anomaly flags with their transactions."""

    if part is not None and part not in PROGRAMME_TABLES:
        fail(f"--table {quoted(part)} is not a part of the report (one of {', '.join(PROGRAMME_TABLES)})", 2)
    if part is not None and fmt is Format.json:
        fail("--table chooses a part for -f csv or -f table; -f json holds the whole report", 2)
    first, last = _window(start, end)
    report = run_guarded(lambda: _service(ctx).programme(first, last))
    if fmt is Format.json:
        emit_json(programme_json(report))
        return
    if fmt is Format.csv:
        columns, rows = programme_table(report, part or "daily")
        emit_rows(rows, fmt, columns=columns)
        return
    typer.echo(f"Programme {report.points_asset} over {_span(report.start, report.end)} ({report.timezone} days)")
    typer.echo(
        f"active members {report.active_members} of {report.members_at_end}   "
        + "   ".join(f"{line} {points}" for line, points in report.totals.items())
        + f"   due, not yet swept {report.due_points}"
    )
    for name in PROGRAMME_TABLES if part is None else (part,):
        columns, rows = programme_table(report, name)
        typer.echo("")
        typer.echo(_PROGRAMME_TITLES[name] + ("" if rows else ": none"))
        if rows:
            show(table(rows, columns))


def _unpriced(report: RevenueSchedule) -> None:
    """Warn of the orders left out of the allocation, and exit 1 (the schedule is incomplete) when there are any,
    or when it does not tie."""

    for item in report.unpriced[:SHOWN]:
        _log.warning("not allocated: %s", item.reason)
    if len(report.unpriced) > SHOWN:
        _log.warning("not allocated: %d more order(s) (see -f json)", len(report.unpriced) - SHOWN)
    if report.unpriced or not report.ties:
        raise typer.Exit(1)


@formatted
def reconcile_command(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Verify every log of the hash chain, not only those after the checkpoint a previous pass left in the ledger's metadata."),
    ] = False,
    *,
    fmt: Format,
) -> None:
    """Reconcile the ledger: trial balance, roll-forward, negative balances, lapsed holds, overdue pending, metadata, log chain, and over the whole history balances never negative where forbidden, clawback never positive, liability ties, engagement limits, campaign caps, refunds per order, closed periods stayed closed, nothing dated beyond the clock skew. Exit 1 on any break."""

    when = parse_instant(as_of, "--as-of")
    result = run_guarded(lambda: _service(ctx).reconcile(when, full_log_check=full))
    if fmt is Format.json:
        emit_json(reconcile_json(result))
    elif fmt is Format.csv:
        emit_rows(reconcile_rows(result), fmt, columns=RECONCILE_COLUMNS)
    else:
        typer.echo(f"Reconciliation as of {result.as_of.isoformat()}")
        for check in result.checks:
            typer.echo(f"{check.status.upper():<12} {check.name}: {check.detail}")
            for item in check.offending:
                typer.echo(f"    ! {item}")
            if check.violations > len(check.offending):
                typer.echo(f"    ! ... {check.violations - len(check.offending)} more, {check.violations} in all")
            for item in check.info:
                typer.echo(f"      {item}")
        typer.echo("result: " + ("ok" if result.ok else "BREAK"))
    if not result.ok:
        raise typer.Exit(1)


@formatted
def statement_command(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option("--customer", "-c", help="Customer id.")],
    start: FromOption = None,
    end: ToOption = None,
    days: Annotated[
        int, typer.Option("--days", min=0, help="List points expiring within this many days after --to.")
    ] = DEFAULT_HORIZON_DAYS,
    *,
    fmt: Format,
) -> None:
    """A customer's points statement: opening balance, each movement, closing balance, points expiring soon."""

    first, last = _window(start, end)
    report = run_guarded(lambda: _service(ctx).statement(customer, first, last, horizon_days=days))
    print_statement(report, fmt)


def print_statement(report: CustomerStatement, fmt: Format, *, holder: str | None = None) -> None:
    """A statement in ``fmt``; ``holder`` (a member's name, or a forgotten member's pseudonym) heads the table
    and is the JSON's ``holder``."""

    if fmt is Format.json:
        emit_json(statement_json(report) | ({"holder": holder} if holder is not None else {}))
        return
    if fmt is Format.csv:
        emit_rows(statement_rows(report), fmt, columns=STATEMENT_COLUMNS)
        return
    if holder is None:
        whose = report.customer
    else:  # a name, with the id; a pseudonym already holds the id
        whose = holder if report.customer in holder else f"{holder} ({report.customer})"
    typer.echo(f"Statement of {whose} over {_span(report.start, report.end)}")
    lines = [statement_balance_row(report, "opening"), *statement_rows(report)]
    show(table(lines, STATEMENT_COLUMNS, footer=[statement_balance_row(report, "closing")]))
    if not report.ties:
        typer.echo(f"movements do not add up: difference {report.difference} {report.points_asset}")
    expiring = statement_expiring_rows(report)
    if expiring:
        typer.echo(f"Expiring within {report.horizon_days} days after {report.end.isoformat()}:")
        show(table(expiring, tuple(expiring[0]) if "kind" in expiring[0] else STATEMENT_EXPIRING_COLUMNS))


__all__ = ["app", "reconcile_command", "statement_command", "parse_instant", "print_statement"]
