"""``loyalty period close|show``: close the books through an instant, and see the closes.

A close is recorded on the ledger; afterwards nothing dated at or before
its instant can be posted, by the CLI, the Python API or any other process
(the ledger checks it inside every post). Exit codes as everywhere: 0 ok,
1 refused (already closed through that instant or later), 2 bad input
(malformed instant, one not in the past), 3 ledger unavailable.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..vocabulary.instants import iso_instant
from .context import app_context
from .inputs import parse_instant
from .output import Format, emit_mapping, emit_rows, formatted
from .shell import run_guarded

app = typer.Typer(help="Close accounting periods: nothing can be posted into a closed period.", no_args_is_help=True)


@app.command("close")
@formatted
def close(
    ctx: typer.Context,
    through: Annotated[
        str,
        typer.Option(
            "--through",
            help="Close the books through this instant, inclusive (a bare date is the START of that day in the "
            "programme's time zone: close a month with its last instant, e.g. 2026-10-31T23:59:59.999999Z).",
        ),
    ],
    *,
    fmt: Format,
) -> None:
    """Close the books through an instant; recorded on the ledger, and final."""

    instant = run_guarded(lambda: parse_instant(through, option="--through"))
    program = run_guarded(app_context(ctx).program)
    result = run_guarded(lambda: program.close_period(instant))
    tx = result.transactions[0] if result.transactions else None
    emit_mapping(
        {
            "closed_through": iso_instant(instant),
            "replayed": result.replayed,
            "transaction": tx.id if tx else None,
            "closed_at": iso_instant(tx.timestamp) if tx else None,
        },
        fmt,
    )


@app.command("show")
@formatted
def show(ctx: typer.Context, *, fmt: Format) -> None:
    """Every close recorded on the ledger, oldest first, and the instant the books are closed through now."""

    program = run_guarded(app_context(ctx).program)
    closes = run_guarded(program.period_closes)
    rows = [
        {"closed_through": iso_instant(c.through), "closed_at": iso_instant(c.closed_at), "transaction": c.transaction_id}
        for c in closes
    ]
    current = run_guarded(program.closed_through)
    title = f"closed through {iso_instant(current)}" if current else "no period is closed"
    emit_rows(rows, fmt, columns=["closed_through", "closed_at", "transaction"], title=title)
