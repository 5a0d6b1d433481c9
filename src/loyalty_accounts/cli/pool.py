"""``loyalty pool contribute|earn|redeem|show``: partner pools (the chart's ``pools``).

``contribute`` puts a member partner's points into a pool (``--points``, or ``--amount``: money buying a
whole number of points at the pool's price); ``earn`` gives a member points the pool pays for;
``redeem`` spends a member's points on a reward the pool funds. Each carries a business key: run again,
it answers with the original transaction and posts nothing. ``show`` reads each member partner's
contributions, funds, draws, payment and shares from the pool's accounts. Exit codes as the other
verbs: 0 ok, 1 refused (the pool or the member cannot cover the draw), 2 bad input (an undeclared
pool, a partner outside it, a malformed amount: nothing is read or posted), 3 ledger unavailable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Optional

import typer

from ..errors import InvalidCommand
from ..operations.pool_contribute import PoolContributeCommand, points_for_amount
from ..operations.pool_earn import PoolEarnCommand
from ..operations.pool_redeem import PoolRedeemCommand
from ..reports.pool import PoolPosition
from ..vocabulary.amounts import parse_money, parse_points
from .context import app_context
from .inputs import parse_instant
from .ops import At, Customer, Points, run_operation
from .output import Format, emit_json, emit_rows, formatted, show, table
from .report import AsOfOption
from .report import parse_instant as parse_report_instant
from .shell import run_guarded

__all__ = ["POOL_COLUMNS", "app", "pool_json", "pool_rows"]

app = typer.Typer(help="Partner pools: points partners fund together, members earn from and redeem against.", no_args_is_help=True)

PoolKey = Annotated[str, typer.Option("--pool", help="Pool key from the chart's pools.")]
OptionalPoints = Annotated[Optional[str], typer.Option("--points", "-p", help="Whole points (a positive integer).")]

POOL_COLUMNS = ("partner", "share", "declared_share", "funds_share", "contributed", "funds", "awarded", "redeemed", "drawn", "paid", "balanced")
"""One row per member partner; the points columns sum to the pool's totals."""


@app.command("contribute")
@formatted
def contribute(
    ctx: typer.Context,
    pool: PoolKey,
    partner: Annotated[str, typer.Option("--partner", help="The member partner contributing.")],
    contribution: Annotated[str, typer.Option("--contribution", help="Contribution id (the business key).")],
    points: OptionalPoints = None,
    amount: Annotated[Optional[str], typer.Option("--amount", help="Instead of --points: money (e.g. 27.00) buying whole points at the pool's price.")] = None,
    at: At = None,
    *,
    fmt: Format,
) -> None:
    """A member partner puts points into the pool; it owes their price (settlement account)."""

    chart = app_context(ctx).chart

    def build() -> PoolContributeCommand:
        chart.pool_account(pool, partner, "funds")  # an undeclared pool or a partner outside it: exit 2
        if (points is None) == (amount is None):
            raise InvalidCommand("give either --points or --amount")
        if points is not None:
            whole = parse_points(points)
        else:
            money = parse_money(str(amount), chart.money_currency)
            whole = points_for_amount(chart, pool, Decimal(money.amount))
        return PoolContributeCommand(pool=pool, partner=partner, contribution_id=contribution, points=whole, at=parse_instant(at))

    command = run_guarded(build)
    run_operation(ctx, lambda p: p.execute(command), fmt)


def _draw_fields(ctx: typer.Context, pool: str, customer: str, points: str, at: str | None) -> dict[str, Any]:
    app_context(ctx).chart.pool(pool)  # an undeclared pool: exit 2 before anything is read
    return dict(customer=customer, pool=pool, points=parse_points(points), at=parse_instant(at))


@app.command("earn")
@formatted
def earn(
    ctx: typer.Context,
    customer: Customer,
    pool: PoolKey,
    earn_id: Annotated[str, typer.Option("--earn", help="Earn id (the business key).")],
    points: Points,
    at: At = None,
    *,
    fmt: Format,
) -> None:
    """A member earns points the pool's partners pay for (charged to them by the pool's distribution)."""

    command = run_guarded(lambda: PoolEarnCommand(earn_id=earn_id, **_draw_fields(ctx, pool, customer, points, at)))
    run_operation(ctx, lambda p: p.execute(command), fmt)


@app.command("redeem")
@formatted
def redeem(
    ctx: typer.Context,
    customer: Customer,
    pool: PoolKey,
    redemption: Annotated[str, typer.Option("--redemption", help="Redemption id (the business key).")],
    points: Points,
    reward: Annotated[Optional[str], typer.Option("--reward", help="The reward's code.")] = None,
    at: At = None,
    *,
    fmt: Format,
) -> None:
    """A member spends points on a reward the pool funds (the draw is charged to the pool's partners)."""

    command = run_guarded(
        lambda: PoolRedeemCommand(redemption_id=redemption, reward=reward, **_draw_fields(ctx, pool, customer, points, at))
    )
    run_operation(ctx, lambda p: p.execute(command), fmt)


def pool_rows(position: PoolPosition) -> list[dict[str, Any]]:
    """One row per member partner (:data:`POOL_COLUMNS`)."""

    return [
        {
            "partner": m.partner,
            "share": m.share,
            "declared_share": position.declared_share(m.partner),
            "funds_share": position.funds_share(m.partner),
            "contributed": m.contributed,
            "funds": m.funds,
            "awarded": m.awarded,
            "redeemed": m.redeemed,
            "drawn": m.drawn,
            "paid": m.paid,
            "balanced": m.balanced,
        }
        for m in position.members
    ]


def _total_row(position: PoolPosition) -> dict[str, Any]:
    return {
        "partner": "total",
        **{field: position.total(field) for field in ("contributed", "funds", "awarded", "redeemed", "drawn", "paid")},
        "balanced": position.balanced,
    }


def pool_json(position: PoolPosition) -> dict[str, Any]:
    return {
        "report": "pool",
        "pool": position.pool,
        "name": position.name,
        "distribution": position.distribution,
        "price_per_point": position.price_per_point,
        "currency": position.currency,
        "points_asset": position.points_asset,
        "as_of": position.as_of,
        "members": pool_rows(position),
        "totals": {k: v for k, v in _total_row(position).items() if k != "partner"},
        "balanced": position.balanced,
    }


@app.command("show")
@formatted
def show_pool(ctx: typer.Context, pool: PoolKey, as_of: AsOfOption = None, *, fmt: Format) -> None:
    """Each member partner's contributions, funds, draws, payment and shares, read from the pool's accounts. Exit 1 if they do not balance."""

    context = app_context(ctx)
    run_guarded(lambda: context.chart.pool(pool))  # an undeclared pool: exit 2, nothing read
    when = parse_report_instant(as_of, "--as-of")
    position = run_guarded(lambda: context.reports().pool(pool, when))
    if fmt is Format.json:
        emit_json(pool_json(position))
    elif fmt is Format.csv:
        emit_rows(pool_rows(position), fmt, columns=POOL_COLUMNS)
    else:
        typer.echo(
            f"Pool {position.name} ({position.pool}) as of {position.as_of.isoformat()}: distribution {position.distribution}, "
            f"{position.price_per_point} {position.currency} a point; points in {position.points_asset}, paid in {position.currency}"
        )
        show(table(pool_rows(position), POOL_COLUMNS, footer=[_total_row(position)]))
        typer.echo(f"balanced: {'yes' if position.balanced else 'NO'} (contributed = funds + awarded + redeemed, per partner)")
    if not position.balanced:
        raise typer.Exit(1)
