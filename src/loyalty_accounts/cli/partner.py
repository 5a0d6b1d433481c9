"""``loyalty partner statement``: the settlement with a partner over a window, tied to its settlement account.

The window is ``(--from, --to]`` read like the reports' (a bare ``--from`` date starts the window with
that day, a bare ``--to`` date ends it with that day; default: from the beginning to now). The rows are
the settlement account's movements, one kind of row (a CSV's ``movement`` column sums to closing less
opening); the opening, the closing, the totals by direction, the rounding and the tie are under the
table's rule, in sentences after it, and fields of the JSON. A partner in partner pools also gets its
pool contributions as ``pool`` lines and a table of its figures in each pool (contributed, funds,
awarded, redeemed, paid, declared share and part of the pool's funds: balances of its pool accounts at
the window's end). Exit codes: 0 ok, 1 the statement does not tie to the ledger, an exchange settled
off its rate or a pool's accounts do not balance (all shown), 2 bad input (an undeclared
partner, named with the declared ones, before anything is read), 3 ledger unavailable.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..reports import PartnerStatement, SettlementLine
from . import complete
from .context import app_context
from .output import Format, emit_json, emit_rows, formatted, show, table
from .report import FromOption, ToOption, _window
from .shell import run_guarded

__all__ = [
    "PARTNER_STATEMENT_COLUMNS",
    "PARTNER_TOTALS_COLUMNS",
    "PARTNER_POOL_COLUMNS",
    "app",
    "partner_statement_json",
    "partner_pool_rows",
    "partner_statement_rows",
    "partner_totals_rows",
]

app = typer.Typer(help="Partner settlement: what the programme and each partner owe each other.", no_args_is_help=True)

PARTNER_STATEMENT_COLUMNS = (
    "partner",
    "line",
    "timestamp",
    "date",
    "transaction_id",
    "operation",
    "business_key",
    "customer",
    "direction",
    "points",
    "partner_points",
    "rate",
    "exact",
    "settled",
    "rounding",
    "movement",
    "balance",
    "currency",
    "note",
)
"""One row per movement of the settlement account; ``movement`` sums to closing less opening."""
PARTNER_TABLE_COLUMNS = tuple(c for c in PARTNER_STATEMENT_COLUMNS if c not in {"partner", "timestamp", "direction", "currency"})
"""The statement's table as people read it (the partner, the instant and the currency are in its title)."""
PARTNER_TOTALS_COLUMNS = ("direction", "exchanges", "points", "partner_points", "exact", "settled", "rounding", "movement")
PARTNER_POOL_COLUMNS = (
    "pool",
    "distribution",
    "share",
    "declared_share",
    "funds_share",
    "contributed",
    "funds",
    "awarded",
    "redeemed",
    "drawn",
    "paid",
    "pool_funds",
    "balanced",
)
"""The partner's figures in each pool it is a member of, at the statement's end (balances of its pool accounts)."""


def _note(statement: PartnerStatement, line: SettlementLine) -> str | None:
    exchange = line.exchange
    notes = []
    if exchange is not None and not exchange.on_terms:
        notes.append(
            f"OFF TERMS: {exchange.partner_points} × {exchange.rate} rounded {statement.settlement_rounding} "
            f"is {exchange.expected}"
        )
    if exchange is not None and not exchange.rate_recorded:
        notes.append("rate from the chart (the exchange recorded none)")
    if line.reverted_by is not None:
        notes.append(f"reverted by #{line.reverted_by}")
    if line.kind == "pool":
        notes.append(f"contribution to pool {line.pool}")
    return "; ".join(notes) or None


