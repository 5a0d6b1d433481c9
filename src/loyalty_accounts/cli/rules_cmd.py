"""The earning-rules verbs: ``loyalty quote``, ``explain``, ``tier``, ``engage`` and ``rules check``.

``quote`` and ``rules check`` price orders without posting anything (``quote
--customer`` reads that customer's tier and campaign usage from the ledger,
otherwise no ledger is needed); ``explain`` and ``tier`` read the ledger;
``engage`` posts an award. Exit codes as everywhere: 0 ok, 1 business refusal
(limit reached, unknown order), 2 bad input or a bad rules file (with the
field and line), 3 ledger unavailable.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import InvalidCommand
from ..operations import EarnCommand
from ..rules import EarnBreakdown, Order, Rules, compare_versions, load_rules, quote
from ..vocabulary.amounts import parse_money
from ..vocabulary.ids import customer_id
from . import complete
from .context import app_context
from .inputs import parse_instant
from .ops import (
    Action,
    At,
    Category,
    Channel,
    Currency,
    Customer,
    OrderAmount,
    operation,
)
from .output import Format, emit_json, emit_mapping, emit_rows, formatted
from ..vocabulary.quoting import quoted
from .shell import fail, run_guarded

rules_app = typer.Typer(help="Check earning rules files.", no_args_is_help=True)

# What `rules check` prices when no --sample is given: the order defaults, each
# kind of multiplier, an excluded category, a small order and each currency.
DEFAULT_SAMPLES: tuple[tuple[str, str, str, str], ...] = (
    ("100.00", "USD", "general", "store"),
    ("100.00", "USD", "groceries", "store"),
    ("100.00", "EUR", "electronics", "web"),
    ("60.00", "USD", "fuel", "store"),
    ("1000.00", "USD", "travel", "web"),
    ("100.00", "USD", "gift_cards", "web"),
    ("10000", "JPY", "books", "app"),
    ("0.50", "USD", "general", "web"),
)


def breakdown_rows(breakdown: EarnBreakdown) -> list[dict[str, Any]]:
    """One row per explanation line: the rows sum to the points exactly (:func:`breakdown_total_row`)."""

    return [{"points": line.figure, "step": line.label} for line in breakdown.lines()]


def breakdown_total_row(breakdown: EarnBreakdown) -> dict[str, Any]:
    """The points the lines sum to, under a table's rule (never a row of the CSV)."""

    return {"points": breakdown.points, "step": f"total (rules {breakdown.rules_version}, tier {breakdown.tier})"}


def _lines(breakdown: EarnBreakdown) -> list[dict[str, str]]:
    return [{"label": line.label, "points": line.figure} for line in breakdown.lines()]


def _show_breakdown(breakdown: EarnBreakdown, fmt: Format, *, title: str, extra: dict[str, Any]) -> None:
    if fmt is Format.json:
        emit_json({**extra, "rules_version": breakdown.rules_version, "tier": breakdown.tier,
                   "points": breakdown.points, "reason": breakdown.reason, "lines": _lines(breakdown)})
        return
    emit_rows(breakdown_rows(breakdown), fmt, columns=["points", "step"], title=title, footer=[breakdown_total_row(breakdown)])


