"""The operation verbs: ``loyalty earn``, ``redeem``, ``hold``... over LoyaltyProgram.

Each verb builds a command (bad input exits 2 before anything is sent), runs
it through the service and prints what was posted. Repeating a command with
the same business key prints the original result and posts nothing.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ..errors import InvalidCommand
from ..operations import (
    AdjustCommand,
    CaptureCommand,
    ConvertCommand,
    EarnCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
)
from ..program import LoyaltyProgram
from ..reports.statement import points_change
from ..services.executor import Progress
from ..services.results import BatchResult, OperationResult
from ..vocabulary.amounts import parse_money, parse_points
from ..example import write_example
from . import complete
from .context import app_context
from .feedback import progress
from .inputs import parse_instant
from .output import (
    Format,
    emit_json,
    emit_mapping,
    emit_rows,
    formatted,
    with_parameters,
)
from ..vocabulary.quoting import quoted
from .shell import fail, run_guarded

Customer = Annotated[str, typer.Option("--customer", "-c", help="Customer id.")]
OnlyCustomer = Annotated[Optional[str], typer.Option("--customer", "-c", help="Only this customer.")]
Points = Annotated[str, typer.Option("--points", "-p", help="Whole points (a positive integer).")]
At = Annotated[Optional[str], typer.Option("--at", help="When it happens: an instant with its offset (2026-05-01T10:00:00Z) or a date, the start of that day in the programme's time zone (default now).")]
OrderAmount = Annotated[str, typer.Option("--amount", help="Order amount, e.g. 12.50.")]
Currency = Annotated[str, typer.Option("--currency", help="ISO currency code.", autocompletion=complete.currencies)]
Category = Annotated[
    Optional[str],
    typer.Option(
        "--category",
        help="Product category, e.g. groceries (default: the rules' order_defaults).",
        autocompletion=complete.categories,
    ),
]
Channel = Annotated[
    Optional[str],
    typer.Option(
        "--channel",
        help="Sales channel, e.g. web, app, store (default: the rules' order_defaults).",
        autocompletion=complete.channels,
    ),
]

DIRECTIONS = ("out", "in")
"""Which way an exchange goes: ``out`` our points to the partner, ``in`` the partner's to ours."""

Action = Callable[[LoyaltyProgram], OperationResult | BatchResult]
"""What a verb does: one service call on the programme."""


def run_operation(ctx: typer.Context, action: Action, fmt: Format) -> None:
    """Run one service call on the context's programme and print what it posted, in ``fmt``."""

    app = app_context(ctx)
    result = run_guarded(lambda: action(app.program()))
    if isinstance(result, BatchResult):
        emit_mapping(result.summary(), fmt)
        return
    summary = result.summary()
    if fmt is Format.json:
        summary["postings"] = [
            p.model_dump() for tx in result.transactions for p in tx.postings
        ]
        emit_json(summary)
        exit_for_review(result)
        return
    emit_mapping(summary, fmt)
    if fmt is Format.table and result.transactions:
        # The guard's legs (control asset: sequence and closed-period checks) are counted, not listed.
        control = app.chart.control_asset
        rows = [
            {"tx": tx.id, "source": p.source, "destination": p.destination, "amount": p.amount, "asset": p.asset}
            for tx in result.transactions
            for p in tx.postings
        ]
        shown = [row for row in rows if row["asset"] != control]
        checks = len(rows) - len(shown)
        typer.echo("")
        emit_rows(shown, Format.table)
        if checks:
            typer.echo(f"(and {checks} {control} postings: the ledger's sequence and closed-period checks)")
    exit_for_review(result)


REVIEW_PENDING_EXIT = 5
"""``loyalty redeem``'s exit code when the redemption is held for review: posted (a hold), nothing redeemed yet."""


def exit_for_review(result: OperationResult) -> None:
    """Exit 5 for a redemption waiting for review, 1 for one whose review rejected or lapsed it (printed already)."""

    if result.review == "pending":
        raise typer.Exit(REVIEW_PENDING_EXIT)
    if result.review in ("rejected", "lapsed"):
        raise typer.Exit(1)


def operation(verb: Callable[..., Action]) -> Callable[..., None]:
    """A verb as typer should see it: ``verb`` takes only its own options and returns its service call.

    The command typer runs takes the context first and ``--format``
    last (:func:`~.output.formatted`); it builds the call (a usage error
    raised there exits 2 before anything is read), then runs and prints it
    with :func:`run_operation`.
    """

    own = list(inspect.signature(verb, eval_str=True).parameters.values())
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    fmt = inspect.Parameter("fmt", inspect.Parameter.KEYWORD_ONLY, annotation=Format)

    @functools.wraps(verb)
    def command(ctx: typer.Context, *args: Any, fmt: Format, **kwargs: Any) -> None:
        # The command is built (and its input checked: exit 2) before the ledger is looked for.
        run_operation(ctx, run_guarded(lambda: verb(*args, **kwargs)), fmt)

    return formatted(with_parameters(command, [context, *own, fmt]))


