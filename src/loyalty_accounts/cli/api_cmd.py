"""``loyalty serve`` (the HTTP API) and ``loyalty key create|list|revoke`` (its API keys).

A key belongs to the programme of the ledger named by ``--ledger`` (the settings' ledger by default).
Exit codes: 0 ok, 1 refused (an unknown key), 2 bad input, 3 the ledger or the registry unavailable.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..api.keys import FIXED_SCOPES, ApiKey, ApiKeys, KeyStore
from ..app import registry_location
from ..errors import InvalidCommand
from ..registry import open_database
from ..reports.common import utc_now
from .context import AppContext, app_context
from .feedback import say
from .inputs import parse_instant
from .output import Format, emit_json, emit_mapping, emit_rows, formatted
from .shell import run_guarded

key_app = typer.Typer(help="API keys of the HTTP API: create (shown once), list, revoke.", no_args_is_help=True)
KEY_COLUMNS = ("key_id", "programme", "label", "scopes", "member", "state", "created_at", "expires_at", "revoked_at")
_DAYS = re.compile(r"^([0-9]{1,4})d$")



def _keys(context: AppContext) -> ApiKeys:
    def open_keys() -> ApiKeys:
        url, _, create = registry_location(context.settings, context._local_registry)
        return ApiKeys(KeyStore(open_database(url, create=create)))

    return run_guarded(open_keys)


def _require_ledger(context: AppContext) -> None:
    """Refuse (UnknownEntity, exit 1) a key for a ledger that does not exist: a typo in --ledger is caught here."""

    context.client().ledger_metadata()


def key_record(key: ApiKey, now: datetime) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "programme": key.programme,
        "label": key.label,
        "scopes": ",".join(key.scopes),
        "member": key.member,
        "state": key.state(now),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


def expiry(text: str, now: datetime) -> datetime:
    """``--expires``: ``90d`` (days from now) or an instant / date. Raises InvalidCommand."""

    match = _DAYS.match(text.strip())
    if match:
        days = int(match.group(1))
        if days < 1:
            raise InvalidCommand("--expires: at least 1d")
        return now + timedelta(days=days)
    return parse_instant(text, option="--expires")


@key_app.command("create")
@formatted
def create_key(
    ctx: typer.Context,
    scope: Annotated[list[str], typer.Option("--scope", help=f"Repeatable: {', '.join(FIXED_SCOPES)}, partner:NAME.")],
    label: Annotated[str, typer.Option("--label", help="What the key is for, as a code (till-12, crm-sync), never a person's name.")],
    expires: Annotated[str, typer.Option("--expires", help="When it stops working: 90d (days from now) or a date/instant.")] = "90d",
    member: Annotated[Optional[str], typer.Option("--member", help="With member:read: the one member the key may read.")] = None,
    *,
    fmt: Format,
) -> None:
    """Make an API key for the programme (the ledger of --ledger); prints the key once: keep it now."""

    context = app_context(ctx)
    now = utc_now()
    until = run_guarded(lambda: expiry(expires, now))
    programme = run_guarded(lambda: context.app.ledger_name)
    run_guarded(lambda: _require_ledger(context))
    partners = run_guarded(lambda: list(context.chart.spec.partners))
    keys = _keys(context)
    try:
        key, text = run_guarded(
            lambda: keys.create(programme=programme, scopes=scope, label=label, expires_at=until, now=now, member=member, partners=partners)
        )
    finally:
        keys.close()
    record = key_record(key, now) | {"api_key": text}
    emit_json(record) if fmt is Format.json else emit_mapping(record, fmt)
    say("keep the api_key now: only a digest of it is stored, it is never shown again")


@key_app.command("list")
@formatted
def list_keys(
    ctx: typer.Context,
    every: Annotated[bool, typer.Option("--all", help="Keys of every programme, not only this ledger's.")] = False,
    *,
    fmt: Format,
) -> None:
    """The API keys (never their secrets), with their state: active, expired, revoked."""

    context = app_context(ctx)
    programme = None if every else run_guarded(lambda: context.app.ledger_name)
    keys = _keys(context)
    try:
        found = run_guarded(lambda: keys.keys(programme))
    finally:
        keys.close()
    now = utc_now()
    emit_rows([key_record(k, now) for k in found], fmt, columns=KEY_COLUMNS)


@key_app.command("revoke")
@formatted
def revoke_key(ctx: typer.Context, key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (key_id in `key list`).")], *, fmt: Format) -> None:
    """Revoke one of the programme's keys (the ledger of --ledger): the next request with it is refused (401)."""

    context = app_context(ctx)
    programme = run_guarded(lambda: context.app.ledger_name)
    keys = _keys(context)
    try:
        key = run_guarded(lambda: keys.revoke(key_id, utc_now(), programme=programme))
    finally:
        keys.close()
    emit_mapping(key_record(key, utc_now()), fmt)


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (default loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    programmes: Annotated[
        Optional[Path], typer.Option("--programmes", help="YAML file naming the programmes (ledgers with their chart and rules) to serve; default: the settings' ledger.")
    ] = None,
    request_timeout: Annotated[float, typer.Option("--request-timeout", min=1, max=3600, help="Seconds before a request is answered 504 (a write goes on; retry with its Idempotency-Key).")] = 60.0,
) -> None:
    """Serve the HTTP API (/v1, docs at /v1/docs) until Ctrl-C or SIGTERM; requests in flight finish first."""

    from ..api.serving import build_context, serve

    context = app_context(ctx)
    api_context = run_guarded(
        lambda: build_context(context.settings, programmes, find_ledger=context._local_ledger, find_registry=context._local_registry)
    )
    say(f"serving {', '.join(api_context.programmes.by_name)} on http://{host}:{port}/v1 (docs: /v1/docs)")
    serve(api_context, host=host, port=port, request_timeout_s=request_timeout)
