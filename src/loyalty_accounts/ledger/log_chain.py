"""The ledger's log hash chain, recomputed: proof that the log as served is unaltered.

Formance v2.4.12 chains its logs: each log's hash covers its content and the
hash of the log before it. :func:`log_hash` recomputes one log's hash and
:func:`verify_log_chain` walks a whole log (as
:meth:`~loyalty_accounts.ledger.reads.LedgerReader.logs` lists it, oldest
first) and says, as plain data, what matched. Turning that into a finding is
the reports' business (``check_log_chain`` in :mod:`loyalty_accounts.reports`).

What the v2.4.12 server hashes (the PostgreSQL trigger ``set_log_hash`` its
bucket migrations install when HASH_LOGS=SYNC, which is the default)::

  sha256( [ '"' base64(previous log's hash) '"' LF ]  document  LF )

  document = {"type":"<TYPE>","data":<memento>,"date":"<date>Z",
              "idempotencyKey":"<key or empty>","id":0,"hash":null}

``memento`` is Go's encoding/json rendering of the log payload reduced to the
fields that decide it (for a transaction: postings, metadata, timestamp,
reference when set, id, reverted=false; for a revert: the reverted id and
the reversal), ``date`` the log's date as PostgreSQL renders a timestamp in
JSON (fractional seconds without trailing zeros). The previous log is the
one with the highest id before it; there is no hash before the first log.
The server's Go code computes the same document when it imports logs, and
adds ``,"schemaVersion":"..."`` when the log carries a schema version; the
trigger installed by v2.4.12's migrations does not. Both forms are tried and
a log verifies if either matches.

Checkpoint
    A check that passed can leave a :class:`LogCheckpoint` in the ledger's
    own metadata (key :data:`CHECKPOINT_KEY`, ``PUT /v2/{ledger}/metadata``;
    v2.4.12 keeps ledger metadata in the system store's ``ledgers`` row, not
    in the log, so writing it adds no log: ``internal/storage/system/store.go``
    ``UpdateLedgerMetadata``). The next check lists the logs from the one
    before the checkpointed log (its *anchor*) on: the checkpointed log must
    still carry the recorded hash and still hash to it from its anchor's
    stored hash, and only the logs after it are verified. Logs up to the
    anchor are not read again: altering them goes unseen until a full check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import Field

from ..errors import InvalidCommand
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import parse_instant

__all__ = [
    "CHECKPOINT_KEY",
    "LogChainVerification",
    "LogCheckpoint",
    "checkpoint_from_metadata",
    "checkpoint_metadata",
    "log_hash",
    "logged_by",
    "verify_log_chain",
]

CHECKPOINT_KEY = "loyalty.log_chain.verified"
"""The ledger metadata key holding the last verified log (JSON: ``log``, ``hash``, ``previous``)."""


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
"""The characters Go's encoding/json escapes with a backslash and a letter (or themselves)."""


