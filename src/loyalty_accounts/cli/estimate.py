"""``loyalty estimate record|list``: the revenue estimates (breakage rate, method, exchange rates), kept on the ledger.

An estimate is in force from its ``--effective`` instant until the next one; ``loyalty report
revenue`` applies it (see :mod:`loyalty_accounts.reports.revenue`). Recording the same estimate at
the same instant again is a replay; a different one at an instant that already has one is refused.
Exit codes: 0 ok, 1 refused (another estimate at that instant, or a closed period), 2 bad input,
3 ledger unavailable.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..operations.revenue_estimate import Estimates, RevenueEstimateCommand, parse_fx, parse_rate
from ..vocabulary.ids import business_key
from ..vocabulary.instants import iso_instant
from .context import app_context
from .inputs import parse_instant
from .output import Format, emit_mapping, emit_rows, formatted
from .shell import run_guarded

app = typer.Typer(
    help="Revenue estimates for the IFRS 15 schedule: breakage rate, recognition method, exchange rates, approver.",
    no_args_is_help=True,
)

ESTIMATE_COLUMNS = ["effective", "breakage_rate", "constrained_rate", "method", "fx", "approved_by", "reason", "transaction", "recorded_at"]


@app.command("record")
@formatted
def record(
    ctx: typer.Context,
    effective: Annotated[
        str,
        typer.Option("--effective", help="In force from this instant (a bare date: the start of that day in the programme's time zone)."),
    ],
    breakage: Annotated[str, typer.Option("--breakage", help="Expected breakage: the share of points never redeemed (0.2 or 20%).")],
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who approved it: a role or staff id (letters, digits, . _ -), not a name.")],
    method: Annotated[str, typer.Option("--method", help="proportional (breakage in step with redemptions) or remote (only when points expire).")] = "proportional",
    constrained: Annotated[
        Optional[str],
        typer.Option("--constrained", help="Breakage recognition is constrained to this rate (≤ --breakage); the SSP still uses --breakage."),
    ] = None,
    fx: Annotated[
        Optional[list[str]],
        typer.Option("--fx", help="CURRENCY=RATE: units of the programme's currency per unit of CURRENCY, for orders placed in it (repeat)."),
    ] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="A reason code (lower case, e.g. q1-review).")] = None,
    *,
    fmt: Format,
) -> None:
    """Record the revenue estimates in force from an instant, on the ledger (dated at that instant)."""

    command = run_guarded(
        lambda: RevenueEstimateCommand(
            effective=parse_instant(effective, option="--effective"),
            estimates=Estimates(
                breakage_rate=parse_rate(breakage, option="--breakage"),
                constrained_rate=parse_rate(constrained, option="--constrained") if constrained is not None else None,
                method=method,  # type: ignore[arg-type]
                fx=parse_fx(fx or []),
            ),
            approved_by=business_key(approved_by, what="--approved-by"),
            reason=reason,
        )
    )
    program = run_guarded(app_context(ctx).program)
    result = run_guarded(lambda: program.execute(command))
    tx = result.transactions[0] if result.transactions else None
    emit_mapping(
        {
            "effective": iso_instant(command.effective),
            "breakage_rate": str(command.estimates.breakage_rate),
            "constrained_rate": str(command.estimates.constrained_rate) if command.estimates.constrained_rate is not None else None,
            "method": command.estimates.method,
            "fx": " ".join(f"{currency}={rate}" for currency, rate in command.estimates.fx),
            "approved_by": command.approved_by,
            "reason": command.reason,
            "replayed": result.replayed,
            "transaction": tx.id if tx else None,
        },
        fmt,
    )


@app.command("list")
@formatted
def list_estimates(ctx: typer.Context, *, fmt: Format) -> None:
    """Every revenue estimate recorded on the ledger, in effective order."""

    estimates = run_guarded(lambda: app_context(ctx).reports().estimates())
    rows = [
        {
            "effective": iso_instant(e.effective),
            "breakage_rate": e.estimates.breakage_rate,
            "constrained_rate": e.estimates.constrained_rate,
            "method": e.estimates.method,
            "fx": " ".join(f"{currency}={rate}" for currency, rate in e.estimates.fx),
            "approved_by": e.approved_by,
            "reason": e.reason,
            "transaction": e.transaction_id,
            "recorded_at": iso_instant(e.recorded_at) if e.recorded_at else None,
        }
        for e in estimates
    ]
    emit_rows(rows, fmt, columns=ESTIMATE_COLUMNS, title="Revenue estimates (each in force until the next)")


__all__ = ["app"]
