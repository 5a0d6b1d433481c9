"""Revenue estimate: record, on the ledger, the estimates the IFRS 15 / ASC 606 revenue schedule uses from an instant on (template ``revenue_estimate``).

An estimate holds what finance approved for the points' share of revenue
(:mod:`loyalty_accounts.reports.revenue` applies it):

- ``breakage_rate``: the share of points expected never to be redeemed
  (0 ≤ rate < 1). It prices the stand-alone selling price (SSP) of a point,
  ``point_value × (1 − breakage_rate)``, for the orders placed while it is in
  force, and it drives recognition of breakage under the proportional method;
- ``constrained_rate`` (optional, ≤ ``breakage_rate``): the breakage that is
  highly probable not to reverse (the variable-consideration constraint);
  recognition uses it instead of ``breakage_rate``, the SSP does not;
- ``method``: ``proportional`` (expected breakage recognised in proportion to
  redemptions) or ``remote`` (breakage recognised only when points expire);
- ``fx``: exchange rates, money-asset units per unit of each other currency
  orders are placed in, used to translate the orders placed while the estimate
  is in force (at that rate for good: a contract liability is not revalued);
- ``approved_by``: who approved it (a role or staff id, not a name), and an
  optional ``reason`` code.

The transaction is dated at the estimate's ``effective`` instant, so a report
of a period reads the estimates in force in it, and a change inside a period
is that period's cumulative catch-up. Its reference names the instant: one
estimate per instant, a replay of the same one is answered with the
original, a different one at the same instant is refused by the ledger. Like
every transaction it checks the closed-period mark, so no estimate can be
dated into closed books. Nothing's balance changes: one control unit goes
from ``program:revenue:estimates`` to itself.

Worked example: 20 % breakage, proportional, EUR at 1.0850 USD, from
2026-01-01T00:00:00Z, approved by ``cfo``::

    program:revenue:estimates  1 CTL → program:revenue:estimates

    reference "revenue_estimate:20260101T000000.000000Z"; metadata
    effective=2026-01-01T00:00:00Z, breakage_rate=0.2, method=proportional,
    approved_by=cfo, fx_EUR=1.085
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal, Mapping

from pydantic import Field, field_validator, model_validator

from ..chart import Chart
from ..errors import InvalidCommand
from ..numscript import Catalogue, monetary
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.amounts import NOT_A_FLOAT
from ..vocabulary.frozen import Frozen, Value
from ..vocabulary.ids import BusinessKey, ReasonCode
from ..vocabulary.instants import Instant, iso_instant, parse_instant, utc
from ..vocabulary.quoting import quoted
from .base import Command, plan_command
from .entry import Operation, Writes
from .period_close import INSTANT_FORMAT

TEMPLATE = "revenue_estimate"
METHODS = ("proportional", "remote")
Method = Literal["proportional", "remote"]
FX_PREFIX = "fx_"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

Rate = Annotated[Decimal, NOT_A_FLOAT]


RATE_PLACES = 6
"""A breakage rate has at most six decimals (a ten-thousandth of a per cent): a finer one is refused, never rounded."""
FX_PLACES = 10
FX_LIMIT = Decimal(10) ** 6
"""An exchange rate has at most ten decimals and is at most a million units of the programme's currency per unit."""


def _exact(value: Decimal, *, places: int, what: str) -> Decimal:
    """``value`` without trailing zeros (``0.20`` → ``0.2``: the same rate typed twice is the same estimate).

    Raises ValueError when it has more than ``places`` decimals: what finance approved is stored as
    typed, never rounded.
    """

    if not value.is_finite():
        raise ValueError(f"{what} must be a number, not {value}")
    sign, digits, exponent = value.as_tuple()
    while digits and exponent < 0 and digits[-1] == 0:  # drop trailing zeros exactly (normalize() rounds to 28 digits)
        digits, exponent = digits[:-1], exponent + 1
    if exponent < -places:
        raise ValueError(f"{what} {value} has more than {places} decimals")
    if exponent > 0:
        digits, exponent = digits + (0,) * exponent, 0
    return Decimal((sign, digits or (0,), exponent))


