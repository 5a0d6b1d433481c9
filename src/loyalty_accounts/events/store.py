"""The SQL of event delivery, in the registry database (``registry/migrations/0002_event_delivery.sql``).

``webhooks`` holds each webhook with its sealed secret and its position (the next event to deliver);
``webhook_dead_letters`` the events it did not take. The store moves bytes only: it never sees a key or
a plaintext secret. Errors reaching the database are
:class:`~loyalty_accounts.errors.RegistryUnavailable` (exit 3), as for the member registry.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, Sequence

import psycopg

from ..members.store import RegistryStore
from ..vocabulary.frozen import Frozen
from .model import DomainEvent, EventPosition

__all__ = ["DeadLetter", "DeliveryStore", "WebhookRow"]

_LOCK_SPACE = "loyalty-accounts webhook:"


class WebhookRow(Frozen):
    webhook_id: str
    programme: str
    url: str
    event_types: tuple[str, ...] | None
    key_id: str
    sealed_secret: bytes
    created_at: datetime
    removed_at: datetime | None
    position: EventPosition
    delivered: int
    dead_letters: int = 0

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


class DeadLetter(Frozen):
    webhook_id: str
    event_id: str
    position: EventPosition
    member: str
    event_type: str
    attempts: int
    last_error: str
    parked_behind: str | None
    dead_at: datetime


_WEBHOOK_COLUMNS = (
    "w.webhook_id, w.programme, w.url, w.event_types, w.key_id, w.sealed_secret, w.created_at, w.removed_at, "
    "w.next_log, w.next_index, w.delivered, "
    "(SELECT count(*) FROM webhook_dead_letters d WHERE d.webhook_id = w.webhook_id)"
)


def _webhook(row: Sequence[object]) -> WebhookRow:
    (webhook_id, programme, url, types, key_id, sealed, created, removed, next_log, next_index, delivered, dead) = row
    return WebhookRow(
        webhook_id=webhook_id, programme=programme, url=url, event_types=tuple(types) if types is not None else None,
        key_id=key_id, sealed_secret=bytes(sealed), created_at=created, removed_at=removed,  # type: ignore[arg-type]
        position=EventPosition(log_id=next_log, index=next_index), delivered=delivered, dead_letters=dead,  # type: ignore[arg-type]
    )


class DeliveryStore(RegistryStore):
    """Webhooks, their positions and dead letters, over the registry's connection (see :class:`RegistryStore`)."""

    # -- webhooks -------------------------------------------------------------

    def add_webhook(
        self, webhook_id: str, programme: str, url: str, event_types: Sequence[str] | None, key_id: str,
        sealed_secret: bytes, at: datetime, start: EventPosition,
    ) -> None:
        self._conn.execute(
            "INSERT INTO webhooks (webhook_id, programme, url, event_types, key_id, sealed_secret, created_at, "
            "next_log, next_index, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (webhook_id, programme, url, list(event_types) if event_types is not None else None, key_id, sealed_secret,
             at, start.log_id, start.index, at),
        )

    def webhooks(self, programme: str, *, include_removed: bool = False) -> list[WebhookRow]:
        where = "" if include_removed else " AND w.removed_at IS NULL"
        rows = self._conn.execute(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks w WHERE w.programme = %s{where} ORDER BY w.created_at, w.webhook_id",
            (programme,),
        )
        return [_webhook(row) for row in rows]

    def webhook(self, webhook_id: str) -> WebhookRow | None:
        row = self._conn.execute(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks w WHERE w.webhook_id = %s", (webhook_id,)).fetchone()
        return _webhook(row) if row is not None else None

    def remove_webhook(self, webhook_id: str, at: datetime) -> bool:
        """Mark the webhook removed; False when it was already."""

        cursor = self._conn.execute(
            "UPDATE webhooks SET removed_at = %s, updated_at = %s WHERE webhook_id = %s AND removed_at IS NULL",
            (at, at, webhook_id),
        )
        return cursor.rowcount == 1

    # -- progress ---------------------------------------------------------------

    def advance(self, webhook_id: str, position: EventPosition, at: datetime, *, delivered: int = 0) -> None:
        """Move the webhook's position forward to ``position`` (never back), counting ``delivered`` more events."""

        self._conn.execute(
            "UPDATE webhooks SET next_log = %s, next_index = %s, delivered = delivered + %s, updated_at = %s "
            "WHERE webhook_id = %s AND (next_log, next_index) <= (%s, %s)",
            (position.log_id, position.index, delivered, at, webhook_id, position.log_id, position.index),
        )

    def rewind(self, webhook_id: str, position: EventPosition, at: datetime) -> int:
        """Set the webhook's position back to ``position`` and drop its dead letters from there on; how many were dropped."""

        with self.transaction():
            self._conn.execute(
                "UPDATE webhooks SET next_log = %s, next_index = %s, updated_at = %s WHERE webhook_id = %s",
                (position.log_id, position.index, at, webhook_id),
            )
            cursor = self._conn.execute(
                "DELETE FROM webhook_dead_letters WHERE webhook_id = %s AND (log_id, event_index) >= (%s, %s)",
                (webhook_id, position.log_id, position.index),
            )
            return cursor.rowcount

    # -- dead letters -------------------------------------------------------------

    def dead_letter(
        self, webhook_id: str, event: DomainEvent, *, attempts: int, error: str, parked_behind: str | None, at: datetime
    ) -> None:
        """Record ``event`` as not taken and move the webhook's position past it, in one transaction."""

        after = EventPosition(log_id=event.log_id, index=event.index + 1)
        with self.transaction():
            self._conn.execute(
                "INSERT INTO webhook_dead_letters (webhook_id, event_id, log_id, event_index, member, event_type, attempts, "
                "last_error, parked_behind, dead_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (webhook_id, event_id) DO UPDATE SET attempts = EXCLUDED.attempts, "
                "last_error = EXCLUDED.last_error, parked_behind = EXCLUDED.parked_behind, dead_at = EXCLUDED.dead_at",
                (webhook_id, event.id, event.log_id, event.index, event.member, event.type, attempts, error[:500],
                 parked_behind, at),
            )
            self.advance(webhook_id, after, at)

    def dead_letters(self, webhook_ids: Sequence[str]) -> list[DeadLetter]:
        rows = self._conn.execute(
            "SELECT webhook_id, event_id, log_id, event_index, member, event_type, attempts, last_error, parked_behind, dead_at "
            "FROM webhook_dead_letters WHERE webhook_id = ANY(%s) ORDER BY webhook_id, log_id, event_index",
            (list(webhook_ids),),
        )
        return [
            DeadLetter(
                webhook_id=w, event_id=e, position=EventPosition(log_id=log, index=index), member=m, event_type=t,
                attempts=a, last_error=err, parked_behind=p, dead_at=at,
            )
            for (w, e, log, index, m, t, a, err, p, at) in rows
        ]

    def blocked_members(self, webhook_id: str) -> dict[str, str]:
        """Members with a dead letter at this webhook → the id of their first one (their later events wait behind it)."""

        rows = self._conn.execute(
            "SELECT DISTINCT ON (member) member, event_id FROM webhook_dead_letters WHERE webhook_id = %s "
            "ORDER BY member, log_id, event_index",
            (webhook_id,),
        )
        return {str(member): str(event_id) for member, event_id in rows}

    # -- one deliverer per webhook ----------------------------------------------------

    def try_lock(self, webhook_id: str) -> bool:
        """Whether the webhook's delivery lock is free now (taken and given back at once)."""

        got = bool(self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (_LOCK_SPACE + webhook_id,)).fetchone()[0])  # type: ignore[index]
        if got:
            self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_SPACE + webhook_id,))
        return got

    @contextmanager
    def exclusive(self, webhook_id: str) -> Iterator[bool]:
        """Hold the webhook's delivery lock (a session advisory lock) for the block; yields False when another
        process holds it (then nothing must be delivered)."""

        got = bool(self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (_LOCK_SPACE + webhook_id,)).fetchone()[0])  # type: ignore[index]
        try:
            yield got
        finally:
            if got:
                try:
                    self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_SPACE + webhook_id,))
                except psycopg.Error:
                    pass  # the session ends with the connection, and the lock with it