def _sample(text: str, index: int, at: datetime) -> Order:
    """An order from AMOUNT:CURRENCY:CATEGORY:CHANNEL, placed at ``at``."""

    parts = text.split(":")
    if len(parts) != 4:
        raise InvalidCommand(f"--sample {quoted(text)}: write AMOUNT:CURRENCY:CATEGORY:CHANNEL, e.g. 120.35:EUR:groceries:store")
    amount, currency, category, channel = parts
    money = parse_money(amount, currency)
    return Order(customer="sample", order_id=f"s{index}", amount=money.amount, currency=money.currency,
                 category=category, channel=channel, ordered_at=at)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")

    @app.command("quote")
    @formatted
    def quote_command(
        ctx: typer.Context,
        amount: OrderAmount,
        currency: Currency = "USD",
        category: Category = None,
        channel: Channel = None,
        at: Annotated[Optional[str], typer.Option("--at", help="Order instant (default now): decides the campaigns.")] = None,
        customer: Annotated[
            Optional[str], typer.Option("--customer", "-c", help="Price for this customer: tier and campaign usage from the ledger.")
        ] = None,
        tier: Annotated[
            Optional[str],
            typer.Option("--tier", help="Price at this tier instead (no ledger needed).", autocompletion=complete.tiers),
        ] = None,
        *,
        fmt: Format,
    ) -> None:
        """Price a hypothetical order and show every step; nothing is posted."""

        if customer is not None and tier is not None:
            raise typer.BadParameter("give --customer (tier read from the ledger) or --tier, not both")
        context = app_context(ctx)
        if customer is not None:
            run_guarded(lambda: customer_id(customer))
        if tier is not None:
            run_guarded(lambda: context.rules.tier(tier))
        money = run_guarded(lambda: parse_money(amount, currency))
        instant = run_guarded(lambda: parse_instant(at))
        if customer is not None:
            command = run_guarded(lambda: EarnCommand(customer=customer, order_id="quote", amount=money,
                                                      ordered_at=instant, category=category, channel=channel))
            breakdown = run_guarded(lambda: context.program().quote(command))
        else:
            def pure() -> EarnBreakdown:
                rules = context.rules
                cat, chan = rules.order_fields(category, channel)
                order = Order(customer="anyone", order_id="quote", amount=money.amount, currency=money.currency,
                              category=cat, channel=chan, ordered_at=instant)
                return quote(rules, order, tier=rules.base_tier.name if tier is None else tier, campaign_usage={})

            breakdown = run_guarded(pure)
        title = f"{money.amount} {money.currency} {breakdown.category} via {breakdown.channel} at {instant.isoformat()}"
        _show_breakdown(breakdown, fmt, title=title, extra={"customer": customer, "at": instant})

    @app.command("explain")
    @formatted
    def explain_command(
        ctx: typer.Context,
        order: Annotated[str, typer.Option("--order", help="The order whose earn to explain.")],
        *,
        fmt: Format,
    ) -> None:
        """How an order's points were worked out, read from its earn transaction; the lines add up to the points posted."""

        found = run_guarded(lambda: app_context(ctx).program().explain(order))
        b = found.breakdown
        tier_note = f", {found.tier_change}" if found.tier_change else ""
        title = (f"order {order} of {found.customer} (transaction {found.transaction}): "
                 f"{b.amount} {b.currency} {b.category} via {b.channel}{tier_note}")
        extra = {"order": order, "customer": found.customer, "transaction": found.transaction,
                 "posted_points": found.posted_points, "adds_up": found.adds_up,
                 "tier_after": found.tier_after, "tier_change": str(found.tier_change) if found.tier_change else None,
                 "expires": [{"kind": k, "points": p, "expires_on": e.isoformat() if e else None} for k, p, e in found.expires]}
        _show_breakdown(b, fmt, title=title, extra=extra)
        if fmt is Format.table:
            typer.echo(f"\nposted: {found.posted_points} points")
            expiring = ", ".join(f"{p} {k} on {e.isoformat() if e else 'never'}" for k, p, e in found.expires if p)
            typer.echo(f"expire: {expiring}")
        if not found.adds_up:
            fail(f"the breakdown of order {order} does not add up to the {found.posted_points} points posted", 1)

    @app.command("tier")
    @formatted
    def tier_command(
        ctx: typer.Context,
        customer: Customer,
        as_of: Annotated[Optional[str], typer.Option("--as-of", help="The instant (a date: the end of that day; default now).")] = None,
        *,
        fmt: Format,
    ) -> None:
        """A customer's tier: qualifying points earned in the window, and what the next tier needs."""

        instant = run_guarded(lambda: parse_instant(as_of, option="--as-of", day="end"))
        program = run_guarded(app_context(ctx).program)
        status = run_guarded(lambda: program.tier(customer, instant))
        first, _ = run_guarded(lambda: program.qualification_days(instant))
        emit_mapping(
            {
                "customer": customer,
                "as_of": instant.isoformat(),
                "tier": status.tier,
                "multiplier": status.multiplier,
                "qualifying_points": status.qualifying_points,
                "counted_from": first.isoformat() if first else "the beginning (lifetime)",
                "next_tier": status.next_tier or "(top tier)",
                "points_to_next": status.points_to_next if status.points_to_next is not None else 0,
            },
            fmt,
        )

    @app.command("engage")
    @operation
    def engage_command(
        customer: Customer,
        event: Annotated[
            str, typer.Option("--event", help="Engagement event from the rules, e.g. sign_up.", autocompletion=complete.events)
        ],
        key: Annotated[str, typer.Option("--key", help="Your id for this award; repeating it is a replay.")],
        at: At = None,
    ) -> Action:
        """Award an engagement event's points; refused (exit 1) once the rules' limit is reached."""

        instant = run_guarded(lambda: parse_instant(at))
        return lambda p: p.engage(customer, event, key, instant)

    @rules_app.command("check")
    @formatted
    def check_command(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="The rules file to check.")],
        sample: Annotated[
            Optional[list[str]],
            typer.Option("--sample", help="AMOUNT:CURRENCY:CATEGORY:CHANNEL to price (repeatable; default: a built-in set)."),
        ] = None,
        at: Annotated[Optional[str], typer.Option("--at", help="Instant the samples are ordered at (default now).")] = None,
        tier: Annotated[
            Optional[str],
            typer.Option("--tier", help="Price the samples at this tier (default: each file's first).", autocompletion=complete.tiers),
        ] = None,
        *,
        fmt: Format,
    ) -> None:
        """Validate a rules file, then show what sample orders earn under the current rules and under it.

        A bad file exits 2 naming the field and its line. The current rules are
        the ones --rules / LOYALTY_RULES / rules.yaml name.
        """

        context = app_context(ctx)
        new: Rules = run_guarded(lambda: load_rules(file, chart=context.chart))
        current: Rules = run_guarded(lambda: context.rules)
        if new.version == current.version and new != current:
            fail(f"{file}: version {new.version} is already the current rules' version with other content: give it a new version", 2)
        instant = run_guarded(lambda: parse_instant(at))
        texts = sample or [":".join(s) for s in DEFAULT_SAMPLES]
        orders = [run_guarded(lambda t=t, i=i: _sample(t, i, instant)) for i, t in enumerate(texts, start=1)]
        comparison = run_guarded(lambda: compare_versions(current, new, orders, tier=tier))
        rows = [
            {
                "order": f"{text.split(':')[0]} {o.currency} {o.category} via {o.channel}",
                "tier": row.tier,
                "current": row.old_points,
                "new": row.new_points,
                "change": row.delta,
                "note": "; ".join(n for n in (row.old_note and f"current: {row.old_note}", row.new_note and f"new: {row.new_note}") if n) or None,
            }
            for text, o, row in zip(texts, orders, comparison)
        ]
        if fmt is Format.json:
            emit_json({"file": str(file), "valid": True, "current_version": current.version, "new_version": new.version,
                       "at": instant, "samples": rows})
            return
        title = f"{file}: valid, version {new.version} (current {current.version}); samples ordered at {instant.isoformat()}"
        emit_rows(rows, fmt, columns=["order", "tier", "current", "new", "change", "note"], title=title)


__all__ = ["DEFAULT_SAMPLES", "breakdown_rows", "breakdown_total_row", "register"]
