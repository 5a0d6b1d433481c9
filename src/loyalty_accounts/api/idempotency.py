"""Exactly once over HTTP: every write names an ``Idempotency-Key``; a retry gets the original answer.

The key is scoped to the programme and the API key that sent it, and bound to what the request is (a
digest of its method, path and JSON body, whitespace and key order aside) and to the operation and
business key it names. :meth:`IdempotencyStore.begin` decides, in one database transaction:

- a key never seen: recorded ``in_progress`` (the request runs);
- the same key and the same request, answered: that answer again, same status, same bytes (``replay``);
- the same key, another request: ``conflict`` (HTTP 409, nothing runs);
- the same key and request still ``in_progress`` (a concurrent retry): ``busy`` (HTTP 409 with
  Retry-After) until the lease (:data:`LEASE`) runs out; then the next one takes it over and runs it
  again, which the ledger's own exactly-once (the business key's reference) makes safe.

An answer is kept when it is final (2xx, and the 4xx that say what the request is); a failure that says
nothing about the request (the ledger unreachable, an outcome unknown) releases the key, so that the retry
runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from ..errors import InvalidCommand
from ..members.store import RegistryStore

__all__ = ["LEASE", "Begun", "IdempotencyStore", "idempotency_key", "request_digest"]

LEASE = timedelta(seconds=60)
"""How long a request in progress holds its key before a retry may take it over."""
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def idempotency_key(text: str | None) -> str:
    """The ``Idempotency-Key`` header, checked. Raises InvalidCommand (HTTP 400) when missing or malformed."""

    if text is None or not text.strip():
        raise InvalidCommand("every write needs an Idempotency-Key header (1 to 128 of A-Z a-z 0-9 . _ : -)")
    if not _KEY.match(text.strip()):
        raise InvalidCommand("Idempotency-Key: 1 to 128 of A-Z a-z 0-9 . _ : -")
    return text.strip()


def request_digest(method: str, path: str, body: Any) -> bytes:
    """SHA-256 of the method, the path and the body as canonical JSON (sorted keys, no blanks)."""

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical.encode("utf-8")).digest()


class Begun(NamedTuple):
    outcome: Literal["new", "replay", "conflict", "busy"]
    status: int | None = None
    response: bytes | None = None
    operation: str | None = None
    business_key: str | None = None


class IdempotencyStore(RegistryStore):
    """The ``api_idempotency`` table (``registry/migrations/0003_api_access.sql``)."""

    def begin(
        self, *, programme: str, key_id: str, key: str, digest: bytes, operation: str, business_key: str, now: datetime
    ) -> Begun:
        """What to do with a write (see the module docstring)."""

        with self.transaction():
            inserted = self._conn.execute(
                "INSERT INTO api_idempotency (programme, key_id, idempotency_key, request_digest, operation, business_key, "
                "state, started_at) VALUES (%s, %s, %s, %s, %s, %s, 'in_progress', %s) ON CONFLICT DO NOTHING RETURNING 1",
                (programme, key_id, key, digest, operation, business_key, now),
            ).fetchone()
            if inserted is not None:
                return Begun("new")
            row = self._conn.execute(
                "SELECT request_digest, operation, business_key, state, status, response, started_at FROM api_idempotency "
                "WHERE programme = %s AND key_id = %s AND idempotency_key = %s FOR UPDATE",
                (programme, key_id, key),
            ).fetchone()
            assert row is not None  # rows are never deleted while another transaction holds them
            stored_digest, op, business, state, status, response, started = row
            if bytes(stored_digest) != digest:
                return Begun("conflict", operation=op, business_key=business)
            if state == "done":
                return Begun("replay", status=status, response=bytes(response))
            if started > now - LEASE:
                return Begun("busy", operation=op, business_key=business)
            self._conn.execute(
                "UPDATE api_idempotency SET started_at = %s WHERE programme = %s AND key_id = %s AND idempotency_key = %s",
                (now, programme, key_id, key),
            )
            return Begun("new")

    def finish(self, *, programme: str, key_id: str, key: str, status: int, response: bytes, now: datetime) -> None:
        """Keep the answer given to the write."""

        with self.transaction():
            self._conn.execute(
                "UPDATE api_idempotency SET state = 'done', status = %s, response = %s, finished_at = %s "
                "WHERE programme = %s AND key_id = %s AND idempotency_key = %s",
                (status, response, now, programme, key_id, key),
            )

    def release(self, *, programme: str, key_id: str, key: str) -> None:
        """Forget a write that got no final answer: its retry runs again."""

        with self.transaction():
            self._conn.execute(
                "DELETE FROM api_idempotency WHERE programme = %s AND key_id = %s AND idempotency_key = %s AND state = 'in_progress'",
                (programme, key_id, key),
            )
