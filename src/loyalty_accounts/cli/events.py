"""``loyalty events tail|deliver|replay|dead-letters|webhook``: the programme's domain events and their webhooks.

Events are told from the ledger's own hashed log (``tail`` needs nothing else); delivery to webhooks keeps
its progress in the member registry's database. Exit codes: 0 ok, 1 some events dead-lettered in this run
(or refused: an unknown webhook), 2 bad input, 3 the ledger, the registry or (``deliver`` without
``--follow``) a webhook unreachable.
"""

from __future__ import annotations

import csv
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import Annotated, Any, Optional

import typer

from ..events import EVENT_TYPES, DeadLetter, DeliveryPolicy, DomainEvent, EventService, WebhookRow
from ..events.stream import START
from ..vocabulary.cells import cell, csv_cell
from ..reports.common import utc_now
from .context import app_context
from .feedback import progress, say
from .output import Format, emit_json, emit_mapping, emit_rows, formatted
from .shell import fail, run_guarded

app = typer.Typer(
    help="Domain events told from the ledger's hashed log (no personal data), and their delivery to webhooks.",
    no_args_is_help=True,
)
webhook_app = typer.Typer(help="Webhooks that receive the events: add (shows the signing secret once), list, remove.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")

FromOption = Annotated[
    Optional[str],
    typer.Option("--from", help="start, now, a log id (#42) or an instant (2026-11-01, 2026-11-01T09:00:00Z)."),
]
WebhookArgument = Annotated[str, typer.Argument(metavar="WEBHOOK", help="The webhook's id, as `events webhook add` printed it.")]
EVENT_COLUMNS = ("log", "occurred_at", "type", "member", "seq", "points", "change", "reference", "id")
WEBHOOK_COLUMNS = ("webhook_id", "url", "types", "position", "delivered", "dead_letters", "created_at", "removed_at")
DEAD_COLUMNS = ("webhook_id", "position", "event_id", "type", "member", "attempts", "last_error", "dead_at")



def _service(ctx: typer.Context) -> EventService:
    context = app_context(ctx)
    return run_guarded(lambda: context.app.events)


def event_row(event: DomainEvent) -> dict[str, Any]:
    """An event as one line of a table."""

    return {
        "log": f"#{event.log_id}.{event.index}",
        "occurred_at": event.occurred_at,
        "type": event.type,
        "member": event.member,
        "seq": event.member_sequence,
        "points": event.points,
        "change": event.balance_change,
        "reference": event.reference,
        "id": event.id,
    }


def webhook_row(webhook: WebhookRow) -> dict[str, Any]:
    return {
        "webhook_id": webhook.webhook_id,
        "url": webhook.url,
        "types": ",".join(webhook.event_types) if webhook.event_types is not None else "all",
        "position": f"#{webhook.position.log_id}.{webhook.position.index}",
        "delivered": webhook.delivered,
        "dead_letters": webhook.dead_letters,
        "created_at": webhook.created_at,
        "removed_at": webhook.removed_at,
    }


def dead_row(dead: DeadLetter) -> dict[str, Any]:
    return {
        "webhook_id": dead.webhook_id,
        "position": f"#{dead.position.log_id}.{dead.position.index}",
        "event_id": dead.event_id,
        "type": dead.event_type,
        "member": dead.member,
        "attempts": dead.attempts,
        "last_error": dead.last_error,
        "dead_at": dead.dead_at,
    }