class Estimates(Value):
    """The estimates themselves: what the revenue schedule applies (see the module docstring)."""

    breakage_rate: Rate
    constrained_rate: Rate | None = None
    method: Method = "proportional"
    fx: tuple[tuple[Annotated[str, Field(pattern=CURRENCY_PATTERN)], Rate], ...] = ()
    """(currency, money-asset units per unit of it), sorted by currency."""

    @field_validator("breakage_rate", "constrained_rate")
    @classmethod
    def _a_share(cls, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        if not value.is_finite() or not Decimal(0) <= value < Decimal(1):
            raise ValueError(f"a breakage rate is a share from 0 up to (not including) 1 (0% to 99.9999%), not {value}")
        return _exact(value, places=RATE_PLACES, what="a breakage rate")

    @field_validator("fx")
    @classmethod
    def _rates(cls, value: tuple[tuple[str, Decimal], ...]) -> tuple[tuple[str, Decimal], ...]:
        seen: set[str] = set()
        for currency, rate in value:
            if currency in seen:
                raise ValueError(f"exchange rate of {currency} given twice")
            seen.add(currency)
            if not rate.is_finite() or not Decimal(0) < rate <= FX_LIMIT:
                raise ValueError(f"exchange rate of {currency} must be above 0 and at most {FX_LIMIT}, not {rate}")
        return tuple(sorted((currency, _exact(rate, places=FX_PLACES, what=f"exchange rate of {currency}")) for currency, rate in value))

    @model_validator(mode="after")
    def _constraint_within_rate(self) -> "Estimates":
        if self.constrained_rate is not None and self.method == "remote":
            raise ValueError("a constrained rate applies to the proportional method only: the remote method recognises no breakage before expiry")
        if self.constrained_rate is not None and self.constrained_rate > self.breakage_rate:
            raise ValueError(
                f"constrained_rate {self.constrained_rate} may not exceed breakage_rate {self.breakage_rate}: "
                "the constraint only ever recognises less breakage"
            )
        return self

    @property
    def recognition_rate(self) -> Decimal:
        """The breakage rate recognition uses: the constrained one when given."""

        return self.constrained_rate if self.constrained_rate is not None else self.breakage_rate

    def rate_of(self, currency: str) -> Decimal | None:
        """Money-asset units per unit of ``currency``; None when this estimate gives no rate for it."""

        return dict(self.fx).get(currency)


class RevenueEstimateCommand(Command):
    """Record ``estimates`` as in force from ``effective`` on, approved by ``approved_by``."""

    operation = "revenue_estimate"
    processing_fields = frozenset()
    optional_fields = frozenset({"reason"})
    effective: Instant
    estimates: Estimates
    approved_by: BusinessKey
    reason: ReasonCode | None = None

    def reference(self) -> str:
        """``revenue_estimate:{effective, to the microsecond}``: one estimate per instant."""

        return f"{self.operation}:{utc(self.effective).strftime(INSTANT_FORMAT)}"

    def dated(self) -> datetime | None:
        return self.effective



class RevenueEstimate(Frozen):
    """An estimate recorded on the ledger: its instant, its content, who approved it, its transaction."""

    effective: datetime
    estimates: Estimates
    approved_by: str
    reason: str | None
    transaction_id: int
    recorded_at: datetime | None
    """When the ledger inserted it (None when the ledger does not say)."""

    @classmethod
    def of(cls, tx: PostedTransaction) -> "RevenueEstimate":
        """The estimate a ``revenue_estimate`` transaction records (InvalidCommand if its metadata is malformed)."""

        m = tx.metadata
        try:
            estimates = Estimates(
                breakage_rate=Decimal(m["breakage_rate"]),
                constrained_rate=Decimal(m["constrained_rate"]) if "constrained_rate" in m else None,
                method=m["method"],  # type: ignore[arg-type]
                fx=tuple((key[len(FX_PREFIX):], Decimal(value)) for key, value in m.items() if key.startswith(FX_PREFIX)),
            )
            effective = parse_instant(m["effective"], timezone.utc, what="effective")
            return cls(
                effective=effective,
                estimates=estimates,
                approved_by=m["approved_by"],
                reason=m.get("reason"),
                transaction_id=tx.id,
                recorded_at=tx.inserted_at,
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise InvalidCommand(f"revenue estimate #{tx.id} has malformed metadata: {exc}") from None


def metadata_of(command: RevenueEstimateCommand) -> dict[str, str]:
    """The metadata the estimate's transaction carries (see the module's worked example)."""

    e = command.estimates
    out = {
        "effective": iso_instant(command.effective),
        "breakage_rate": str(e.breakage_rate),
        "method": e.method,
        "approved_by": command.approved_by,
    }
    if e.constrained_rate is not None:
        out["constrained_rate"] = str(e.constrained_rate)
    if command.reason is not None:
        out["reason"] = command.reason
    out.update({f"{FX_PREFIX}{currency}": str(rate) for currency, rate in e.fx})
    return out


def plan(command: RevenueEstimateCommand, chart: Chart, catalogue: Catalogue, state: None) -> TransactionPlan:
    """The estimate's transaction. Raises InvalidCommand when an exchange rate is given for the money asset's own currency."""

    if command.estimates.rate_of(chart.money_currency) is not None:
        raise InvalidCommand(f"no exchange rate is needed for {chart.money_currency}, the programme's own currency")
    accepted = chart.spec.policies.currencies
    unknown = [currency for currency, _ in command.estimates.fx if currency not in accepted]
    if unknown:
        raise InvalidCommand(
            f"--fx {', '.join(unknown)}: orders are not accepted in it (the chart's currencies: {', '.join(sorted(accepted))})"
        )
    estimates = chart.address("revenue_estimates")
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={"one": monetary(chart.control_asset, 1), "estimates": estimates},
        metadata=metadata_of(command),
        timestamp=command.effective,
    )


def parse_rate(text: str, *, option: str) -> Decimal:
    """A share typed as ``0.2``, ``0.20`` or ``20%``; InvalidCommand naming ``option`` otherwise."""

    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = Decimal(raw[:-1].strip() if percent else raw)
    except InvalidOperation:
        raise InvalidCommand(f"{option} {quoted(text)} is not a rate: write 0.2 or 20%") from None
    if not value.is_finite():
        raise InvalidCommand(f"{option} {quoted(text)} is not a rate: write 0.2 or 20%")
    return value.scaleb(-2) if percent else value


def parse_fx(items: Mapping[str, str] | list[str]) -> tuple[tuple[str, Decimal], ...]:
    """``["EUR=1.085", ...]`` as (currency, rate) pairs; InvalidCommand on a malformed item."""

    out = []
    for item in items:
        currency, sep, rate = str(item).partition("=")
        if not sep:
            raise InvalidCommand(f"--fx {quoted(item)}: write CURRENCY=RATE, e.g. EUR=1.085 (units of the programme's currency per EUR)")
        try:
            out.append((currency.strip().upper(), Decimal(rate.strip())))
        except InvalidOperation:
            raise InvalidCommand(f"--fx {quoted(item)}: {quoted(rate.strip())} is not a number") from None
    return tuple(out)


OPERATION: Operation[RevenueEstimateCommand, None] = Operation(
    command=RevenueEstimateCommand,
    templates=(TEMPLATE,),
    read=lambda command, reading: None,
    plan=plan,
    writes=Writes(
        required=frozenset({"effective", "breakage_rate", "method", "approved_by"}),
        optional=frozenset({"constrained_rate", "reason"}),
        optional_prefixes=(FX_PREFIX,),
    ),
)
