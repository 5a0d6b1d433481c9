"""Delivering the stream to one webhook: at least once, in ledger order, signed, retried, dead-lettered.

:class:`Deliverer` walks the stream from the webhook's stored position and POSTs each event it wants
(JSON body, :mod:`.signing` header), one at a time, in log order, so a member's events arrive in the
order the ledger recorded them. After each acknowledged event (any 2xx) the position moves past it in
the registry database; a crash between the answer and that write sends the event again, so a receiver
sees every event at least once and de-duplicates by ``Loyalty-Event-Id`` (the event's ``id``).

A failed attempt is retried with exponential backoff and jitter (tenacity). Two kinds of failure:

- **refused**: the receiver answered other than 2xx, or gave no answer within the timeout. After
  ``max_attempts`` such attempts the event is a *dead letter*; the member's later events are parked
  behind it (dead letters too, never attempted) so they cannot overtake it; other members go on.
- **unreachable**: no connection (refused, reset, dropped mid-answer). That is the receiver being down,
  not the event: following (``follow=True``), the deliverer waits for it without limit (backoff capped);
  a single pass gives up after ``max_attempts`` with :class:`WebhookUnreachable`, position kept.

``loyalty events replay`` moves the position back; the stream is then delivered again from there.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential, wait_random

from ..errors import LoyaltyError
from ..version import __version__
from ..vocabulary.frozen import Frozen
from .model import DomainEvent, EventPosition
from .signing import SIGNATURE_HEADER, sign
from .store import DeliveryStore, WebhookRow
from .stream import EventSource

__all__ = ["DeliveryPolicy", "DeliveryRun", "Deliverer", "WebhookUnreachable"]

log = logging.getLogger(__name__)
REMOVAL_CHECK_S = 1.0
"""How often (seconds) a deliverer looks whether its webhook was removed, between events and while retrying."""


class WebhookUnreachable(LoyaltyError):
    """A webhook could not be reached on any attempt of a single pass; its position is kept (exit 3)."""

    exit_code = 3


class DeliveryPolicy(Frozen):
    """How hard to try: attempts per event, backoff (seconds), the answer's timeout, how often to look for new logs."""

    max_attempts: int = 8
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0
    poll_s: float = 1.0


@dataclass
class DeliveryRun:
    """What one deliverer did: events acknowledged, dead-lettered after attempts, parked, left out by type."""

    webhook_id: str
    delivered: int = 0
    dead_lettered: int = 0
    parked: int = 0
    filtered: int = 0
    position: EventPosition | None = None
    unreachable: str | None = None
    errors: list[str] = field(default_factory=list)


class _Refused(Exception):
    """The receiver answered, but not with 2xx (or not in time)."""


class _Unreachable(Exception):
    """No connection to the receiver."""


class _Stopped(Exception):
    """The deliverer was asked to stop while waiting."""


