"""``loyalty demo``: play the demo programme on a ledger and show where every point is."""

from __future__ import annotations

import typer

from ..demo import CUSTOMERS, END, Step, run_demo
from ..services.results import BatchResult, OperationResult
from .context import app_context
from .output import Format, emit_json, emit_rows, formatted
from .shell import fail, run_guarded

DEMO_LEDGER = "demo"


@formatted
def demo(ctx: typer.Context, *, fmt: Format) -> None:
    """Run a year of a small programme (earn by the rules, tiers, campaigns, hold, redeem, refund, exchange, expire...).

    Uses the ledger named "demo" unless --ledger is given; a second run posts
    nothing, since every step replays its business key.
    """

    if fmt is Format.csv:
        fail("the demo prints tables or JSON (--format table or --format json), not CSV", 2)
    json_out = fmt is Format.json
    app = app_context(ctx)
    app.default_ledger = DEMO_LEDGER
    program = run_guarded(app.program)
    steps: list[dict[str, object]] = []

    def report(step: Step, result: OperationResult | BatchResult) -> None:
        if isinstance(result, BatchResult):
            if result.posted or result.replayed:
                outcome = f"{result.posted} posted, {result.replayed} already done, {result.points} points"
            else:  # a sweep with nothing left to do (a second run: the first one swept it)
                outcome = "nothing due"
            row = {"step": step.label, **result.summary()}
        else:
            outcome = "already done" if result.replayed else ("nothing to post" if not result.transactions else "posted")
            outcome += f", {result.points} points"
            if result.tier_change is not None:
                outcome += f", {result.tier_change}"
            row = {"step": step.label, **result.summary()}
        steps.append(row)
        if not json_out:
            typer.echo(f"  {step.label:<58} {outcome}")

    if not json_out:
        typer.echo(f"Demo programme on ledger '{program.ledger.ledger}' (schema {program.schema_version})\n")
    run_guarded(lambda: run_demo(program, report))

    balances = [run_guarded(lambda c=c: program.balance(c)) for c in CUSTOMERS]
    customer_rows = [
        {
            "customer": b.customer,
            "spendable": b.spendable,
            "due": b.due,
            "pending": b.pending,
            "held": b.held,
            "owed": b.clawback,
            "total": b.total,
            "credit": f"{b.credit} {b.credit_currency}",
        }
        for b in balances
    ]
    # The control asset's balances (sequence counters, horizon marks) are the guard's bookkeeping, not money or points.
    programme_rows = [
        {"account": acct.address, "asset": asset, "balance": vol.balance}
        for acct in run_guarded(program.programme_accounts)
        for asset, vol in sorted(acct.volumes.items())
        if asset != program.chart.control_asset
    ]
    tiers = [run_guarded(lambda c=c: program.tier(c, END)) for c in CUSTOMERS]
    tier_rows = [
        {"customer": c, "tier": t.tier, "qualifying_points": t.qualifying_points, "next_tier": t.next_tier, "points_to_next": t.points_to_next}
        for c, t in zip(CUSTOMERS, tiers)
    ]
    trial = run_guarded(lambda: program.ledger.aggregate_balances(""))
    statement = run_guarded(lambda: app.reports().liability())  # the whole ledger's, not only the demo's customers
    liability, value = statement.total_points, statement.total_value
    due = {line.state: line.points for line in statement.lines}.get("due", 0)
    if json_out:
        emit_json(
            {
                "ledger": program.ledger.ledger,
                "steps": steps,
                "customers": [{**b.model_dump(mode="json"), "total": b.total} for b in balances],
                "programme_accounts": programme_rows,
                "tiers_as_of": END.isoformat(),
                "tiers": tier_rows,
                "trial_balance": trial,
                "liability_points": liability,
                "liability_value": f"{value} {program.chart.money_currency}",
                "liability_due_points": due,
            }
        )
        return
    typer.echo("\nCustomers")
    emit_rows(customer_rows, Format.table)
    typer.echo(f"\nTiers as of {END.isoformat()} (qualifying points earned in the window)")
    emit_rows(tier_rows, Format.table)
    typer.echo("\nProgramme and partner accounts")
    emit_rows(programme_rows, Format.table)
    typer.echo("\nTrial balance (every asset sums to zero): " + ", ".join(f"{a} {n}" for a, n in sorted(trial.items())))
    typer.echo(f"Outstanding points (liability): {liability} = {value} {program.chart.money_currency}")
    if due:
        typer.echo(
            f"Of which due: {due} points past their expiry date since the story ended, owed until swept: "
            f"`loyalty --ledger {program.ledger.ledger} expire` runs the sweep (`reconcile` fails overdue_expiry until then)"
        )
    if any(trial.values()):
        raise typer.Exit(1)
