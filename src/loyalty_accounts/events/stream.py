"""The event stream of one programme: the ledger's log read in id order, each log told as its events.

Why reading the log in id order misses nothing: Formance v2.4.12 writes a log under a per-ledger
transaction-scoped advisory lock taken before the log's id is drawn from its sequence, when the ledger
hashes its logs synchronously (the default, ``HASH_LOGS=SYNC``; ``internal/storage/ledger/logs.go``,
``InsertLog``). The lock is held until the writing transaction commits, so logs commit in id order:
once a reader sees log ``n``, every log before ``n`` that will ever exist is visible. A ledger without
synchronous hashes stores logs without a hash, and :func:`~.derive.events_of_log` refuses them.

Positions (:class:`~.model.EventPosition`) are given on the command line as ``start`` (the first
log), ``now`` (after the newest log), a log id (``#42`` or ``42``) or an instant (ISO 8601, or a bare
date in the programme's time zone): the first log written at or after it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Iterator

from ..chart import Chart
from ..errors import InvalidCommand
from ..ports import LedgerPort
from ..vocabulary.instants import parse_instant
from ..vocabulary.personal_data import PersonalDataPort
from .derive import events_of_log
from .model import DomainEvent, EventPosition

__all__ = ["EventSource", "LogEvents", "START"]

START = EventPosition(log_id=0, index=0)
_LOG_ID = re.compile(r"^#?([0-9]{1,18})$")


class LogEvents:
    """One log's id and its events (none for a log that moved no member's points)."""

    __slots__ = ("log_id", "events")

    def __init__(self, log_id: int, events: list[DomainEvent]) -> None:
        self.log_id = log_id
        self.events = events


class EventSource:
    """The events of ``programme``'s ledger (``ledger``), read with ``chart``; ``personal_data``: the member
    registry's screen, when one is configured (see :func:`~.derive.events_of_log`)."""

    def __init__(self, ledger: LedgerPort, chart: Chart, programme: str, *, personal_data: PersonalDataPort | None = None) -> None:
        self._ledger = ledger
        self._chart = chart
        self.programme = programme
        self._personal_data = personal_data

    def logs(self, start: EventPosition = START) -> Iterator[LogEvents]:
        """Every log from ``start`` on with its events (those before ``start`` within its log left out), in order.

        Raises EventStreamError (a log without a hash), LedgerUnavailable.
        """

        for log in self._ledger.logs(from_id=start.log_id):
            log_id = log.get("id")
            if not isinstance(log_id, int) or log_id < start.log_id:
                continue
            events = [e for e in events_of_log(log, self._chart, self.programme, self._personal_data) if not start.after(e.position)]
            yield LogEvents(log_id, events)

    def events(self, start: EventPosition = START, *, through: int | None = None) -> Iterator[DomainEvent]:
        """The events from ``start`` on, through log ``through`` (default: to the newest log), in order."""

        for item in self.logs(start):
            if through is not None and item.log_id > through:
                return
            yield from item.events

    def head(self) -> int | None:
        """The newest log's id (None: the ledger has no log)."""

        return self._ledger.latest_log_id()

    def position(self, text: str, *, now: datetime | None = None) -> EventPosition:
        """The position ``text`` names (see the module docstring). Raises InvalidCommand for anything else."""

        value = text.strip()
        if not value:
            raise InvalidCommand("--from: give start, now, a log id (#42) or an instant")
        if value == "start":
            return START
        if value == "now":
            head = self.head()
            return EventPosition(log_id=0 if head is None else head + 1, index=0)
        match = _LOG_ID.match(value)
        if match:
            wanted, head = int(match.group(1)), self.head()
            newest = -1 if head is None else head
            if wanted > newest + 1:
                raise InvalidCommand(f"--from #{wanted}: the ledger's newest log is #{newest}; a later one would skip what is not written yet")
            return EventPosition(log_id=wanted, index=0)
        try:
            instant = parse_instant(value, self._chart.timezone, what="--from")
        except InvalidCommand:
            raise InvalidCommand(
                "--from: give start, now, a log id (#42) or an instant (2026-11-01, 2026-11-01T09:00:00Z)"
            ) from None
        if now is not None and instant > now:
            raise InvalidCommand(f"--from {value}: that instant is in the future")
        found = self._ledger.first_log_since(instant)
        if found is None:
            head = self.head()
            return EventPosition(log_id=0 if head is None else head + 1, index=0)
        return EventPosition(log_id=found, index=0)
