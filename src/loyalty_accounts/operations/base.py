"""What every operation shares: command value types and the one way a plan is built.

Commands are frozen pydantic models checked when they are made; a bad field
raises :class:`~loyalty_accounts.errors.InvalidCommand` naming the field, so
nothing malformed gets as far as a plan. :func:`build_plan` is the single
exit: it binds the template (exactly the declared vars), refuses any account
the chart does not declare and any overdraft on an account the chart says may
not go negative. ``Command.fingerprint`` gives the plan's ``command_hash``.

What enters the fingerprint is what the command *is*, never when or by whom
it was sent: a retry of the same command must find the same hash. So
``processing_fields`` (``at``: when it is processed) never enter it, and a
business field the caller left out and that was filled in with the clock
(an earn's ``ordered_at`` without ``--ordered-at``) is named in ``unstated``
and left out too. Sweeps (release, expire) keep their as-of instant to the
whole second their references name.

Plans reach :func:`build_plan` through one of two doors: :func:`plan_command`
for a command posting one transaction (its reference and fingerprint are the
command's own), :func:`plan_sweep` for one due account of a sweep
(:class:`SweepCommand`: the reference and fingerprint name the account).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Mapping, Sequence

from pydantic import Field, field_validator

from ..chart import BASE, Chart
from ..errors import ChartError, InvalidCommand
from ..numscript import Catalogue, VarValue
from ..types import TransactionPlan, command_fingerprint
from ..vocabulary.frozen import Value, title_of
from ..vocabulary.ids import CustomerId
from ..vocabulary.instants import SweepInstant, iso_instant, stamp, utc
from ..vocabulary.personal_data import PersonalDataPort, refusal, screened

RESERVED_METADATA = frozenset({"operation", "template", "command_hash"})
"""Keys :meth:`TransactionPlan.all_metadata` adds to every plan (a plan's own metadata may not use them)."""

GUARD_METADATA = frozenset({"sequence"})
"""Keys the executor's guard (:mod:`.guard`) adds to the transactions it posts on customers."""


def keyed_reference(operation: str, key: str) -> str:
    """The reference of an operation's transaction for one business key: ``{operation}:{key}``.

    The one place the format lives: :meth:`Command.reference` uses it, and so do
    the operation modules naming the reference of a transaction they look up
    (``earn.earn_reference(order_id)``, ``capture.capture_reference(hold_id)``...).
    """

    return f"{operation}:{key}"


def metadata_filter(operation: str, **fields: str) -> dict[str, str]:
    """The metadata query finding an operation's transactions (``operation`` is the key every plan writes)."""

    return {"operation": operation, **fields}


class Command(Value):
    """Base of every operation's command. ``operation`` names it in references and hashes."""

    operation: ClassVar[str]
    # When the command is processed is not what it is: a retry a second later
    # with the same business key must be recognised as the same command.
    processing_fields: ClassVar[frozenset[str]] = frozenset({"at"})
    # The field holding the caller's business key; operations posting several
    # transactions per command (release, expire) build per-bucket references.
    key_field: ClassVar[str | None] = None
    # Optional fields added after commands of this kind were first posted:
    # left out of the fingerprint while unset, so an old command replayed
    # unchanged still matches the hash stored with its transaction.
    optional_fields: ClassVar[frozenset[str]] = frozenset()

    unstated: frozenset[str] = Field(default=frozenset(), exclude=True)
    """Fields the caller did not give and that were filled in with the clock when the command
    was made (e.g. ``ordered_at`` when the CLI ran without ``--ordered-at``). Left out of the
    fingerprint: the same command sent again a moment later, again without them, is the same
    command, and is answered with the original transaction. A stated value always counts."""

    @field_validator("unstated")
    @classmethod
    def _unstated_are_fields(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - (set(cls.model_fields) - {"unstated"}))
        if unknown:
            raise ValueError(f"not fields of this command: {', '.join(unknown)}")
        return value

    def customers(self) -> tuple[str, ...]:
        """The customers whose accounts the command's transaction moves (guarded by their sequence counters)."""

        customer = getattr(self, "customer", None)
        return (customer,) if isinstance(customer, str) else ()

    def dated(self) -> datetime | None:
        """The instant the command's transaction is dated at; None: dated by the ledger when posted."""

        for name in ("ordered_at", "at", "as_of"):
            value = getattr(self, name, None)
            if isinstance(value, datetime):
                return value
        return None

    def in_the_past(self) -> tuple[str, datetime] | None:
        """An instant the command names that must be before now (what it is, the instant); None: none.

        The executor refuses the command (InvalidCommand) when that instant is
        not before its clock: a period close through the present or future.
        """

        return None

    def reference(self) -> str:
        """The Formance reference of the command's transaction: ``{operation}:{business key}``."""

        if self.key_field is None:
            raise TypeError(f"{type(self).__name__} posts several transactions; it has no single reference")
        return keyed_reference(self.operation, getattr(self, self.key_field))

    @field_validator("*", mode="after")
    @classmethod
    def _instants_in_utc(cls, value: Any) -> Any:
        # The same instant written with another offset is the same command.
        if isinstance(value, datetime):
            return utc(value)
        return value

    def recorded_by(self, metadata: Mapping[str, str]) -> bool:
        """Whether the transaction with ``metadata`` (under this command's reference) was posted for this
        command: its ``command_hash`` is this command's fingerprint. A command written in more than one
        way extends it."""

        return metadata.get("command_hash") == self.fingerprint()

    def fingerprint(self, **extra: str) -> str:
        """types.command_fingerprint of the command's business fields (and ``extra``)."""

        unset = {name for name in self.optional_fields if getattr(self, name) is None}
        fields = self.model_dump(mode="json", exclude=set(self.processing_fields) | unset | set(self.unstated))
        payload: dict[str, Any] = {"operation": self.operation, **fields, **extra}
        return command_fingerprint(payload)


def build_plan(
    *,
    chart: Chart,
    catalogue: Catalogue,
    operation: str,
    template: str,
    values: Mapping[str, VarValue],
    reference: str,
    command_hash: str,
    metadata: Mapping[str, str],
    timestamp: datetime | None,
) -> TransactionPlan:
    """Bind the template and check every account against the chart before making the plan.

    Raises ChartError for an undeclared account, an overdraft the chart forbids or reserved metadata;
    InvalidCommand when a value the plan would write looks like personal data (:func:`refuse_personal_data`).
    """

    tpl = catalogue.get(template)
    bound = tpl.bind(values)
    for decl in tpl.vars:
        if decl.type != "account":
            continue
        raw = values[decl.name]
        addresses = [raw] if isinstance(raw, str) else list(raw)
        for address in addresses:
            kind = chart.kind_of(address)
            if decl.name in tpl.overdraft_vars and not kind.may_go_negative:
                raise ChartError(
                    f"template {template!r} lets ${decl.name} overdraw {address!r}, "
                    f"but accounts.{kind.name} may not go negative"
                )
    for key, value in metadata.items():
        if key in RESERVED_METADATA or key in GUARD_METADATA:
            raise ChartError(f"metadata key {key!r} is reserved")
        if not isinstance(value, str):
            raise ChartError(f"metadata {key!r} must be a string, got {type(value).__name__}")
    plan = TransactionPlan(
        operation=operation,
        template=template,
        script=bound.script,
        vars=dict(bound.vars),
        reference=reference,
        command_hash=command_hash,
        metadata=dict(metadata),
        timestamp=timestamp,
    )
    refuse_personal_data(plan)
    return plan


def written_values(plan: TransactionPlan) -> dict[str, str]:
    """Every text ``plan`` writes to the ledger, named by where it goes.

    ``{"reference": ..., "metadata customer": ..., "$source": "customers:c42:points:20261002", ...}``:
    the reference, each metadata value (its key), each template variable (accounts, amounts).
    """

    values = {"reference": plan.reference}
    values.update({f"metadata {key}": value for key, value in plan.all_metadata().items()})
    values.update({f"${name}": value for name, value in plan.vars.items()})
    return values


def refuse_personal_fields(command: Command, port: PersonalDataPort | None = None) -> None:
    """InvalidCommand (exit 2) when a text field of ``command`` (a customer id, a business key, a reason,
    a reward...) looks like personal data, by pattern and by ``port`` (the member registry, when given):
    refused before anything is read or posted, naming the field, never the value."""

    refuse_personal_commands([command], port)


def refuse_personal_commands(commands: Sequence[Command], port: PersonalDataPort | None = None) -> None:
    """:func:`refuse_personal_fields` for several commands of one kind screened at once (a sweep's, one per
    customer: one registry query per kind for all). InvalidCommand names the field and the kind of command
    (``refused: personal data in the expire command (customer looks like a member name)...``), never the
    value nor whose command it was."""

    texts = {f"{i} {name}": value for i, command in enumerate(commands) for name, value in command if isinstance(value, str)}
    found = screened(texts, port) if texts else {}
    if found:
        fields = {key.split(" ", 1)[1]: kind for key, kind in sorted(found.items())}
        raise InvalidCommand(refusal(fields, f"the {title_of(type(commands[0]))}"))


def refuse_personal_data(plan: TransactionPlan) -> None:
    """InvalidCommand (exit 2) when a value ``plan`` writes looks like an email or a phone number (the patterns
    of :mod:`~loyalty_accounts.vocabulary.personal_data`). The message names where, never the value.

    The member registry's check is made on the command (:func:`refuse_personal_fields`), where a plan's
    caller-given values come from."""

    found = screened(written_values(plan))
    if found:
        raise InvalidCommand(refusal(found, f"the {plan.operation} transaction"))


def plan_command(
    command: Command,
    chart: Chart,
    catalogue: Catalogue,
    *,
    template: str,
    values: Mapping[str, VarValue],
    metadata: Mapping[str, str],
    timestamp: datetime | None,
) -> TransactionPlan:
    """:func:`build_plan` for a command posting one transaction: its operation, reference and fingerprint."""

    return build_plan(
        chart=chart,
        catalogue=catalogue,
        operation=command.operation,
        template=template,
        values=values,
        reference=command.reference(),
        command_hash=command.fingerprint(),
        metadata=metadata,
        timestamp=timestamp,
    )


class SweepCommand(Command):
    """Base of a sweep's command (release, expire): one customer's accounts due on ``as_of``.

    A sweep posts one transaction per due account (:func:`plan_sweep`), so it
    has no single reference; its run's instant is its business content.
    """

    customer: CustomerId
    as_of: SweepInstant


def kind_metadata(kind: str) -> dict[str, str]:
    """``point_kind`` for the metadata of a transaction moving points of a kind other than base (base: none)."""

    return {} if kind == BASE else {"point_kind": kind}


def plan_sweep(
    command: SweepCommand,
    chart: Chart,
    catalogue: Catalogue,
    *,
    template: str,
    values: Mapping[str, VarValue],
    segments: Mapping[str, str],
    metadata: Mapping[str, str],
) -> TransactionPlan:
    """:func:`build_plan` for one due account of a sweep, named by the account's date ``segments``.

    The reference is ``{operation}:{as_of stamp}:{customer}:{segment}...``
    (e.g. ``expire:20260930T030000Z:c42:20260930``), the command hash the
    command's fingerprint with the segments, the metadata ``customer``, then
    ``metadata``, then ``as_of``; the transaction is dated at the as-of instant.
    """

    return build_plan(
        chart=chart,
        catalogue=catalogue,
        operation=command.operation,
        template=template,
        values=values,
        reference=":".join((command.operation, stamp(command.as_of), command.customer, *segments.values())),
        command_hash=command.fingerprint(**segments),
        metadata={"customer": command.customer, **metadata, "as_of": iso_instant(command.as_of)},
        timestamp=command.as_of,
    )