@app.command("tail")
def tail(
    ctx: typer.Context,
    start: FromOption = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Keep printing new events until Ctrl-C (default), or stop at the newest log.")] = True,
    poll: Annotated[float, typer.Option("--poll", min=0.05, max=3600, help="Seconds between looks for new logs when following.")] = 1.0,
    fmt: Annotated[Format, typer.Option("--format", "-f", case_sensitive=False, help="table: a line per event for people; json: one JSON object per line (the webhook body); csv.")] = Format.table,
) -> None:
    """Print the events as the ledger records them: from --from (default: now when following, else start)."""

    context = app_context(ctx)
    source = run_guarded(lambda: context.app.event_source)
    position = run_guarded(lambda: source.position(start, now=utc_now())) if start else (
        run_guarded(lambda: source.position("now")) if follow else START
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if follow:
        say(f"following the events of {source.programme} from log #{position.log_id} (Ctrl-C to stop)")
    printed = 0
    header = fmt is not Format.json
    try:
        while True:
            last: int | None = None
            for item in run_guarded(lambda: list(source.logs(position))):
                for event in item.events:
                    _print_event(event, fmt, header=header and printed == 0)
                    printed += 1
                last = item.log_id
            if last is not None:
                position = position.model_copy(update={"log_id": last + 1, "index": 0})
            if not follow or stop.wait(poll):
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    say(f"{printed} event(s) through log #{position.log_id - 1}" if position.log_id else f"{printed} event(s)")


def _print_event(event: DomainEvent, fmt: Format, *, header: bool) -> None:
    """One event as it arrives: its webhook body (json), a CSV row, or a line of a table for people."""

    if fmt is Format.json:
        typer.echo(event.body().decode("utf-8"))
        return
    row = event_row(event)
    if fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        if header:
            writer.writerow(EVENT_COLUMNS)
        writer.writerow([csv_cell(row[c]) for c in EVENT_COLUMNS])
        sys.stdout.flush()
        return
    if header:
        typer.echo(_line({c: c for c in EVENT_COLUMNS}))
    typer.echo(_line({c: _shown(row[c]) for c in EVENT_COLUMNS}))


_WIDTHS = {"log": -9, "occurred_at": -20, "type": -18, "member": -14, "seq": 4, "points": 8, "change": 8, "reference": -40}
"""Column widths of ``tail``'s lines for people (negative: left-aligned); the id ends the line."""


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return cell(value)


def _line(values: dict[str, str]) -> str:
    parts = [values[c].ljust(-w) if w < 0 else values[c].rjust(w) for c, w in _WIDTHS.items()]
    return "  ".join(parts + [values["id"]]).rstrip()


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    webhook: Annotated[Optional[list[str]], typer.Option("--webhook", help="Only this webhook (repeatable; default: every one of the programme).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep delivering new events until Ctrl-C / SIGTERM (a receiver that is down is waited for).")] = False,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, max=100, help="Attempts per event before it is a dead letter.")] = DeliveryPolicy().max_attempts,
    max_backoff: Annotated[float, typer.Option("--max-backoff", min=0.01, max=3600, help="Longest wait between attempts, seconds.")] = DeliveryPolicy().max_backoff_s,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=300, help="Seconds to wait for a receiver's answer.")] = DeliveryPolicy().timeout_s,
    poll: Annotated[float, typer.Option("--poll", min=0.05, max=3600, help="Seconds between looks for new logs when following.")] = DeliveryPolicy().poll_s,
) -> None:
    """Deliver the events to the webhooks, from where each stopped: at least once, in ledger order, signed."""

    service = _service(ctx)
    policy = DeliveryPolicy(max_attempts=max_attempts, max_backoff_s=max_backoff, timeout_s=timeout, poll_s=poll)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts = {"delivered": 0, "dead": 0, "parked": 0, "filtered": 0}
    head = run_guarded(service.source.head)
    try:
        with progress("delivering") as update:
            def told(outcome: str, event: DomainEvent) -> None:
                counts[outcome] += 1
                if head:
                    update(min(event.log_id, head), head)

            runs = run_guarded(lambda: service.deliver(webhook or None, follow=follow, policy=policy, stop=stop, on_event=told))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not runs:
        typer.echo("no webhook to deliver to: add one with `loyalty events webhook add --url URL`")
        return
    emit_rows(
        [
            {
                "webhook_id": r.webhook_id,
                "delivered": r.delivered,
                "dead_lettered": r.dead_lettered,
                "parked": r.parked,
                "filtered": r.filtered,
                "position": f"#{r.position.log_id}.{r.position.index}" if r.position else "",
                "note": r.unreachable or "; ".join(r.errors[:1]),
            }
            for r in runs
        ],
        Format.table,
    )
    if any(r.unreachable for r in runs):
        fail(next(r.unreachable for r in runs if r.unreachable) or "", 3)
    if any(r.dead_lettered or r.parked for r in runs):
        fail("some events were dead-lettered: see `loyalty events dead-letters`, then `loyalty events replay`", 1)


@app.command("replay")
@formatted
def replay(
    ctx: typer.Context,
    webhook: Annotated[str, typer.Option("--webhook", help="The webhook to deliver to again.")],
    start: Annotated[str, typer.Option("--from", help="start, a log id (#42) or an instant: back to where delivery starts again.")],
    *,
    fmt: Format,
) -> None:
    """Move a webhook back to --from: the events from there (dead letters included) are delivered again by `events deliver`."""

    service = _service(ctx)
    done = run_guarded(lambda: service.replay(webhook, start))
    emit_mapping(
        {
            "webhook_id": done.webhook.webhook_id,
            "position": f"#{done.position.log_id}.{done.position.index}",
            "dead_letters_cleared": done.dropped_dead_letters,
            "next": "run `loyalty events deliver` to deliver again from there",
        },
        fmt,
    )


@app.command("dead-letters")
@formatted
def dead_letters(
    ctx: typer.Context,
    webhook: Annotated[Optional[str], typer.Option("--webhook", help="Only this webhook's.")] = None,
    *,
    fmt: Format,
) -> None:
    """The events webhooks did not take (refused on every attempt, or parked behind one of the same member)."""

    service = _service(ctx)
    emit_rows([dead_row(d) for d in run_guarded(lambda: service.dead_letters(webhook))], fmt, columns=DEAD_COLUMNS)


@webhook_app.command("add")
@formatted
def add_webhook(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="Where to POST the events (http or https).")],
    types: Annotated[Optional[list[str]], typer.Option("--type", help=f"Only this event type (repeatable; default: all): {', '.join(EVENT_TYPES)}.")] = None,
    start: Annotated[str, typer.Option("--from", help="Deliver from: now (default), start, a log id (#42) or an instant.")] = "now",
    *,
    fmt: Format,
) -> None:
    """Register a webhook; prints its id and its signing secret, which is shown this once only."""

    service = _service(ctx)
    made = run_guarded(lambda: service.add_webhook(url, types=types, start=start))
    record = webhook_row(made.webhook) | {"secret": made.secret}
    if fmt is Format.json:
        emit_json(record)
    else:
        emit_mapping(record, fmt)
    say("keep the secret now: it is stored sealed and never shown again")


@webhook_app.command("list")
@formatted
def list_webhooks(
    ctx: typer.Context,
    removed: Annotated[bool, typer.Option("--removed", help="Include removed webhooks.")] = False,
    *,
    fmt: Format,
) -> None:
    """The programme's webhooks: where each is in the stream, how many events it took, its dead letters."""

    service = _service(ctx)
    emit_rows([webhook_row(w) for w in run_guarded(lambda: service.webhooks(include_removed=removed))], fmt, columns=WEBHOOK_COLUMNS)


@webhook_app.command("remove")
@formatted
def remove_webhook(ctx: typer.Context, webhook: WebhookArgument, *, fmt: Format) -> None:
    """Stop delivering to a webhook (its record and dead letters are kept)."""

    service = _service(ctx)
    emit_mapping(webhook_row(run_guarded(lambda: service.remove_webhook(webhook))), fmt)