def _row(statement: PartnerStatement, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(PARTNER_STATEMENT_COLUMNS)
    row.update(partner=statement.partner, currency=statement.currency, **fields)
    return row


def partner_statement_rows(statement: PartnerStatement) -> list[dict[str, Any]]:
    """Each movement of the settlement account with the balance after it (exchange columns empty for others)."""

    rows = []
    for line in statement.lines:
        exchange = line.exchange
        figures: dict[str, Any] = {}
        if exchange is not None:
            figures = {
                "customer": exchange.customer,
                "direction": exchange.direction,
                "points": exchange.points,
                "partner_points": exchange.partner_points,
                "rate": exchange.rate,
                "exact": exchange.exact,
                "settled": exchange.settled,
                "rounding": exchange.rounding,
            }
        elif line.kind == "pool":
            figures = {"points": line.pool_points}
        rows.append(
            _row(
                statement,
                line=line.kind,
                timestamp=line.timestamp,
                date=line.date,
                transaction_id=line.transaction_id,
                operation=line.operation,
                business_key=line.business_key,
                movement=line.movement,
                balance=line.balance,
                note=_note(statement, line),
                **figures,
            )
        )
    return rows


def _balance_row(statement: PartnerStatement, line: str) -> dict[str, Any]:
    at, balance = (statement.start, statement.opening) if line == "opening" else (statement.end, statement.closing)
    return _row(statement, line=line, timestamp=at, balance=balance)


def partner_totals_rows(statement: PartnerStatement) -> list[dict[str, Any]]:
    """The exchanges of each direction: counts, points, partner units, exact and settled amounts, rounding."""

    return [statement.totals(direction).model_dump() for direction in ("out", "in")]


def partner_pool_rows(statement: PartnerStatement) -> list[dict[str, Any]]:
    """The partner's figures in each of its pools (:data:`PARTNER_POOL_COLUMNS`)."""

    return [
        {column: getattr(figures, column) for column in PARTNER_POOL_COLUMNS}
        for figures in statement.pools
    ]


def partner_statement_json(statement: PartnerStatement) -> dict[str, Any]:
    return {
        "report": "partner_statement",
        "partner": statement.partner,
        "partner_name": statement.partner_name,
        "partner_asset": statement.partner_asset,
        "points_asset": statement.points_asset,
        "account": statement.account,
        "from": statement.start,
        "to": statement.end,
        "currency": statement.currency,
        "settlement_rounding": statement.settlement_rounding,
        "decimals": statement.decimals,
        "opening": statement.opening,
        "lines": partner_statement_rows(statement),
        "totals": partner_totals_rows(statement),
        "other_movements": statement.other_movements,
        "pool_movements": statement.pool_movements,
        "pools": partner_pool_rows(statement),
        "pools_balanced": statement.pools_balanced,
        "rounding_on_balance": statement.rounding_on_balance,
        "closing": statement.closing,
        "ledger_closing": statement.ledger_closing,
        "difference": statement.difference,
        "ties": statement.ties,
        "off_terms": [line.transaction_id for line in statement.off_terms],
        "ok": statement.ok,
        "position": statement.position,
        "net_amount": statement.net_amount,
    }


def _signed(amount: Any) -> str:
    return f"+{amount}" if amount > 0 else str(amount)


def _tell(statement: PartnerStatement) -> None:
    """The table's sentences: other movements, rounding, closing, the tie and the net position."""

    s, currency, end = statement, statement.currency, statement.end.isoformat()
    out, inbound = s.totals("out"), s.totals("in")
    typer.echo(f"Other movements (reverts, postings other than exchanges): {_signed(s.other_movements)} {currency}")
    typer.echo(
        f"Rounding (settled − exact, {s.settlement_rounding} to {s.decimals} decimals): out {_signed(out.rounding)}, "
        f"in {_signed(inbound.rounding)}; on the balance {_signed(s.rounding_on_balance)} {currency} "
        "(positive: in the programme's favour)"
    )
    pools = f" + pool contributions {_signed(s.pool_movements)}" if any(line.kind == "pool" for line in s.lines) else ""
    typer.echo(
        f"Closing {s.closing} {currency} = opening {s.opening} + exchanges out {out.movement} + in {_signed(inbound.movement)}"
        f"{pools} + other {_signed(s.other_movements)}"
    )
    if s.ties:
        typer.echo(f"ties: yes, the ledger's {s.account} at {end} is {s.ledger_closing} {currency}")
    else:
        typer.echo(
            f"ties: NO, the ledger's {s.account} at {end} is {s.ledger_closing} {currency}, "
            f"{_signed(s.difference)} {currency} from the statement's closing {s.closing}"
        )
    for figures in s.pools:
        if not figures.balanced:
            typer.echo(
                f"pool {figures.pool}: NOT balanced: contributed {figures.contributed} ≠ funds {figures.funds} "
                f"+ drawn {figures.drawn}"
            )
    for line in s.off_terms:
        typer.echo(f"off terms: transaction {line.transaction_id} ({line.business_key}): {_note(s, line)}")
    who = f"{s.partner_name} ({s.partner})"
    if s.position == "payable":
        typer.echo(f"Net payable to {who} at {end}: {s.net_amount} {currency} (we owe the partner)")
    elif s.position == "receivable":
        typer.echo(f"Net receivable from {who} at {end}: {s.net_amount} {currency} (the partner owes us)")
    else:
        typer.echo(f"Nothing is owed either way with {who} at {end}")


@app.command("statement")
@formatted
def statement(
    ctx: typer.Context,
    partner: Annotated[
        str, typer.Option("--partner", help="Partner programme key from the chart.", autocompletion=complete.partners)
    ],
    start: FromOption = None,
    end: ToOption = None,
    *,
    fmt: Format,
) -> None:
    """A partner's settlement: opening, each exchange out and in (exact, settled, rounding), other movements, closing tied to the ledger, net payable or receivable. Exit 1 when it does not tie."""

    first, last = _window(start, end)
    context = app_context(ctx)
    run_guarded(lambda: context.chart.partner(partner))  # an undeclared partner: exit 2, nothing read
    report = run_guarded(lambda: context.reports().partner_statement(partner, first, last))
    if fmt is Format.json:
        emit_json(partner_statement_json(report))
    elif fmt is Format.csv:
        emit_rows(partner_statement_rows(report), fmt, columns=PARTNER_STATEMENT_COLUMNS)
    else:
        window = f"({report.start.isoformat() if report.start else 'beginning'}, {report.end.isoformat()}]"
        typer.echo(
            f"Settlement with {report.partner_name} ({report.partner}, {report.partner_asset}) over {window}: "
            f"{report.account} in {report.currency}, negative = we owe the partner"
        )
        lines = [_balance_row(report, "opening"), *partner_statement_rows(report)]
        show(table(lines, PARTNER_TABLE_COLUMNS, footer=[_balance_row(report, "closing")]))
        typer.echo(
            f"Exchanges by direction (points in {report.points_asset}, partner_points in {report.partner_asset}, "
            f"amounts in {report.currency}):"
        )
        show(table(partner_totals_rows(report), PARTNER_TOTALS_COLUMNS))
        if report.pools:
            typer.echo(
                f"Pools at {report.end.isoformat()} (points in {report.points_asset}, paid in {report.currency}; "
                "contributed = funds + awarded + redeemed):"
            )
            show(table(partner_pool_rows(report), PARTNER_POOL_COLUMNS))
        _tell(report)
    if not report.ok:
        raise typer.Exit(1)
