"""What a domain event is: one thing a member's points did, as the ledger's log recorded it.

An event names the member by their opaque ledger id (never a profile field), the transaction and log
it comes from, and the points it moved; nothing else about the member. Its ``id`` is derived from the
hash of the log that recorded it (:func:`event_id`), so the same log always gives the same ids, whoever
derives them and however often, and no two logs of any ledger give the same one.

JSON shape (:meth:`DomainEvent.body` is what a webhook receives)::

    {"id": "ev_6f0c...", "type": "points.earned", "programme": "loyalty",
     "member": "c42", "member_sequence": 5,
     "log_id": 17, "index": 0, "transaction_id": 12,
     "reference": "earn:o-1001", "operation": "earn",
     "occurred_at": "2026-10-06T12:00:00Z", "recorded_at": "2026-10-06T12:00:01.25Z",
     "points": 120, "balance_change": 120,
     "details": {"order_id": "o-1001", "currency": "EUR", ...}}

``points`` is the operation's own figure (earned, held, redeemed...; see :data:`MEASURES`), always
positive except for the signed kinds (adjusted, reverted, moved); ``balance_change`` is the member's
net change of points over all their accounts (spendable, pending, held), signed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal, Mapping

from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import iso_instant

__all__ = ["EVENT_TYPES", "MEASURES", "DomainEvent", "EventPosition", "EventType", "event_id"]

EventType = Literal[
    "points.earned",
    "points.released",
    "points.held",
    "points.captured",
    "points.voided",
    "points.redeemed",
    "points.expired",
    "points.transferred",
    "points.exchanged",
    "points.converted",
    "points.refunded",
    "points.adjusted",
    "points.reverted",
    "points.moved",
    "tier.changed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
"""Every event type, in the order the README lists them."""

Measure = Literal["in", "out", "within", "net", "direction", "none"]
MEASURES: Mapping[str, Measure] = {
    "points.earned": "in",
    "points.released": "within",
    "points.held": "within",
    "points.captured": "out",
    "points.voided": "within",
    "points.redeemed": "out",
    "points.expired": "out",
    "points.transferred": "direction",
    "points.exchanged": "direction",
    "points.converted": "out",
    "points.refunded": "out",
    "points.adjusted": "net",
    "points.reverted": "net",
    "points.moved": "net",
    "tier.changed": "none",
}
"""What an event's ``points`` counts: points the member received from outside (``in``), gave outside
(``out``), moved between their own accounts (``within``: pending to spendable, spendable to a hold and
back), the signed net change (``net``), ``in`` or ``out`` by the event's direction, or nothing (0)."""

_ID_DOMAIN = b"loyalty-accounts event v1\n"


def event_id(log_hash: bytes, index: int) -> str:
    """The id of the ``index``-th event of the log whose stored hash is ``log_hash``: ``ev_`` and 32 hex digits.

    The log hash covers the log's content and every log before it (see :mod:`~loyalty_accounts.ledger.log_chain`),
    so the id names this event of this ledger's history and no other.
    """

    digest = hashlib.sha256(_ID_DOMAIN + log_hash + b"\n" + str(index).encode()).hexdigest()
    return "ev_" + digest[:32]


class EventPosition(Frozen):
    """Where an event sits in the stream: its log's id, then its index among that log's events."""

    log_id: int
    index: int = 0

    def after(self, other: "EventPosition") -> bool:
        return (self.log_id, self.index) > (other.log_id, other.index)


class DomainEvent(Frozen):
    """One event of the stream (see the module docstring for the JSON shape)."""

    id: str
    type: EventType
    programme: str
    member: str
    member_sequence: int | None
    """The member's operation number the transaction carries (the guard's counter: 1, 2, 3... per member,
    no gap); None for a transaction posted outside the operations (a revert, a manual posting)."""
    log_id: int
    index: int
    transaction_id: int
    reference: str | None
    operation: str | None
    occurred_at: datetime
    """The transaction's own instant (it may be back-dated)."""
    recorded_at: datetime
    """When the ledger wrote the log."""
    points: int
    balance_change: int
    details: Mapping[str, str]

    @property
    def position(self) -> EventPosition:
        return EventPosition(log_id=self.log_id, index=self.index)

    def document(self) -> dict[str, object]:
        """The event as a JSON value: instants in UTC ISO 8601 with ``Z``."""

        out = self.model_dump(mode="json")
        out["occurred_at"] = iso_instant(self.occurred_at)
        out["recorded_at"] = iso_instant(self.recorded_at)
        out["details"] = dict(sorted(self.details.items()))
        return out

    def body(self) -> bytes:
        """The bytes a webhook receives and the signature covers: compact JSON, keys in a fixed order."""

        return json.dumps(self.document(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
