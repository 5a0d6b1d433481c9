"""Webhooks and delivery for one programme: what ``loyalty events`` runs.

:class:`EventService` registers webhooks (the signing secret made here, shown once, kept sealed under
the registry key), lists them and their dead letters, moves a webhook's position back (replay), and
runs a :class:`~.delivery.Deliverer` per webhook, each in a thread of its own with its own database
connection and holding the webhook's delivery lock, so that two processes never deliver to one webhook
at once.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from typing import Callable, NamedTuple, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import InvalidCommand, LoyaltyError, OperationRefused, UnknownEntity
from ..members.crypto import RegistryKey
from ..members.service import require_registry_key
from ..reports.common import utc_now
from .delivery import DeliveryPolicy, DeliveryRun, Deliverer
from .model import EVENT_TYPES, DomainEvent, EventPosition
from .signing import new_secret
from .store import DeadLetter, DeliveryStore, WebhookRow
from .stream import EventSource

__all__ = ["EventService", "NewWebhook", "Replay", "webhook_url"]


MAX_URL = 2048
"""Longest webhook URL accepted."""
MAX_WEBHOOKS = 50
"""Webhooks a programme may have at once: each has a deliverer with a registry connection of its own."""



def webhook_url(text: str) -> str:
    """A webhook's URL, checked: http or https, a host, no user or password, no fragment. Raises InvalidCommand."""

    value = text.strip()
    if len(value) > MAX_URL or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidCommand(f"--url: not a URL (no blanks or control characters, at most {MAX_URL} characters)")
    try:
        parts = urlsplit(value)
        port = parts.port
        if parts.hostname:
            parts.hostname.encode("idna")  # every label 1 to 63 characters, as a name server would have it
        httpx.URL(value)
    except (ValueError, UnicodeError, httpx.InvalidURL):
        raise InvalidCommand("--url: not a URL (write http://host[:port]/path or https://...)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCommand("--url: write http://host[:port]/path or https://host/path")
    if parts.username is not None or parts.password is not None:
        raise InvalidCommand("--url: a webhook URL must not hold a user or password (the signature authenticates)")
    if parts.fragment or value.endswith("#"):
        raise InvalidCommand("--url: a webhook URL has no #fragment")
    if port == 0:
        raise InvalidCommand("--url: port 0 is not a port")
    return urlunsplit(parts._replace(scheme=parts.scheme.lower()))


def event_types(given: Sequence[str] | None) -> tuple[str, ...] | None:
    """The event types a webhook asks for (None: all). Raises InvalidCommand naming an unknown type."""

    if not given:
        return None
    unknown = [t for t in given if t not in EVENT_TYPES]
    if unknown:
        raise InvalidCommand(f"--type {unknown[0]}: not an event type (types: {', '.join(EVENT_TYPES)})")
    return tuple(dict.fromkeys(given))


class NewWebhook(NamedTuple):
    webhook: WebhookRow
    secret: str
    """Shown once: only its sealed form is kept."""


class Replay(NamedTuple):
    webhook: WebhookRow
    position: EventPosition
    dropped_dead_letters: int


class EventService:
    """The events of ``source``'s programme and their delivery, with progress in the registry database.

    ``open_store`` opens a new connection to the registry database (one per deliverer thread); ``key``
    (from ``key_source``, for messages) seals and opens webhook secrets.
    """

    def __init__(
        self,
        source: EventSource,
        open_store: Callable[[], DeliveryStore],
        key: RegistryKey,
        *,
        key_source: str = "the registry key",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.source = source
        self._open_store = open_store
        self._key = key
        self._key_source = key_source
        self._clock = clock
        self._store: DeliveryStore | None = None

    @property
    def store(self) -> DeliveryStore:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- webhooks ---------------------------------------------------------------

    def add_webhook(self, url: str, *, types: Sequence[str] | None = None, start: str = "now") -> NewWebhook:
        """Register a webhook at ``url`` for ``types`` (default: all), delivering from ``start`` (see
        :meth:`.EventSource.position`). Raises InvalidCommand (URL, types, position, registry key)."""

        checked_url, checked_types = webhook_url(url), event_types(types)
        self.source.head()  # the programme's ledger must exist (a typo in --ledger is refused here)
        position = self.source.position(start, now=self._clock())
        if len(self.webhooks()) >= MAX_WEBHOOKS:
            raise OperationRefused(f"programme {self.source.programme} has {MAX_WEBHOOKS} webhooks, the most it may have: remove one first")
        webhook_id = "wh_" + secrets.token_hex(8)
        secret = new_secret()
        sealed = self._key.seal_secret(secret.encode("utf-8"), webhook_id)
        store = self.store
        at = self._clock()
        with store.transaction():
            require_registry_key(store, self._key, self._key_source)
            store.record_key(self._key.key_id, at)
            store.add_webhook(webhook_id, self.source.programme, checked_url, checked_types, self._key.key_id, sealed, at, position)
        return NewWebhook(self.webhook(webhook_id), secret)

    def webhooks(self, *, include_removed: bool = False) -> list[WebhookRow]:
        with self.store.transaction():
            return self.store.webhooks(self.source.programme, include_removed=include_removed)

    def webhook(self, webhook_id: str) -> WebhookRow:
        """The programme's webhook ``webhook_id``. Raises UnknownEntity."""

        with self.store.transaction():
            row = self.store.webhook(webhook_id)
        if row is None or row.programme != self.source.programme:
            raise UnknownEntity(f"no webhook {webhook_id} in programme {self.source.programme}")
        return row

    def remove_webhook(self, webhook_id: str) -> WebhookRow:
        """Stop delivering to the webhook (its row, position and dead letters are kept). Raises UnknownEntity."""

        self.webhook(webhook_id)
        with self.store.transaction():
            self.store.remove_webhook(webhook_id, self._clock())
        return self.webhook(webhook_id)

    def dead_letters(self, webhook_id: str | None = None) -> list[DeadLetter]:
        ids = [webhook_id] if webhook_id is not None else [w.webhook_id for w in self.webhooks(include_removed=True)]
        if webhook_id is not None:
            self.webhook(webhook_id)
        with self.store.transaction():
            return self.store.dead_letters(ids)

    def replay(self, webhook_id: str, start: str) -> Replay:
        """Move the webhook's position back to ``start``: the events from there are delivered again (the
        receiver de-duplicates by id), dead letters from there on included, and cleared now.

        Raises UnknownEntity, InvalidCommand (a position after the webhook's own: that would skip events),
        OperationRefused (a removed webhook, or one being delivered to by another process right now).
        """

        webhook = self.webhook(webhook_id)
        if webhook.removed_at is not None:
            raise OperationRefused(f"webhook {webhook_id} was removed; add a new one")
        position = self.source.position(start, now=self._clock())
        if position.after(webhook.position):
            raise InvalidCommand(
                f"--from {start}: after the webhook's position (log {webhook.position.log_id}); replay goes back, "
                "never forward (that would skip events)"
            )
        with self.store.exclusive(webhook_id) as mine:
            if not mine:
                raise OperationRefused(f"webhook {webhook_id} is being delivered to by another process; stop it first")
            dropped = self.store.rewind(webhook_id, position, self._clock())
        return Replay(self.webhook(webhook_id), position, dropped)

    # -- delivery -------------------------------------------------------------------

    def deliver(
        self,
        webhook_ids: Sequence[str] | None = None,
        *,
        follow: bool = False,
        policy: DeliveryPolicy | None = None,
        stop: threading.Event | None = None,
        on_event: Callable[[str, DomainEvent], None] | None = None,
    ) -> list[DeliveryRun]:
        """Deliver to each webhook (default: every one of the programme), a thread each, until each is at the
        newest log (``follow``: until ``stop`` is set; following every webhook, one added meanwhile is picked up
        within ``policy.poll_s``, and one removed meanwhile stops). Returns one run per webhook.

        A webhook another process is delivering to is skipped (its run says so in ``errors``).
        Raises UnknownEntity for a webhook id not of this programme, OperationRefused for a removed one; when
        reading the ledger or the registry fails in one deliverer, every deliverer stops and that error is raised
        (positions kept: what was acknowledged stays acknowledged).
        """

        if webhook_ids:
            targets = [self.webhook(w) for w in webhook_ids]
            removed = [w.webhook_id for w in targets if w.removed_at is not None]
            if removed:
                raise OperationRefused(f"webhook {removed[0]} was removed: nothing is delivered to it")
        else:
            targets = self.webhooks()
        stop = stop or threading.Event()
        policy = policy or DeliveryPolicy()
        runs = {w.webhook_id: DeliveryRun(webhook_id=w.webhook_id) for w in targets}
        lock = threading.Lock()

        def told(outcome: str, event: DomainEvent) -> None:
            if on_event is not None:
                with lock:
                    on_event(outcome, event)

        failures: list[LoyaltyError] = []

        def work(webhook: WebhookRow) -> None:
            try:
                runs[webhook.webhook_id] = self._deliver_one(webhook, follow=follow, policy=policy, stop=stop, on_event=told)
            except LoyaltyError as exc:  # the ledger or the registry failed: every deliverer stops, the error is raised
                failures.append(exc)
                stop.set()
            except Exception as exc:  # noqa: BLE001 - a deliverer's bug must not vanish in a thread: it is reported
                failures.append(LoyaltyError(f"delivery to webhook {webhook.webhook_id} failed: {type(exc).__name__}"))
                stop.set()

        threads: dict[str, threading.Thread] = {}

        def start_new(webhooks: Sequence[WebhookRow]) -> None:
            for webhook in webhooks:
                if webhook.webhook_id in threads:
                    continue
                if webhook.webhook_id not in runs:  # added while following
                    runs[webhook.webhook_id] = DeliveryRun(webhook_id=webhook.webhook_id)
                    targets.append(webhook)
                thread = threading.Thread(target=work, args=(webhook,), name=f"deliver-{webhook.webhook_id}", daemon=True)
                threads[webhook.webhook_id] = thread
                thread.start()

        start_new(list(targets))
        watch_new = follow and not webhook_ids  # following every webhook: one added meanwhile is picked up
        try:
            while any(t.is_alive() for t in threads.values()) or (watch_new and not stop.is_set()):
                if stop.wait(policy.poll_s if watch_new else 0.2):
                    break
                if watch_new:
                    start_new(self.webhooks())
            for thread in threads.values():
                thread.join()
        except KeyboardInterrupt:
            stop.set()
            for thread in threads.values():
                thread.join()
        if failures:
            raise failures[0]
        return [runs[w.webhook_id] for w in targets]

    def _deliver_one(
        self, webhook: WebhookRow, *, follow: bool, policy: DeliveryPolicy, stop: threading.Event,
        on_event: Callable[[str, DomainEvent], None],
    ) -> DeliveryRun:
        store = self._open_store()
        try:
            while follow and not store.try_lock(webhook.webhook_id):  # a standby: takes over when the other stops
                if stop.wait(policy.poll_s):
                    return DeliveryRun(webhook_id=webhook.webhook_id, errors=["another process was delivering to this webhook"])
            with store.exclusive(webhook.webhook_id) as mine:
                if not mine:
                    run = DeliveryRun(webhook_id=webhook.webhook_id)
                    run.errors.append("another process is delivering to this webhook: skipped")
                    return run
                with store.transaction():
                    fresh = store.webhook(webhook.webhook_id)
                if fresh is None or fresh.removed_at is not None:
                    return DeliveryRun(webhook_id=webhook.webhook_id, errors=["removed: skipped"])
                secret = self._key.open_secret(fresh.sealed_secret, fresh.webhook_id).decode("utf-8")
                with httpx.Client(follow_redirects=False) as http:
                    deliverer = Deliverer(
                        store, self.source, fresh, secret, http=http, policy=policy, clock=self._clock, stop=stop,
                        on_event=on_event,
                    )
                    return deliverer.run(follow=follow)
        finally:
            store.close()
