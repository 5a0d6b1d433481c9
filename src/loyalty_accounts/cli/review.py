"""``loyalty review list|approve|reject|lapse``: redemptions held for review, and their decisions.

A redemption the rules' ``review`` section flags is held, not redeemed
(``loyalty redeem`` exits 5, status ``review: pending``). ``approve`` captures
the hold (it ends as a redemption), ``reject`` voids it (every point back in
its bucket), ``lapse`` voids those past their deadline (``void --lapsed``
does too). Each decision is one ledger transaction recording the operator's
id and a reason code from the rules. Exit codes: 0 ok, 1 refused (unknown
redemption, not held for review, decided otherwise before, approved after
its deadline), 2 bad input (a reason not in the rules' list, an id that
looks like personal data), 3 ledger unavailable, 4 outcome unknown.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .context import app_context
from .inputs import parse_instant
from .ops import run_operation, swept
from .output import Format, emit_rows, formatted
from .shell import run_guarded

app = typer.Typer(help="Redemptions held for review: list, approve, reject, lapse.", no_args_is_help=True)

REVIEW_COLUMNS = (
    "redemption_id",
    "customer",
    "hold_id",
    "points",
    "reward",
    "reasons",
    "held_at",
    "deadline",
    "status",
    "operator",
    "reason",
    "decided_at",
    "transaction",
)

Redemption = Annotated[str, typer.Argument(help="The redemption id (the redeem command's --redemption).")]
Operator = Annotated[str, typer.Option("--by", help="Operator id deciding (an id, never a name or an email).")]
Reason = Annotated[str, typer.Option("--reason", help="Reason code, one of the rules' review.decision_reasons.")]
At = Annotated[Optional[str], typer.Option("--at", help="When the decision is made (default now).")]


@app.command("list")
@formatted
def list_command(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Decided reviews too (approved, rejected, lapsed).")] = False,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Which are overdue at this instant (default now).")] = None,
    *,
    fmt: Format,
) -> None:
    """Redemptions waiting for review (pending, or overdue: past the deadline), read from the ledger."""

    when = run_guarded(lambda: parse_instant(as_of, option="--as-of")) if as_of is not None else None
    rows = run_guarded(lambda: app_context(ctx).program().reviews(as_of=when, include_decided=all_))
    emit_rows([r.row() for r in rows], fmt, columns=REVIEW_COLUMNS, title="Redemptions held for review")


def _decide(ctx: typer.Context, decision: Literal["approve", "reject"], redemption: str, by: str, reason: str, at: str | None, fmt: Format) -> None:
    when = run_guarded(lambda: parse_instant(at))
    run_operation(ctx, lambda p: p.review(redemption, decision, operator=by, reason=reason, at=when), fmt)


@app.command()
@formatted
def approve(ctx: typer.Context, redemption: Redemption, by: Operator, reason: Reason, at: At = None, *, fmt: Format) -> None:
    """Capture the held redemption: its points are redeemed. Refused at or after the deadline."""

    _decide(ctx, "approve", redemption, by, reason, at, fmt)


@app.command()
@formatted
def reject(ctx: typer.Context, redemption: Redemption, by: Operator, reason: Reason, at: At = None, *, fmt: Format) -> None:
    """Void the held redemption: every point goes back to the bucket it came from."""

    _decide(ctx, "reject", redemption, by, reason, at, fmt)


@app.command()
@formatted
def lapse(
    ctx: typer.Context,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Lapse what is past its deadline at this instant (default now).")] = None,
    *,
    fmt: Format,
) -> None:
    """Void every held redemption past its deadline without a decision (recorded as lapsed, by system)."""

    when = run_guarded(lambda: parse_instant(as_of, option="--as-of"))
    run_operation(ctx, swept("lapsing reviews", lambda p, progress: p.lapse_reviews(when, progress=progress)), fmt)