def swept(label: str, run: Callable[[LoyaltyProgram, Progress], BatchResult]) -> Action:
    """A sweep's service call, with a progress bar on stderr labelled ``label`` while it runs."""

    def action(program: LoyaltyProgram) -> BatchResult:
        with progress(label) as update:
            return run(program, update)

    return action


def register(app: typer.Typer) -> None:
    @app.command()
    @formatted
    def init(
        ctx: typer.Context,
        example: Annotated[
            Optional[str],
            typer.Option(
                "--example",
                metavar="DIR",
                help="Instead, write the default chart, rules and Numscript templates into DIR, with a loyalty.toml using them, to edit (the ledger is not touched).",
            ),
        ] = None,
        *,
        fmt: Format,
    ) -> None:
        """Create the ledger and apply the chart as its schema (a no-op when already done)."""

        if example is not None:
            if not example.strip():
                fail("--example: name the folder to write the programme's files into", 2)
            written = run_guarded(lambda: write_example(Path(example)))
            emit_rows([{"written": str(path)} for path in written], fmt)
            if fmt is Format.table:
                typer.echo(f"\nEdit them, then from {example}: `loyalty init` applies the chart to the ledger.")
            return
        result = run_guarded(lambda: app_context(ctx).program().init())
        emit_mapping(result, fmt)

    @app.command()
    @operation
    def earn(
        customer: Customer,
        order: Annotated[str, typer.Option("--order", help="Order id (the business key).")],
        amount: OrderAmount,
        currency: Currency = "USD",
        ordered_at: Annotated[
            Optional[str],
            typer.Option("--ordered-at", help="Order instant (default now; then running the same line again is a replay)."),
        ] = None,
        category: Category = None,
        channel: Channel = None,
    ) -> Action:
        """Award points for an order, priced by the rules file at the order's instant (tier, category, campaigns).

        The points are pending first when the chart has a chargeback window;
        `loyalty explain --order ORDER` shows how they were worked out.
        """

        command = EarnCommand(
            customer=customer,
            order_id=order,
            amount=parse_money(amount, currency),
            ordered_at=parse_instant(ordered_at, option="--ordered-at"),
            category=category,
            channel=channel,
            # "now" is not what the order is: the same line run again must be the same command.
            unstated=frozenset() if ordered_at is not None else frozenset({"ordered_at"}),
        )
        return lambda p: p.earn(command)

    @app.command()
    @operation
    def release(
        as_of: Annotated[Optional[str], typer.Option("--as-of", help="Release what is due at this instant (default now).")] = None,
        customer: OnlyCustomer = None,
    ) -> Action:
        """Make pending points whose chargeback window has passed spendable."""

        return swept("releasing", lambda p, progress: p.release(parse_instant(as_of, option="--as-of"), customer=customer, progress=progress))

    @app.command("catch-up-usage")
    @operation
    def catch_up_usage(customer: OnlyCustomer = None) -> Action:
        """Credit capped campaigns' usage accounts with what earns charged before they existed (after an upgrade)."""

        return swept("catching up campaign usage", lambda p, progress: p.catch_up_usage(customer=customer, progress=progress))

    @app.command()
    @operation
    def hold(
        customer: Customer,
        hold_id: Annotated[str, typer.Option("--hold", help="Hold id (the business key).")],
        points: Points,
        at: At = None,
    ) -> Action:
        """Reserve points (soonest-expiring first) until captured, voided or lapsed."""

        command = HoldCommand(customer=customer, hold_id=hold_id, points=parse_points(points), at=parse_instant(at))
        return lambda p: p.hold(command)

    @app.command()
    @operation
    def capture(
        customer: Customer,
        hold_id: Annotated[str, typer.Option("--hold", help="Hold id.")],
        points: Points,
        at: At = None,
    ) -> Action:
        """Spend all or part of a hold; the rest goes back to the customer's buckets."""

        command = CaptureCommand(customer=customer, hold_id=hold_id, points=parse_points(points), at=parse_instant(at))
        return lambda p: p.capture(command)

    @app.command()
    @operation
    def void(
        customer: Annotated[Optional[str], typer.Option("--customer", "-c", help="Customer id.")] = None,
        hold_id: Annotated[Optional[str], typer.Option("--hold", help="Hold id.")] = None,
        lapsed: Annotated[bool, typer.Option("--lapsed", help="Void every hold past its TTL instead.")] = False,
        as_of: Annotated[Optional[str], typer.Option("--as-of", help="With --lapsed: the instant (default now).")] = None,
    ) -> Action:
        """Release a hold: every point returns to the bucket it came from."""

        if lapsed:
            if customer is not None or hold_id is not None:
                raise InvalidCommand("--lapsed voids every lapsed hold: give it without --customer and --hold")
            moment = parse_instant(as_of, option="--as-of")
            return swept("voiding lapsed holds", lambda p, progress: p.void_lapsed(moment, progress=progress))
        if as_of is not None:
            raise InvalidCommand("--as-of goes with --lapsed; a hold named by --customer and --hold is voided now")
        if customer is None or hold_id is None:
            raise InvalidCommand("give --customer and --hold, or --lapsed")
        return lambda p: p.void(customer, hold_id)

    @app.command()
    @operation
    def redeem(
        customer: Customer,
        redemption: Annotated[str, typer.Option("--redemption", help="Redemption id (the business key).")],
        points: Annotated[
            Optional[str],
            typer.Option("--points", "-p", help="Whole points (a positive integer); default: the catalogue price of --reward."),
        ] = None,
        reward: Annotated[
            Optional[str],
            typer.Option("--reward", help="Catalogue SKU (priced by the catalogue; a physical one takes a unit of stock), or a label with --points."),
        ] = None,
        at: At = None,
    ) -> Action:
        """Spend points on a reward, soonest-expiring first: --points, or a catalogue reward (--reward SKU)."""

        if points is None and reward is None:
            raise InvalidCommand("give --points, or --reward SKU to redeem a catalogue reward at its price")
        whole = parse_points(points) if points is not None else None
        command = RedeemCommand(customer=customer, redemption_id=redemption, points=whole, reward=reward, at=parse_instant(at))
        return lambda p: p.redeem(command)

    @app.command()
    @operation
    def expire(
        as_of: Annotated[Optional[str], typer.Option("--as-of", help="Expire what is due at this instant (default now).")] = None,
        customer: OnlyCustomer = None,
    ) -> Action:
        """Move every due bucket into the expired account; running it again posts nothing new."""

        return swept("expiring", lambda p, progress: p.expire(parse_instant(as_of, option="--as-of"), customer=customer, progress=progress))

    @app.command()
    @operation
    def transfer(
        customer: Annotated[str, typer.Option("--from", help="Sending customer.")],
        to_customer: Annotated[str, typer.Option("--to", help="Receiving customer.")],
        transfer_id: Annotated[str, typer.Option("--transfer", help="Transfer id (the business key).")],
        points: Points,
        at: At = None,
    ) -> Action:
        """Give points to another customer; each point keeps its expiry date."""

        command = TransferCommand(customer=customer, to_customer=to_customer, transfer_id=transfer_id, points=parse_points(points), at=parse_instant(at))
        return lambda p: p.transfer(command)

    @app.command()
    @operation
    def exchange(
        customer: Customer,
        partner: Annotated[
            str, typer.Option("--partner", help="Partner programme key from the chart.", autocompletion=complete.partners)
        ],
        exchange_id: Annotated[str, typer.Option("--exchange", help="Exchange id (the business key).")],
        partner_points: Annotated[str, typer.Option("--partner-points", help="Whole partner points.")],
        direction: Annotated[
            str,
            typer.Option(
                "--direction",
                help="out: our points → partner; in: partner → ours.",
                autocompletion=lambda incomplete: [d for d in DIRECTIONS if d.startswith(incomplete)],
            ),
        ] = "out",
        at: At = None,
    ) -> Action:
        """Exchange points with a partner programme at the chart's rate, settlement leg included."""

        def fields() -> dict[str, Any]:
            if direction not in DIRECTIONS:
                raise InvalidCommand(f"--direction: {quoted(direction)} must be out or in")
            whole = parse_points(partner_points, option="--partner-points")
            return dict(customer=customer, exchange_id=exchange_id, partner=partner, partner_points=whole, at=parse_instant(at))

        if direction == "in":
            command = ExchangeInCommand(**fields())
            return lambda p: p.exchange_in(command)
        command = ExchangeOutCommand(**fields())
        return lambda p: p.exchange_out(command)

    @app.command()
    @operation
    def convert(
        customer: Customer,
        conversion: Annotated[str, typer.Option("--conversion", help="Conversion id (the business key).")],
        points: Points,
        at: At = None,
    ) -> Action:
        """Turn points into store credit, whole units only; both legs in one transaction."""

        command = ConvertCommand(customer=customer, conversion_id=conversion, points=parse_points(points), at=parse_instant(at))
        return lambda p: p.convert(command)

    @app.command()
    @operation
    def refund(
        customer: Customer,
        order: Annotated[str, typer.Option("--order", help="The refunded order.")],
        refund_id: Annotated[str, typer.Option("--refund", help="Refund id (the business key).")],
        amount: Annotated[str, typer.Option("--amount", help="Refunded amount.")],
        currency: Currency = "USD",
        at: At = None,
    ) -> Action:
        """Take back the order's points in proportion; a shortfall follows the chart's refund policy."""

        command = RefundCommand(customer=customer, order_id=order, refund_id=refund_id, amount=parse_money(amount, currency), at=parse_instant(at))
        return lambda p: p.refund(command)

    @app.command()
    @operation
    def adjust(
        customer: Customer,
        adjustment: Annotated[str, typer.Option("--adjustment", help="Adjustment id (the business key).")],
        points: Annotated[str, typer.Option("--points", "-p", help="Positive to credit, negative to debit.")],
        reason: Annotated[str, typer.Option("--reason", help="Reason code (mandatory), e.g. goodwill.")],
        at: At = None,
    ) -> Action:
        """Credit or debit points by hand, with a mandatory reason code."""

        def command() -> AdjustCommand:
            signed = parse_points(points, signed=True)
            if signed == 0:
                raise InvalidCommand("--points must not be 0: positive credits, negative debits")
            direction = "credit" if signed > 0 else "debit"
            return AdjustCommand(
                customer=customer, adjustment_id=adjustment, direction=direction, points=abs(signed), reason=reason, at=parse_instant(at)
            )

        adjustment_command = command()
        return lambda p: p.adjust(adjustment_command)

    @app.command()
    @formatted
    def balance(
        ctx: typer.Context,
        customer: Customer,
        as_of: Annotated[
            Optional[str],
            typer.Option("--as-of", help="The position effective at this instant (a date: at the end of that day), back-dated postings included (default: now)."),
        ] = None,
        *,
        fmt: Format,
    ) -> None:
        """A customer's points by bucket, pending, holds, debt and store credit."""

        pit = run_guarded(lambda: parse_instant(as_of, option="--as-of", day="end")) if as_of is not None else None
        bal = run_guarded(lambda: app_context(ctx).program().balance(customer, pit=pit))
        if fmt is Format.json:
            emit_json({**bal.model_dump(mode="json"), "total": bal.total, **({"as_of": pit.isoformat()} if pit else {})})
            return
        # One row per bucket, pending account, hold and debt; the states are the liability report's.
        rows = [
            {"state": "due" if b.due else "spendable", "expiry": b.expiry or "never", "kind": b.kind, "points": b.points}
            for b in bal.buckets
        ]
        rows += [
            {"state": "pending", "expiry": p.expiry or "never", "kind": p.kind, "release": p.release, "points": p.points}
            for p in bal.pending_buckets
        ]
        kinds = any(row["kind"] != "base" for row in rows)  # a kind column only when the chart keeps kinds apart
        rows = rows if kinds else [{k: v for k, v in row.items() if k != "kind"} for row in rows]
        rows += [{"state": "held", "hold": h.hold_id, "points": h.points} for h in bal.holds]
        if bal.clawback:
            rows.append({"state": "negative", "points": bal.clawback})
        rows = [{"customer": customer, **row} for row in rows]
        columns = ["customer", "state", "expiry", *(["kind"] if kinds else []), "release", "hold", "points"]
        emit_rows(rows, fmt, columns=columns, title=f"customer {customer}" + (f" as of {pit.isoformat()}" if pit else ""))
        if fmt is Format.table:
            typer.echo(f"\nspendable {bal.spendable}   total points {bal.total}   store credit {bal.credit} {bal.credit_currency}")
            if bal.due:
                typer.echo(f"{bal.due} points are due: past their expiry date, not spendable, owed until `loyalty expire` sweeps them")
            if bal.clawback:
                typer.echo(f"{-bal.clawback} points are owed by the customer (negative: a refund after spending)")

    @app.command()
    @formatted
    def history(ctx: typer.Context, customer: Customer, *, fmt: Format) -> None:
        """Every transaction that touched the customer's accounts, in the order the ledger recorded them."""

        app = app_context(ctx)
        txs = run_guarded(lambda: app.program().history(customer))
        rows = []
        for tx in txs:
            delta = points_change(app.chart, tx, customer)
            rows.append(
                {
                    "tx": tx.id,
                    "timestamp": tx.timestamp.isoformat(),
                    "operation": tx.metadata.get("operation", ""),
                    "reference": tx.reference or "",
                    "points_change": delta,
                    "reverted": tx.reverted,
                }
            )
        emit_rows(rows, fmt, columns=["tx", "timestamp", "operation", "reference", "points_change", "reverted"])
