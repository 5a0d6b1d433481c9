"""Domain events from the ledger's log: a pure function of one log, so the stream is the log, retold.

Each log of ``GET /v2/{ledger}/logs`` (Formance v2.4.12: ``NEW_TRANSACTION``, ``REVERTED_TRANSACTION``,
``SET_METADATA``, ``DELETE_METADATA``, ``INSERTED_SCHEMA``) gives zero or more events:

- a transaction gives one event per member whose points (the chart's points asset) it moves, in the
  order the members first appear in its postings; its type comes from the transaction's ``operation``
  metadata (:data:`BY_OPERATION`); a transaction moving a member's points without a known operation
  (posted by hand) is ``points.moved``; one moving no member's points (a sequence counter opened, an
  estimate recorded, a period closed) gives none;
- an earn or refund that recorded a tier change (``tier_change``, ``r_tier``, ``tier_after``) adds a
  ``tier.changed`` event after the member's points event, its details only the tiers and the direction;
- a revert gives the reversal's events: ``points.voided`` when the reverted transaction was a hold (how
  voids were once posted), else ``points.reverted``, with the reverted transaction's id and operation;
- a metadata change or a schema gives none: no points moved.

Nothing is announced that the log does not hold, and every log is read (:mod:`.stream` walks them in
id order), so nothing posted is missed. Details are the transaction's own metadata less the
bookkeeping keys, screened again for personal data (:func:`_details`), and so is the reference: a value
that looks like an email or a phone number, which the project's own writes never hold but a manual
posting might, is withheld rather than sent.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timezone
from typing import Any, Iterator, Mapping

from ..chart import Chart
from ..errors import LoyaltyError
from ..ledger import wire
from ..operations.guard import SEQUENCE_KEY
from ..reports.reverts import REVERT_METADATA_KEY
from ..services.earning import tier_change_of
from ..types import PostedTransaction
from ..vocabulary.instants import parse_instant
from ..vocabulary.personal_data import PersonalDataPort, personal_kind, screened
from .model import MEASURES, DomainEvent, EventType, event_id

__all__ = ["BY_OPERATION", "BOOKKEEPING_METADATA", "WITHHELD", "EventStreamError", "events_of_log", "events_of_logs"]

BY_OPERATION: Mapping[str, EventType] = {
    "earn": "points.earned",
    "engage": "points.earned",
    "release": "points.released",
    "hold": "points.held",
    "capture": "points.captured",
    "void": "points.voided",
    "redeem": "points.redeemed",
    "expire": "points.expired",
    "transfer": "points.transferred",
    "exchange_in": "points.exchanged",
    "exchange_out": "points.exchanged",
    "convert": "points.converted",
    "refund": "points.refunded",
    "adjust": "points.adjusted",
    "pool_earn": "points.earned",
    "pool_redeem": "points.redeemed",
}
"""The event type of each operation that moves a member's points."""

BOOKKEEPING_METADATA = frozenset({"command_hash", "template", SEQUENCE_KEY, "operation", "customer", REVERT_METADATA_KEY})
"""Metadata keys left out of an event's details (the operation, customer, sequence and reverted transaction have
fields of their own)."""
WITHHELD = "(withheld: looks like personal data)"
"""What replaces a detail that looks like personal data."""


class EventStreamError(LoyaltyError):
    """The ledger's log cannot be told as events: a log without a hash, or a malformed log."""


class _Flows:
    """One member's points in a transaction: received from outside, given outside, moved between own accounts."""

    __slots__ = ("moved_in", "moved_out", "within")

    def __init__(self) -> None:
        self.moved_in = 0
        self.moved_out = 0
        self.within = 0

    def points(self, measure: str, direction: str | None) -> int:
        if measure == "direction":
            measure = direction or "net"
        return {
            "in": self.moved_in,
            "out": self.moved_out,
            "within": self.within,
            "net": self.moved_in - self.moved_out,
        }.get(measure, 0)


def _member_flows(chart: Chart, tx: PostedTransaction) -> dict[str, _Flows]:
    """Each member whose points ``tx`` moves, in order of first appearance, with their flows."""

    asset = chart.points_asset
    flows: dict[str, _Flows] = {}
    for posting in tx.postings:
        if posting.asset != asset:
            continue
        source, destination = chart.customer_of(posting.source), chart.customer_of(posting.destination)
        for member in (source, destination):
            if member is not None and member not in flows:
                flows[member] = _Flows()
        if source is not None and source == destination:
            flows[source].within += posting.amount
            continue
        if source is not None:
            flows[source].moved_out += posting.amount
        if destination is not None:
            flows[destination].moved_in += posting.amount
    return flows


def _sequences(metadata: Mapping[str, str]) -> dict[str, int]:
    """The guard's ``sequence`` metadata (``c42=5,c77=12``) as member → operation number."""

    out: dict[str, int] = {}
    for item in metadata.get(SEQUENCE_KEY, "").split(","):
        member, sep, number = item.partition("=")
        if sep and number.isdigit():
            out[member] = int(number)
    return out


