"""``loyalty member add|show|update|forget|export|statement|audit|compact``: the member registry.

Personal data lives in the member registry (a PostgreSQL database of its own, each profile sealed with
a key of the member's own), never on the ledger; every command names a member by the opaque id
``member add`` printed. ``forget`` erases the profile and leaves the books as they were; ``export``
writes the member's data-access file. Both are audited (operator id, instant, reason code).

Exit codes: 0 ok, 1 refused (no such member, a forgotten member changed), 2 bad input (a malformed
id, field, operator, reason or registry key), 3 registry or ledger unavailable.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..members import CONSENT_NAMES, Member, changes, export_member
from ..reports import DEFAULT_HORIZON_DAYS
from .context import AppContext, app_context
from .output import Format, emit_json, emit_mapping, emit_rows, formatted
from .report import FromOption, ToOption, _window, print_statement
from .shell import fail, run_guarded

app = typer.Typer(
    help="Members' personal data, kept outside the ledger: add, show, update, forget (erasure), export (access).",
    no_args_is_help=True,
)

MemberArgument = Annotated[str, typer.Argument(metavar="ID", help="The member's id, as `loyalty member add` printed it.")]
NameOption = Annotated[Optional[str], typer.Option("--name", help="The member's name.")]
EmailOption = Annotated[Optional[str], typer.Option("--email", help="Email address.")]
PhoneOption = Annotated[Optional[str], typer.Option("--phone", help="Phone number in E.164 (+14155550100; blanks and dashes are dropped).")]
CountryOption = Annotated[Optional[str], typer.Option("--country", help="ISO 3166-1 alpha-2 country code (FR, US...).")]
ConsentOption = Annotated[
    Optional[list[str]],
    typer.Option("--consent", help=f"NAME=yes|no, repeatable; names: {', '.join(CONSENT_NAMES)}. Dated now."),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, as a code for the audit (e.g. erasure-request, access-request).")]
OperatorOption = Annotated[
    Optional[str],
    typer.Option("--operator", help="Who asks, as an operator id for the audit (default: LOYALTY_OPERATOR / operator)."),
]
MEMBER_COLUMNS = ("member_id", "state", "name", "email", "phone", "country", "consents", "forgotten_at", "created_at", "updated_at")
AUDIT_COLUMNS = ("audit_id", "at", "actor", "action", "reason", "member_id")
_YES = {"yes": True, "true": True, "y": True, "1": True, "no": False, "false": False, "n": False, "0": False}


def _consents(given: list[str] | None) -> dict[str, bool]:
    """``--consent NAME=yes|no`` options as a mapping; exit 2 on a malformed one."""

    out: dict[str, bool] = {}
    for item in given or []:
        name, sep, value = item.partition("=")
        if not sep or value.strip().lower() not in _YES:
            fail(f"--consent {item}: write NAME=yes or NAME=no (names: {', '.join(CONSENT_NAMES)})", 2)
        out[name.strip()] = _YES[value.strip().lower()]
    return out


def member_record(member: Member) -> dict[str, Any]:
    """A member as one record: the profile's fields (the pseudonym for a name once forgotten), consents, instants."""

    profile = member.profile
    consents = (
        [f"{name}={'yes' if c.granted else 'no'} since {c.at.isoformat()}" for name, c in profile.consents.items()]
        if profile is not None
        else []
    )
    return {
        "member_id": member.member_id,
        "state": member.state,
        "name": member.holder,
        "email": profile.email if profile else None,
        "phone": profile.phone if profile else None,
        "country": profile.country if profile else None,
        "consents": consents,
        "forgotten_at": member.forgotten_at,
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }


def _emit_member(member: Member, fmt: Format) -> None:
    if fmt is Format.json:
        consents = member.profile.consents if member.profile is not None else {}
        emit_json(member_record(member) | {"consents": {n: c.model_dump() for n, c in consents.items()}})
    else:
        emit_mapping(member_record(member), fmt)


def _operator(context: AppContext, given: str | None) -> str:
    operator = given or run_guarded(lambda: context.settings).operator
    if operator is None:
        fail("who is asking: give --operator ID, or set LOYALTY_OPERATOR (an operator id, never a name)", 2)
    return operator


@app.command("add")
@formatted
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="The member's name.")],
    email: EmailOption = None,
    phone: PhoneOption = None,
    country: CountryOption = None,
    consent: ConsentOption = None,
    *,
    fmt: Format,
) -> None:
    """Register a member; prints only the new member's id (random, the id to use on the ledger as customer)."""

    given = _consents(consent)
    registry = run_guarded(app_context(ctx).members)
    member = run_guarded(lambda: registry.add(name, email=email, phone=phone, country=country, consents=given))
    if fmt is Format.table:
        typer.echo(member.member_id)
    else:
        emit_mapping({"member_id": member.member_id}, fmt)


@app.command("show")
@formatted
def show_member(ctx: typer.Context, member: MemberArgument, *, fmt: Format) -> None:
    """A member's profile, decrypted; a forgotten member shows as forgotten, with its pseudonym."""

    registry = run_guarded(app_context(ctx).members)
    _emit_member(run_guarded(lambda: registry.show(member)), fmt)


