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
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Mapping

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from ..chart import Chart, round_to
from ..errors import ChartError, InvalidCommand
from ..numscript import Catalogue, VarValue
from ..types import TransactionPlan, command_fingerprint

CUSTOMER_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
BUSINESS_KEY_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
# A hold id is also an address segment, and addresses do not allow '.'.
HOLD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
# Reasons are codes, not prose: metadata must never carry personal data.
REASON_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
PARTNER_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
# Codes the rules file names: order categories, channels, engagement events.
CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

CustomerId = Annotated[str, StringConstraints(pattern=CUSTOMER_PATTERN)]
BusinessKey = Annotated[str, StringConstraints(pattern=BUSINESS_KEY_PATTERN)]
HoldId = Annotated[str, StringConstraints(pattern=HOLD_ID_PATTERN)]
ReasonCode = Annotated[str, StringConstraints(pattern=REASON_PATTERN)]
PartnerKey = Annotated[str, StringConstraints(pattern=PARTNER_PATTERN)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Points = Annotated[int, Field(gt=0, strict=True)]

# Keys TransactionPlan.all_metadata adds itself.
RESERVED_METADATA = frozenset({"operation", "template", "command_hash"})


class InvalidValue(InvalidCommand, ValueError):
    """InvalidCommand that is also a ValueError, so pydantic reports it inside an enclosing command."""


def _describe(title: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(command)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            parts.append(f"{loc}: required")
        elif err["type"] == "value_error":
            parts.append(f"{loc}: {msg}")
        else:
            parts.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return f"invalid {title}: " + "; ".join(parts)


class Value(BaseModel):
    """A frozen model whose validation failures are InvalidCommand, not pydantic errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidValue(_describe(type(self).__name__, exc), details=exc.errors(include_context=False)) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise InvalidValue(_describe(cls.__name__, exc), details=exc.errors(include_context=False)) from None

    @classmethod
    def model_validate_json(cls, json_data: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            raise InvalidValue(_describe(cls.__name__, exc), details=exc.errors(include_context=False)) from None


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


# A timezone-aware instant; commands keep it in UTC.
Instant = AwareDatetime


class Money(Value):
    """A positive sum in a currency, e.g. 12.50 USD. Never a float."""

    amount: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must be a Decimal or a string, never a float")
        return value

    @field_validator("amount")
    @classmethod
    def _canonical(cls, value: Decimal) -> Decimal:
        # 12.50 and 12.5 are the same money and must fingerprint alike.
        return Decimal(format(value.normalize(), "f"))

    def decimals(self) -> int:
        exponent = self.amount.as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0

    def formatted(self, places: int) -> str:
        """The amount with exactly ``places`` decimals, as metadata shows it."""

        return str(round_to(self.amount, places, "half_even"))


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

    def reference(self) -> str:
        """The Formance reference of the command's transaction: ``{operation}:{business key}``."""

        if self.key_field is None:
            raise TypeError(f"{type(self).__name__} posts several transactions; it has no single reference")
        return f"{self.operation}:{getattr(self, self.key_field)}"

    @field_validator("*", mode="after")
    @classmethod
    def _instants_in_utc(cls, value: Any) -> Any:
        # The same instant written with another offset is the same command.
        if isinstance(value, datetime):
            return _utc(value)
        return value

    def fingerprint(self, **extra: str) -> str:
        """types.command_fingerprint of the command's business fields (and ``extra``)."""

        unset = {name for name in self.optional_fields if getattr(self, name) is None}
        fields = self.model_dump(mode="json", exclude=set(self.processing_fields) | unset | set(self.unstated))
        payload: dict[str, Any] = {"operation": self.operation, **fields, **extra}
        return command_fingerprint(payload)


def iso_instant(value: datetime) -> str:
    """An instant in metadata: UTC, ISO 8601 with a Z."""

    return _utc(value).isoformat().replace("+00:00", "Z")


def iso_day(value: date | None) -> str:
    """A bucket date in metadata: ``2027-01-01``, or ``never`` for points that do not expire."""

    return "never" if value is None else value.isoformat()


def stamp(value: datetime) -> str:
    """An instant inside a reference: ``20260301T101500Z``."""

    return _utc(value).strftime("%Y%m%dT%H%M%SZ")


def whole_second(value: datetime) -> datetime:
    """``value`` without its fraction of a second: the resolution of :func:`stamp`.

    A sweep's as-of instant is in its references to the second and in its
    fingerprint in full; kept to the second, two runs within one second (the
    CLI's default "now") are the same run instead of a clash.
    """

    return value.replace(microsecond=0)


SweepInstant = Annotated[AwareDatetime, AfterValidator(whole_second)]
"""The as-of instant of a sweep (release, expire), kept to the whole second (see :func:`whole_second`)."""


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
    """Bind the template and check every account against the chart before making the plan."""

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
        if key in RESERVED_METADATA:
            raise ChartError(f"metadata key {key!r} is reserved")
        if not isinstance(value, str):
            raise ChartError(f"metadata {key!r} must be a string, got {type(value).__name__}")
    return TransactionPlan(
        operation=operation,
        template=template,
        script=bound.script,
        vars=dict(bound.vars),
        reference=reference,
        command_hash=command_hash,
        metadata=dict(metadata),
        timestamp=timestamp,
    )