def _details(metadata: Mapping[str, str], port: PersonalDataPort | None = None) -> dict[str, str]:
    """The metadata an event carries: all but the bookkeeping keys and keys that look personal; a value that looks
    like personal data (by pattern, and by ``port``: the member registry's names, emails and phones) withheld."""

    kept = {key: value for key, value in metadata.items() if key not in BOOKKEEPING_METADATA and personal_kind(key) is None}
    flagged = screened(kept, port)
    return {key: (WITHHELD if key in flagged else value) for key, value in kept.items()}


def _log_hash(log: Mapping[str, Any]) -> bytes:
    text = log.get("hash")
    if not text:
        raise EventStreamError(
            f"log {log.get('id')} carries no hash: events need a ledger that hashes its logs as it writes them "
            "(the v2.4.12 default, feature HASH_LOGS=SYNC), which also orders the log ids as the writes commit"
        )
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise EventStreamError(f"log {log.get('id')} carries a hash that is not base64") from None


def events_of_log(
    log: Mapping[str, Any], chart: Chart, programme: str, personal_data: PersonalDataPort | None = None
) -> list[DomainEvent]:
    """The events of one log (an item of ``GET /v2/{ledger}/logs`` as parsed JSON), in order; with
    ``personal_data`` (the member registry's screen), registered members' names, emails and phones are withheld too.

    Raises EventStreamError for a log without a usable hash, id or date, or a transaction that cannot be read.
    """

    kind = log.get("type")
    if kind not in ("NEW_TRANSACTION", "REVERTED_TRANSACTION"):
        return []
    data = log.get("data")
    log_id = log.get("id")
    if not isinstance(data, Mapping) or not isinstance(log_id, int):
        raise EventStreamError(f"log {log_id!r} ({kind}) is malformed")
    try:
        tx = wire.transaction(data.get("transaction"))
        recorded_at = parse_instant(str(log.get("date", "")), timezone.utc, what="log date")
    except LoyaltyError as exc:
        raise EventStreamError(f"log {log_id} ({kind}) cannot be read: {exc.message}") from None
    digest = _log_hash(log)
    details = _details(tx.metadata, personal_data)
    operation: str | None = tx.metadata.get("operation")
    event_type: EventType | None = BY_OPERATION.get(operation or "")
    # The reference and the operation are told as fields of their own: screened as the details are.
    told = {k: v for k, v in (("reference", tx.reference), ("operation", operation)) if v is not None}
    flagged = screened(told, personal_data)
    reference, operation = (None if told.get(k) is None else WITHHELD if k in flagged else told[k] for k in ("reference", "operation"))
    if kind == "REVERTED_TRANSACTION":
        reverted = data.get("revertedTransaction")
        reverted_meta = reverted.get("metadata") if isinstance(reverted, Mapping) else None
        reverted_operation = str((reverted_meta or {}).get("operation", ""))
        reverted_id = reverted.get("id") if isinstance(reverted, Mapping) else tx.metadata.get(REVERT_METADATA_KEY)
        details = {**details, **_details({"reverted_transaction_id": str(reverted_id), "reverted_operation": reverted_operation}, personal_data)}
        operation = None
        event_type = "points.voided" if reverted_operation == "hold" else "points.reverted"
    flows = _member_flows(chart, tx)
    sequences = _sequences(tx.metadata)
    tier = tier_change_of(tx) if kind == "NEW_TRANSACTION" else None
    events: list[DomainEvent] = []

    def add(member: str, type_: EventType, points: int, change: int, extra: Mapping[str, str], *, only: bool = False) -> None:
        events.append(
            DomainEvent(
                id=event_id(digest, len(events)),
                type=type_,
                programme=programme,
                member=member,
                member_sequence=sequences.get(member),
                log_id=log_id,
                index=len(events),
                transaction_id=tx.id,
                reference=reference,
                operation=operation,
                occurred_at=tx.timestamp,
                recorded_at=recorded_at,
                points=points,
                balance_change=change,
                details=dict(extra) if only else {**details, **extra},
            )
        )

    members = list(flows)
    for member, flow in flows.items():
        type_ = event_type or "points.moved"
        extra: dict[str, str] = {}
        direction = None
        if MEASURES[type_] == "direction":
            direction = "in" if flow.moved_in > flow.moved_out else "out"
            extra["direction"] = direction
            others = [m for m in members if m != member]
            if type_ == "points.transferred" and others:
                extra["counterparty"] = others[0]
        add(member, type_, flow.points(MEASURES[type_], direction), flow.moved_in - flow.moved_out, extra)
        if tier is not None and (tx.metadata.get("customer") in (None, member)):
            change = {"tier_before": tier.before, "tier_after": tier.after, "direction": tier.direction}
            add(member, "tier.changed", 0, 0, change, only=True)
            tier = None
    return events


def events_of_logs(
    logs: Iterator[Mapping[str, Any]], chart: Chart, programme: str, personal_data: PersonalDataPort | None = None
) -> Iterator[DomainEvent]:
    """The events of ``logs``, in order (see :func:`events_of_log`)."""

    for log in logs:
        yield from events_of_log(log, chart, programme, personal_data)