class Deliverer:
    """Delivers ``source``'s events to ``webhook`` (its ``secret`` opened), recording progress in ``store``.

    ``stop`` ends the run between events or during a wait; ``on_event`` is told of each event handled
    (``"delivered"``, ``"dead"``, ``"parked"``, ``"filtered"``); ``clock`` gives the instants recorded.
    """

    def __init__(
        self,
        store: DeliveryStore,
        source: EventSource,
        webhook: WebhookRow,
        secret: str,
        *,
        http: httpx.Client,
        policy: DeliveryPolicy,
        clock: Callable[[], datetime],
        stop: threading.Event | None = None,
        on_event: Callable[[str, DomainEvent], None] | None = None,
    ) -> None:
        self._store = store
        self._source = source
        self._webhook = webhook
        self._secret = secret
        self._http = http
        self._policy = policy
        self._clock = clock
        self._stop = stop or threading.Event()
        self._on_event = on_event or (lambda outcome, event: None)
        self._follow = False
        self._refusals = 0
        self._unreachable = 0
        self._removal_checked = time.monotonic()

    def run(self, *, follow: bool = False) -> DeliveryRun:
        """Deliver from the stored position to the newest log; ``follow``: then keep looking for new logs until stopped."""

        self._follow = follow
        webhook_id = self._webhook.webhook_id
        run = DeliveryRun(webhook_id=webhook_id)
        with self._store.transaction():
            blocked = self._store.blocked_members(webhook_id)
        position = self._webhook.position
        try:
            while True:
                last_log: int | None = None
                for item in self._source.logs(position):
                    for event in item.events:
                        if self._stop.is_set() or self._removed_lately():
                            raise _Stopped()
                        self._handle(event, blocked, run)
                        position = EventPosition(log_id=event.log_id, index=event.index + 1)
                    last_log = item.log_id
                if last_log is not None:
                    position = EventPosition(log_id=last_log + 1, index=0)
                    with self._store.transaction():
                        self._store.advance(webhook_id, position, self._clock())
                if not follow or self._stop.wait(self._policy.poll_s) or self._removed():
                    break
        except _Stopped:
            pass
        except WebhookUnreachable as exc:
            run.unreachable = exc.message
        run.position = position
        return run

    def _removed(self) -> bool:
        """Whether the webhook was removed since the run began (a deliverer that follows stops then)."""

        with self._store.transaction():
            row = self._store.webhook(self._webhook.webhook_id)
        return row is None or row.removed_at is not None

    # -- one event -------------------------------------------------------------

    def _handle(self, event: DomainEvent, blocked: dict[str, str], run: DeliveryRun) -> None:
        webhook_id = self._webhook.webhook_id
        if not self._webhook.wants(event.type):
            run.filtered += 1
            self._on_event("filtered", event)
            return
        if event.member in blocked:
            with self._store.transaction():
                self._store.dead_letter(
                    webhook_id, event, attempts=0, error=f"parked behind {blocked[event.member]}",
                    parked_behind=blocked[event.member], at=self._clock(),
                )
            run.parked += 1
            self._on_event("parked", event)
            return
        try:
            try:
                self._send(event)
            except (_Refused, _Unreachable):
                if self._stop.is_set():  # asked to stop while retrying: neither a dead letter nor unreachable
                    raise _Stopped() from None
                raise
        except _Refused as exc:
            with self._store.transaction():
                self._store.dead_letter(
                    webhook_id, event, attempts=self._refusals, error=str(exc), parked_behind=None, at=self._clock()
                )
            blocked[event.member] = event.id
            run.dead_lettered += 1
            run.errors.append(f"{event.id}: {exc}")
            self._on_event("dead", event)
            return
        except _Unreachable as exc:
            raise WebhookUnreachable(
                f"webhook {webhook_id} unreachable after {self._unreachable} attempt(s): {exc}; "
                f"delivery stopped before event {event.id} (log {event.log_id}), position kept"
            ) from None
        with self._store.transaction():
            self._store.advance(
                webhook_id, EventPosition(log_id=event.log_id, index=event.index + 1), self._clock(), delivered=1
            )
        run.delivered += 1
        self._on_event("delivered", event)

    def _send(self, event: DomainEvent) -> None:
        """POST ``event`` until acknowledged, retrying as the module docstring says. Raises _Refused, _Unreachable, _Stopped."""

        self._refusals = 0
        self._unreachable = 0
        body = event.body()
        retrying = Retrying(
            retry=retry_if_exception_type((_Refused, _Unreachable)),
            stop=self._given_up,
            # Doubling from initial_backoff_s up to max_backoff_s, plus up to initial_backoff_s of jitter.
            wait=wait_exponential(multiplier=self._policy.initial_backoff_s, max=self._policy.max_backoff_s)
            + wait_random(0, self._policy.initial_backoff_s),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._post(event, body)

    def _given_up(self, state: RetryCallState) -> bool:
        if self._stop.is_set():
            return True
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, _Refused):
            return self._refusals >= self._policy.max_attempts
        return not self._follow and self._unreachable >= self._policy.max_attempts

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._stop.wait(min(left, REMOVAL_CHECK_S)) or self._removed_lately():
                raise _Stopped()

    def _removed_lately(self) -> bool:
        """:meth:`_removed`, asked at most once every :data:`REMOVAL_CHECK_S` seconds."""

        now = time.monotonic()
        if now - self._removal_checked < REMOVAL_CHECK_S:
            return False
        self._removal_checked = now
        return self._removed()

    def _post(self, event: DomainEvent, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"loyalty-accounts/{__version__}",
            "Loyalty-Event-Id": event.id,
            "Loyalty-Event-Type": event.type,
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        try:
            # Streamed, and the answer's body never read: only its status counts, and a receiver sending an
            # endless body must not fill the deliverer's memory.
            with self._http.stream("POST", self._webhook.url, content=body, headers=headers, timeout=self._policy.timeout_s) as response:
                status = response.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            self._unreachable += 1
            log.warning("webhook %s unreachable (attempt %d): %s", self._webhook.webhook_id, self._unreachable, type(exc).__name__)
            raise _Unreachable(f"{type(exc).__name__}: {str(exc)[:200] or 'connection failed'}") from None
        except httpx.TimeoutException:
            self._refusals += 1
            raise _Refused(f"no answer within {self._policy.timeout_s:g} s") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError, ValueError) as exc:
            self._refusals += 1  # a URL stored before it was checked as it is now: the event cannot be sent there
            raise _Refused(f"the webhook URL cannot be used ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            self._unreachable += 1
            raise _Unreachable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        if not 200 <= status < 300:
            self._refusals += 1
            log.warning("webhook %s answered HTTP %d to %s (attempt %d)", self._webhook.webhook_id, status, event.id, self._refusals)
            raise _Refused(f"answered HTTP {status}")
