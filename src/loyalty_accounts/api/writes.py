"""The API's writes: one table row per operation, each the same services the CLI calls.

A write's JSON body is its command's own fields (the command validates them: a bad one is a 400 naming
the field, never repeating a value that looks like personal data); an instant left out (``at``, an
earn's ``ordered_at``) is the moment the request is handled, and, as on the command line, is then not
part of what the command is, so a retry a moment later is the same command. Amounts of money are
strings (``{"amount": "12.50", "currency": "USD"}``), never JSON numbers (binary floating point).

==================  =====================  =================  ===========================================
path                operation              scope              body
==================  =====================  =================  ===========================================
POST /earn          earn                   pos:earn           customer, order_id, amount, ordered_at?,
                                                              category?, channel?
POST /refunds       refund                 pos:earn           customer, order_id, refund_id, amount, at?
POST /holds         hold                   checkout:spend     customer, hold_id, points, at?
POST /captures      capture                checkout:spend     customer, hold_id, points, at?
POST /voids         void                   checkout:spend     customer, hold_id
POST /redemptions   redeem                 checkout:spend     customer, redemption_id, points?, reward?, at?
                                                              (reward a catalogue SKU: priced by the
                                                              catalogue when points are left out)
POST /exchanges/out exchange_out           partner:PARTNER    customer, exchange_id, partner, partner_points, at?
POST /exchanges/in  exchange_in            partner:PARTNER    (the same)
POST /transfers     transfer               admin              customer, to_customer, transfer_id, points, at?
POST /conversions   convert                admin              customer, conversion_id, points, at?
POST /adjustments   adjust                 admin              customer, adjustment_id, direction, points, reason, at?
POST /engagements   engage                 admin              customer, event, key, at?
POST /releases      release (sweep)        admin              as_of?, customer?
POST /expiries      expire (sweep)         admin              as_of?, customer?
==================  =====================  =================  ===========================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, NamedTuple

from pydantic import BaseModel

from ..errors import InvalidCommand
from ..operations import (
    AdjustCommand,
    CaptureCommand,
    Command,
    ConvertCommand,
    EarnCommand,
    EngageCommand,
    ExchangeInCommand,
    ExchangeOutCommand,
    HoldCommand,
    RedeemCommand,
    RefundCommand,
    TransferCommand,
    VoidCommand,
)
from ..program import LoyaltyProgram
from ..services.results import BatchResult, OperationResult
from ..vocabulary.frozen import Value
from ..vocabulary.instants import SweepInstant
from ..vocabulary.ids import CustomerId
from ..vocabulary.personal_data import not_repeated

__all__ = ["WRITES", "Sweep", "Write", "build", "business_key", "required_scope"]


class Sweep(Value):
    """A sweep's request: as of when (default: now), for one customer or all."""

    as_of: SweepInstant | None = None
    customer: CustomerId | None = None


Call = Callable[[LoyaltyProgram, Any], OperationResult | BatchResult]


class Write(NamedTuple):
    path: str
    operation: str
    model: type[BaseModel]
    scope: str
    """The scope needed; ``partner:*``: the partner the body names."""
    call: Call
    clock_fields: tuple[str, ...] = ("at",)
    """Instants filled with the request's moment when left out."""
    summary: str = ""


WRITES: tuple[Write, ...] = (
    Write("/earn", "earn", EarnCommand, "pos:earn", lambda p, c: p.earn(c), ("ordered_at",), "Award points for an order"),
    Write("/refunds", "refund", RefundCommand, "pos:earn", lambda p, c: p.refund(c), summary="Take back an order's points in proportion"),
    Write("/holds", "hold", HoldCommand, "checkout:spend", lambda p, c: p.hold(c), summary="Reserve points"),
    Write("/captures", "capture", CaptureCommand, "checkout:spend", lambda p, c: p.capture(c), summary="Spend all or part of a hold"),
    Write("/voids", "void", VoidCommand, "checkout:spend", lambda p, c: p.void(c.customer, c.hold_id), (), "Release a hold"),
    Write("/redemptions", "redeem", RedeemCommand, "checkout:spend", lambda p, c: p.redeem(c), summary="Spend points on a reward"),
    Write("/exchanges/out", "exchange_out", ExchangeOutCommand, "partner:*", lambda p, c: p.exchange_out(c), summary="Our points to a partner"),
    Write("/exchanges/in", "exchange_in", ExchangeInCommand, "partner:*", lambda p, c: p.exchange_in(c), summary="A partner's points to ours"),
    Write("/transfers", "transfer", TransferCommand, "admin", lambda p, c: p.transfer(c), summary="Give points to another member"),
    Write("/conversions", "convert", ConvertCommand, "admin", lambda p, c: p.convert(c), summary="Convert points to store credit"),
    Write("/adjustments", "adjust", AdjustCommand, "admin", lambda p, c: p.adjust(c), summary="Credit or debit points with a reason"),
    Write("/engagements", "engage", EngageCommand, "admin", lambda p, c: p.engage(c.customer, c.event, c.key, c.at), summary="Award an engagement event"),
    Write("/releases", "release", Sweep, "admin", lambda p, c: p.release(c.as_of, customer=c.customer), ("as_of",), "Release due pending points"),
    Write("/expiries", "expire", Sweep, "admin", lambda p, c: p.expire(c.as_of, customer=c.customer), ("as_of",), "Expire due buckets"),
)
"""Every write of the API (see the module docstring)."""


def build(write: Write, body: Any, now: datetime) -> Any:
    """The command (or sweep) ``body`` describes, instants left out filled with ``now``.

    Raises InvalidCommand for a body that is not a JSON object, a field the command does not have, or a field's value.
    """

    if not isinstance(body, Mapping):
        raise InvalidCommand("the request body must be a JSON object")
    fields = {name for name in write.model.model_fields if name != "unstated"}
    unknown = sorted(set(body) - fields)
    if unknown:
        hidden = not_repeated(unknown[0])
        named = f"({hidden})" if hidden is not None else repr(unknown[0])
        raise InvalidCommand(f"{write.operation}: no field {named} (fields: {', '.join(sorted(fields))})")
    data = dict(body)
    clocked = {name for name in write.clock_fields if data.get(name) is None}
    moment = now.replace(microsecond=0) if write.model is Sweep else now  # a sweep's instant is whole seconds
    for name in clocked:
        data[name] = moment
    if issubclass(write.model, Command) and "unstated" in write.model.model_fields:
        # "now" is not what the command is: a retry a moment later must be the same command.
        data["unstated"] = frozenset(clocked - set(write.model.processing_fields))
    return write.model(**data)


def business_key(write: Write, command: Any) -> str:
    """What the write's idempotency key is bound to: the command's business key, or a sweep's instant and customer."""

    if isinstance(command, Command) and command.key_field is not None:
        return str(getattr(command, command.key_field))
    return f"{getattr(command, 'as_of', '')}:{getattr(command, 'customer', None) or '*'}"


def required_scope(write: Write, command: Any) -> str:
    """The scope the write needs: its own, or for an exchange the partner's it names."""

    if write.scope == "partner:*":
        return f"partner:{command.partner}"
    return write.scope