@app.command("update")
@formatted
def update(
    ctx: typer.Context,
    member: MemberArgument,
    name: NameOption = None,
    email: EmailOption = None,
    phone: PhoneOption = None,
    country: CountryOption = None,
    consent: ConsentOption = None,
    clear: Annotated[
        Optional[list[str]], typer.Option("--clear", help="Remove a field: email, phone or country (repeatable).")
    ] = None,
    *,
    fmt: Format,
) -> None:
    """Change a member's profile (sealed again); consents given are dated now. Exit 1 for a forgotten member."""

    wanted = run_guarded(
        lambda: changes({"name": name, "email": email, "phone": phone, "country": country}, _consents(consent), tuple(clear or ()))
    )
    registry = run_guarded(app_context(ctx).members)
    _emit_member(run_guarded(lambda: registry.update(member, wanted)), fmt)


@app.command("forget")
@formatted
def forget(
    ctx: typer.Context, member: MemberArgument, reason: ReasonOption, operator: OperatorOption = None, *, fmt: Format
) -> None:
    """Erase a member: destroy its key and profile; the ledger, its balances and reports stay as they were."""

    context = app_context(ctx)
    actor = _operator(context, operator)
    registry = run_guarded(context.members)
    erasure = run_guarded(lambda: registry.forget(member, actor=actor, reason=reason))
    emit_mapping(
        {
            "member_id": erasure.member_id,
            "state": "forgotten",
            "pseudonym": erasure.pseudonym,
            "forgotten_at": erasure.forgotten_at,
            "replayed": erasure.replayed,
            "audit_id": erasure.audit.audit_id if erasure.audit else None,
        },
        fmt,
    )


@app.command("export")
@formatted
def export(
    ctx: typer.Context,
    member: MemberArgument,
    out: Annotated[Path, typer.Option("--out", help="The JSON file to write (replaced; mode 0600); '-': stdout.")],
    reason: ReasonOption,
    operator: OperatorOption = None,
    *,
    fmt: Format,
) -> None:
    """Write a member's data-access file: profile, consents, full points statement, tier history (JSON)."""

    context = app_context(ctx)
    actor = _operator(context, operator)
    registry = run_guarded(context.members)
    program, reports = run_guarded(context.program), run_guarded(context.reports)
    now = datetime.now(timezone.utc)
    to_stdout = str(out) == "-"
    pending = None if to_stdout else _open_private(out)  # a place the file cannot go is refused before the export is audited
    try:
        document = run_guarded(
            lambda: export_member(registry, program, reports, member, actor=actor, reason=reason, now=now)
        )
    except BaseException:
        if pending is not None:
            os.close(pending[0])
            pending[1].unlink(missing_ok=True)
        raise
    text = json.dumps(document.document(), indent=2, ensure_ascii=False) + "\n"
    if pending is None:
        typer.echo(text, nl=False)
        return
    _finish_private(pending, out, text)
    emit_mapping(
        {
            "member_id": document.member_id,
            "file": str(out),
            "state": document.state,
            "statement_lines": len(document.statement.lines) if document.statement else 0,
            "tier_changes": len(document.tier_history),
            "audit_id": document.audit_id,
        },
        fmt,
    )


@app.command("statement")
@formatted
def statement(
    ctx: typer.Context,
    member: MemberArgument,
    start: FromOption = None,
    end: ToOption = None,
    days: Annotated[int, typer.Option("--days", min=0, help="List points expiring within this many days after --to.")] = DEFAULT_HORIZON_DAYS,
    *,
    fmt: Format,
) -> None:
    """A member's points statement headed with the member's name, or its pseudonym once forgotten."""

    first, last = _window(start, end)
    context = app_context(ctx)
    registry = run_guarded(context.members)
    holder = run_guarded(lambda: registry.show(member)).holder
    report = run_guarded(lambda: context.reports().statement(member, first, last, horizon_days=days))
    print_statement(report, fmt, holder=holder)


@app.command("audit")
@formatted
def audit(
    ctx: typer.Context,
    member: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Only this member's records.")] = None,
    *,
    fmt: Format,
) -> None:
    """The audit of erasures and exports: who (operator id), when, what, why (reason code), which member."""

    registry = run_guarded(app_context(ctx).members)
    rows = [record.model_dump() for record in run_guarded(lambda: registry.audit(member))]
    emit_rows(rows, fmt, columns=AUDIT_COLUMNS)


@app.command("compact")
@formatted
def compact(ctx: typer.Context, *, fmt: Format) -> None:
    """Rewrite the registry's member tables (VACUUM FULL, then CHECKPOINT) so erased rows' bytes leave their files."""

    registry = run_guarded(app_context(ctx).members)
    run_guarded(registry.compact)
    emit_mapping({"compacted": True}, fmt)


def _open_private(path: Path) -> tuple[int, Path]:
    """A new file beside ``path``, readable by its owner only (it will hold personal data): its descriptor and
    name. Exit 2 when ``path`` is empty, a folder, or in a folder that cannot take a file."""

    if not str(path).strip() or path.is_dir():
        fail(f"--out {str(path)!r}: name a file (or '-' for stdout)", 2)
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(descriptor, 0o600)
    except OSError as exc:
        fail(f"--out {path}: {exc.strerror or exc}", 2)
    return descriptor, Path(name)


def _finish_private(pending: tuple[int, Path], path: Path, text: str) -> None:
    """Write ``text`` to the new file and put it in ``path``'s place whole (never a half-written file there)."""

    descriptor, name = pending
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except OSError as exc:
        name.unlink(missing_ok=True)
        fail(f"--out {path}: {exc.strerror or exc} (the export was audited; nothing was written)", 2)


__all__ = ["app", "member_record"]