def _go_string(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (HTML-safe escapes, \\b and \\f short forms)."""

    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise _Unverifiable("a string holds a lone surrogate")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Unverifiable(Exception):
    """The log holds something whose Go rendering cannot be reproduced."""


def _go_json(value: Any, *, sort_keys: bool) -> str:
    """Compact JSON as Go writes it; objects keep their order unless ``sort_keys`` (Go maps)."""

    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, Mapping):
        keys = sorted(value) if sort_keys else list(value)
        return "{" + ",".join(_go_string(str(k)) + ":" + _go_json(value[k], sort_keys=sort_keys) for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_go_json(v, sort_keys=sort_keys) for v in value) + "]"
    raise _Unverifiable(f"cannot reproduce Go's rendering of {type(value).__name__} {value!r}")


def _rfc3339(moment: datetime) -> str:
    """Go's RFC3339Nano in UTC at microsecond precision; also PostgreSQL's JSON timestamp + 'Z'."""

    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


_GO_UTC_INSTANT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?Z$")


def _instant_field(value: Any) -> str:
    """An instant as the server hashed it: its own rendering when already canonical, else re-rendered."""

    if not isinstance(value, str):
        raise _Unverifiable(f"instant {value!r} is not a string")
    if _GO_UTC_INSTANT.match(value):
        return value
    try:
        moment = parse_instant(value, timezone.utc)
    except InvalidCommand:
        raise _Unverifiable(f"instant {value!r} is not RFC 3339") from None
    return _rfc3339(moment)


def _amount(value: Any) -> str:
    if isinstance(value, bool):
        raise _Unverifiable("boolean amount")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return str(int(value))
    raise _Unverifiable(f"amount {value!r} is not an integer")


def _transaction_resume(tx: Any) -> str:
    if not isinstance(tx, Mapping):
        raise _Unverifiable("transaction payload is not an object")
    postings = tx.get("postings") or []
    posting_text = ",".join(
        "{"
        + f'"source":{_go_string(p["source"])},"destination":{_go_string(p["destination"])},'
        + f'"amount":{_amount(p["amount"])},"asset":{_go_string(p["asset"])}'
        + "}"
        for p in postings
    )
    parts = [
        f'"postings":[{posting_text}]' if tx.get("postings") is not None else '"postings":null',
        '"metadata":' + _go_json(tx.get("metadata"), sort_keys=True),
        '"timestamp":' + _go_string(_instant_field(tx.get("timestamp"))),
    ]
    if tx.get("reference"):
        parts.append('"reference":' + _go_string(tx["reference"]))
    tx_id = tx.get("id")
    parts.append('"id":' + ("null" if tx_id is None else _amount(tx_id)))
    parts.append('"reverted":false')
    return "{" + ",".join(parts) + "}"


def _memento(log_type: str, data: Any) -> str:
    if not isinstance(data, Mapping):
        raise _Unverifiable("log data is not an object")
    try:
        if log_type == "NEW_TRANSACTION":
            return (
                '{"transaction":' + _transaction_resume(data.get("transaction"))
                + ',"accountMetadata":' + _go_json(data.get("accountMetadata"), sort_keys=True) + "}"
            )
        if log_type == "REVERTED_TRANSACTION":
            reverted = data.get("revertedTransaction")
            if not isinstance(reverted, Mapping) or reverted.get("id") is None:
                raise _Unverifiable("revert log without the reverted transaction's id")
            return (
                '{"revertedTransactionID":' + _amount(reverted["id"])
                + ',"transaction":' + _transaction_resume(data.get("transaction")) + "}"
            )
        if log_type == "SET_METADATA":
            return (
                '{"targetType":' + _go_json(data.get("targetType"), sort_keys=True)
                + ',"targetId":' + _go_json(data.get("targetId"), sort_keys=True)
                + ',"metadata":' + _go_json(data.get("metadata"), sort_keys=True) + "}"
            )
        if log_type == "DELETE_METADATA":
            return (
                '{"targetType":' + _go_json(data.get("targetType"), sort_keys=True)
                + ',"targetId":' + _go_json(data.get("targetId"), sort_keys=True)
                + ',"key":' + _go_json(data.get("key"), sort_keys=True) + "}"
            )
        if log_type == "INSERTED_SCHEMA":
            # Rendered by the server from the same Go value it hashed, in Go's field order.
            return _go_json(data, sort_keys=False)
    except (KeyError, TypeError) as exc:
        raise _Unverifiable(f"malformed {log_type} payload ({exc!r})") from None
    raise _Unverifiable(f"unknown log type {log_type!r}")


def _bytea_text(text: str) -> bytes:
    """What PostgreSQL's bytea input makes of text spliced into the hashed document (``\\\\`` and ``\\ooo``)."""

    raw = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte != 0x5C:
            out.append(byte)
            i += 1
        elif raw[i + 1 : i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        elif len(raw) >= i + 4 and all(0x30 <= b <= 0x37 for b in raw[i + 1 : i + 4]):
            out.append(int(raw[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            raise _Unverifiable("a backslash the database could not have stored")
    return bytes(out)


def log_hash(log: Mapping[str, Any], previous: bytes | None, *, with_schema_version: bool = False) -> bytes:
    """The hash the server gives ``log`` when the log before it has hash ``previous``.

    ``log`` is an item of ``GET /v2/{ledger}/logs`` as parsed JSON (type,
    data, date, idempotencyKey, schemaVersion). Raises ValueError when the
    log holds something whose rendering cannot be reproduced.
    """

    try:
        log_type = log.get("type")
        if not isinstance(log_type, str):
            raise _Unverifiable("log without a type")
        memento = _memento(log_type, log.get("data")).encode("utf-8")
        document = (
            b'{"type":"' + _bytea_text(log_type) + b'","data":' + memento
            + b',"date":"' + _instant_field(log.get("date")).encode() + b'"'
            + b',"idempotencyKey":"' + _bytea_text(str(log.get("idempotencyKey") or "")) + b'"'
            + b',"id":0,"hash":null'
        )
        schema_version = log.get("schemaVersion")
        if with_schema_version and schema_version:
            document += b',"schemaVersion":"' + _bytea_text(str(schema_version)) + b'"'
        document += b"}"
    except _Unverifiable as exc:
        raise ValueError(str(exc)) from None
    prefix = b'"' + base64.b64encode(previous) + b'"\n' if previous is not None else b""
    return hashlib.sha256(prefix + document + b"\n").digest()


class LogCheckpoint(Frozen):
    """The last log a passing check verified: where the next check resumes."""

    log_id: int
    """The log's id."""
    hash: str
    """Its stored hash, base64 as the server serves it."""
    previous_id: int | None
    """The id of the log before it (its anchor), None when it was the first log."""


def checkpoint_metadata(checkpoint: LogCheckpoint) -> dict[str, str]:
    """The ledger metadata that records ``checkpoint`` (one key, :data:`CHECKPOINT_KEY`)."""

    text = json.dumps({"log": checkpoint.log_id, "hash": checkpoint.hash, "previous": checkpoint.previous_id}, sort_keys=True)
    return {CHECKPOINT_KEY: text}


def checkpoint_from_metadata(metadata: Mapping[str, str]) -> LogCheckpoint | None:
    """The checkpoint recorded in the ledger's metadata; None when there is none.

    Raises ValueError (saying why) when the key holds something that is not a checkpoint.
    """

    text = metadata.get(CHECKPOINT_KEY)
    if text is None:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        raise ValueError(f"{CHECKPOINT_KEY} is not JSON: {text[:80]!r}") from None
    if not isinstance(raw, dict) or set(raw) != {"log", "hash", "previous"}:
        raise ValueError(f"{CHECKPOINT_KEY} does not hold log, hash and previous: {text[:80]!r}")
    log_id, stored, previous = raw["log"], raw["hash"], raw["previous"]
    ids_ok = _is_id(log_id) and (previous is None or (_is_id(previous) and previous < log_id))
    if not ids_ok or not isinstance(stored, str):
        raise ValueError(f"{CHECKPOINT_KEY} holds malformed ids or hash: {text[:80]!r}")
    try:
        base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{CHECKPOINT_KEY} hash is not base64: {stored[:60]!r}") from None
    return LogCheckpoint(log_id=log_id, hash=stored, previous_id=previous)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def logged_by(log: Mapping[str, Any], until: datetime) -> bool:
    """Whether ``log`` was written at or before ``until`` (its ``date``; a log without a readable one counts)."""

    try:
        return parse_instant(str(log.get("date", "")), timezone.utc, what="log date") <= until
    except InvalidCommand:
        return True


Resume = Literal["full", "resumed", "mismatch", "beyond"]
"""How a check began: from the first log (``full``); after the checkpoint (``resumed``); not at all,
the checkpoint not matching the log (``mismatch``); not at all, the checkpointed log being
dated after the check's end (``beyond``)."""


class MetadataAmendment(Frozen):
    """A log that changed a transaction's metadata after it was posted (``SET_METADATA`` or ``DELETE_METADATA``)."""

    log_id: int | None
    transaction_id: Any
    keys: tuple[str, ...]
    deleted: bool


class LogChainVerification(Frozen):
    """What walking the log hash chain found, log by log; no verdict (see :func:`verify_log_chain`)."""

    logs: int
    """Logs read (with a checkpoint: its anchor and the checkpointed log included)."""
    unhashed: int = 0
    """Logs without a stored hash (a ledger that does not hash its logs synchronously: HASH_LOGS)."""
    matched: Mapping[str, int] = Field(default_factory=dict)
    """Logs whose stored hash matched, by the form that matched: ``trigger`` or ``with schemaVersion``."""
    mismatched: tuple[str, ...] = ()
    """One line per log whose stored hash does not match (or is not base64), or that comes out of order."""
    unverifiable: tuple[str, ...] = ()
    """One line per log holding something whose rendering cannot be reproduced."""
    resume: Resume = "full"
    resume_note: str = ""
    """With ``mismatch``: how the log disagrees with the checkpoint."""
    resumed_at: int | None = None
    """With ``resumed``: the checkpointed log's id (verified again; the logs before it not)."""
    last: LogCheckpoint | None = None
    """The last log read that carries a hash: the checkpoint a pass may leave (None when there is none)."""
    amendments: tuple[MetadataAmendment, ...] = ()
    """The logs read that changed a transaction's metadata after it was posted, in log order."""


def _resume_problem(head: list[Mapping[str, Any]], checkpoint: LogCheckpoint) -> str | None:
    """Why the first logs listed (anchor, checkpointed log) do not match ``checkpoint``; None if they do."""

    expected = [checkpoint.previous_id, checkpoint.log_id] if checkpoint.previous_id is not None else [checkpoint.log_id]
    found = [log.get("id") for log in head]
    if found != expected:
        return f"checkpoint names log(s) {expected} but the ledger lists {found} there"
    stored = head[-1].get("hash")
    if stored != checkpoint.hash:
        return f"log {checkpoint.log_id} carries hash {stored!r}, the checkpoint recorded {checkpoint.hash!r}"
    return None


def verify_log_chain(
    logs: Iterable[Mapping[str, Any]], *, resume: LogCheckpoint | None = None, until: datetime | None = None
) -> LogChainVerification:
    """Recompute every log's hash, oldest log first, chained to the previous log's *stored* hash.

    A log without a hash breaks the chain (the next one is hashed as if
    first); one with a hash that is not base64 is a mismatch. A log matches
    when :func:`log_hash` gives its stored hash in the trigger's form, or, if
    it carries a schema version, in the form with it. With ``until``, the walk
    stops before the first log dated after it (a prefix of a chain is a chain).

    With ``resume``, ``logs`` must start at the checkpoint's anchor (the
    listing from its ``previous_id`` on, or from ``log_id`` when it has none):
    the anchor's stored hash seeds the chain, the checkpointed log must carry
    the recorded hash and is verified again, then the rest. When the first
    logs are not those, the walk stops at once (``resume="mismatch"``, no
    count); when the checkpointed log is dated after ``until``, likewise
    (``resume="beyond"``): the caller then checks from the first log.
    """

    stream = iter(logs)
    head: list[Mapping[str, Any]] = []
    previous: bytes | None = None
    previous_id: int | None = None
    if resume is not None:
        for log in stream:
            head.append(log)
            if len(head) == (2 if resume.previous_id is not None else 1):
                break
        problem = _resume_problem(head, resume)
        if problem is not None:
            return LogChainVerification(logs=len(head), resume="mismatch", resume_note=problem)
        if until is not None and not logged_by(head[-1], until):
            return LogChainVerification(logs=len(head), resume="beyond")
        if resume.previous_id is not None:
            anchor = head.pop(0)
            try:
                previous = base64.b64decode(str(anchor.get("hash") or ""), validate=True) or None
            except (binascii.Error, ValueError):
                previous = None
            previous_id = resume.previous_id

    count = 1 if resume is not None and resume.previous_id is not None else 0
    mismatched: list[str] = []
    unverifiable: list[str] = []
    variants: dict[str, int] = defaultdict(int)
    unhashed = 0
    last: LogCheckpoint | None = None
    amendments: list[MetadataAmendment] = []
    for log in _chained(head, stream):
        if until is not None and not logged_by(log, until):
            break
        count += 1
        log_id = log.get("id")
        amendment = _amendment(log)
        if amendment is not None:
            amendments.append(amendment)
        if isinstance(log_id, int) and previous_id is not None and log_id <= previous_id:
            mismatched.append(f"log {log_id}: out of order after log {previous_id}")
        stored_text = log.get("hash")
        if not stored_text:
            unhashed += 1
            previous = None
            previous_id = log_id if isinstance(log_id, int) else previous_id
            continue
        try:
            stored = base64.b64decode(str(stored_text), validate=True)
        except (binascii.Error, ValueError):
            mismatched.append(f"log {log_id}: stored hash is not base64")
            previous = None
            previous_id = log_id if isinstance(log_id, int) else previous_id
            continue
        try:
            plain = log_hash(log, previous)
            if plain == stored:
                variants["trigger"] += 1
            elif log.get("schemaVersion") and log_hash(log, previous, with_schema_version=True) == stored:
                variants["with schemaVersion"] += 1
            else:
                mismatched.append(f"log {log_id} ({log.get('type')}): hash does not match its content and the previous hash")
        except ValueError as exc:
            unverifiable.append(f"log {log_id}: {exc}")
        if isinstance(log_id, int):
            last = LogCheckpoint(log_id=log_id, hash=str(stored_text), previous_id=previous_id)
            previous_id = log_id
        previous = stored
    return LogChainVerification(
        logs=count,
        unhashed=unhashed,
        matched=dict(variants),
        mismatched=tuple(mismatched),
        unverifiable=tuple(unverifiable),
        resume="full" if resume is None else "resumed",
        resumed_at=None if resume is None else resume.log_id,
        last=last,
        amendments=tuple(amendments),
    )


def _amendment(log: Mapping[str, Any]) -> MetadataAmendment | None:
    """The change a metadata log made to a transaction's metadata; None for any other log."""

    kind = log.get("type")
    data = log.get("data")
    if kind not in ("SET_METADATA", "DELETE_METADATA") or not isinstance(data, Mapping) or data.get("targetType") != "TRANSACTION":
        return None
    log_id = log.get("id") if isinstance(log.get("id"), int) else None
    if kind == "DELETE_METADATA":
        return MetadataAmendment(log_id=log_id, transaction_id=data.get("targetId"), keys=(str(data.get("key")),), deleted=True)
    keys = tuple(sorted(str(k) for k in (data.get("metadata") or {})))
    return MetadataAmendment(log_id=log_id, transaction_id=data.get("targetId"), keys=keys, deleted=False)


def _chained(head: list[Mapping[str, Any]], rest: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    yield from head
    yield from rest
