"""An in-memory stand-in for :class:`loyalty_accounts.events.DeliveryStore`, for unit tests of delivery and the CLI.

It keeps the two tables of ``registry/migrations/0002_event_delivery.sql`` as dictionaries and follows the
SQL's rules where they matter to a caller: a position only moves forward (``advance``), a dead letter is an
upsert by (webhook, event) that moves the position past the event, a member is blocked by their first dead
letter in stream order, a rewind drops the dead letters from the new position on. ``busy`` names webhooks
whose delivery lock another process holds. The integration suite runs the real store (SQL) instead.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Sequence

from loyalty_accounts.events import DeadLetter, DomainEvent, EventPosition, WebhookRow


@dataclass
class _Webhook:
    row: WebhookRow
    position: EventPosition
    delivered: int = 0
    removed_at: datetime | None = None


@dataclass
class FakeDeliveryStore:
    """The store's methods over dictionaries; ``advances`` records every position written, in order."""

    registry_keys: dict[str, datetime] = field(default_factory=dict)
    hooks: dict[str, _Webhook] = field(default_factory=dict)
    letters: dict[tuple[str, str], DeadLetter] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    advances: list[EventPosition] = field(default_factory=list)
    transactions: int = 0
    closed: int = 0

    # -- connection -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.transactions += 1
        yield

    def close(self) -> None:
        self.closed += 1

    def key_ids(self) -> frozenset[str]:
        return frozenset(self.registry_keys)

    def record_key(self, key_id: str, at: datetime) -> None:
        self.registry_keys.setdefault(key_id, at)

    # -- webhooks -------------------------------------------------------------------

    def add_webhook(
        self, webhook_id: str, programme: str, url: str, event_types: Sequence[str] | None, key_id: str,
        sealed_secret: bytes, at: datetime, start: EventPosition,
    ) -> None:
        row = WebhookRow(
            webhook_id=webhook_id, programme=programme, url=url,
            event_types=tuple(event_types) if event_types is not None else None, key_id=key_id,
            sealed_secret=sealed_secret, created_at=at, removed_at=None, position=start, delivered=0,
        )
        self.hooks[webhook_id] = _Webhook(row=row, position=start)

    def webhook(self, webhook_id: str) -> WebhookRow | None:
        hook = self.hooks.get(webhook_id)
        if hook is None:
            return None
        dead = sum(1 for (w, _) in self.letters if w == webhook_id)
        return hook.row.model_copy(
            update={"position": hook.position, "delivered": hook.delivered, "removed_at": hook.removed_at, "dead_letters": dead}
        )

    def webhooks(self, programme: str, *, include_removed: bool = False) -> list[WebhookRow]:
        rows = [self.webhook(w) for w in self.hooks]
        kept = [r for r in rows if r is not None and r.programme == programme and (include_removed or r.removed_at is None)]
        return sorted(kept, key=lambda r: (r.created_at, r.webhook_id))

    def remove_webhook(self, webhook_id: str, at: datetime) -> bool:
        hook = self.hooks[webhook_id]
        if hook.removed_at is not None:
            return False
        hook.removed_at = at
        return True

    # -- progress ---------------------------------------------------------------------

    def advance(self, webhook_id: str, position: EventPosition, at: datetime, *, delivered: int = 0) -> None:
        hook = self.hooks[webhook_id]
        if not hook.position.after(position):
            hook.position = position
            hook.delivered += delivered
            self.advances.append(position)

    def rewind(self, webhook_id: str, position: EventPosition, at: datetime) -> int:
        self.hooks[webhook_id].position = position
        dropped = [k for k, d in self.letters.items() if k[0] == webhook_id and not position.after(d.position)]
        for key in dropped:
            del self.letters[key]
        return len(dropped)

    # -- dead letters ---------------------------------------------------------------------

    def dead_letter(
        self, webhook_id: str, event: DomainEvent, *, attempts: int, error: str, parked_behind: str | None, at: datetime
    ) -> None:
        self.letters[(webhook_id, event.id)] = DeadLetter(
            webhook_id=webhook_id, event_id=event.id, position=event.position, member=event.member,
            event_type=event.type, attempts=attempts, last_error=error[:500], parked_behind=parked_behind, dead_at=at,
        )
        self.advance(webhook_id, EventPosition(log_id=event.log_id, index=event.index + 1), at)

    def dead_letters(self, webhook_ids: Sequence[str]) -> list[DeadLetter]:
        wanted = set(webhook_ids)
        found = [d for (w, _), d in self.letters.items() if w in wanted]
        return sorted(found, key=lambda d: (d.webhook_id, d.position.log_id, d.position.index))

    def blocked_members(self, webhook_id: str) -> dict[str, str]:
        first: dict[str, str] = {}
        for letter in self.dead_letters([webhook_id]):
            first.setdefault(letter.member, letter.event_id)
        return first

    def try_lock(self, webhook_id: str) -> bool:
        return webhook_id not in self.busy

    @contextmanager
    def exclusive(self, webhook_id: str) -> Iterator[bool]:
        yield webhook_id not in self.busy
