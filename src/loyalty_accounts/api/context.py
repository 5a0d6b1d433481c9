"""What every request handler shares: the programmes, the registry stores (one connection per thread),
the clock, authentication and the problem answers.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any, Callable

import psycopg
from fastapi import Request
from fastapi.responses import Response

from ..app import App
from ..errors import InvalidCommand, LoyaltyError
from ..settings import Settings
from ..vocabulary.cells import plain
from ..vocabulary.instants import parse_instant
from ..vocabulary.quoting import quoted
from ..reports.common import utc_now
from .idempotency import IdempotencyStore
from .keys import ApiKey, ApiKeys, KeyStore, NotAllowed
from .problems import problem_of
from .programmes import Programmes

__all__ = ["QUERY_NAMES", "ApiContext", "json_response", "problem_response", "refuse_unknown_query"]

PROBLEM_TYPE = "application/problem+json"

QUERY_NAMES: dict[str, frozenset[str]] = {}
"""Each route's template → the query parameters it reads (a route not here reads none): filled where routes are
registered (:mod:`.reads`)."""


def refuse_unknown_query(request: Request) -> None:
    """InvalidCommand naming the query parameters the route does not read (``?asof=`` for ``?as_of=``): a
    misspelt parameter must not quietly answer something else (today's balance for one as of a past date)."""

    allowed = QUERY_NAMES.get(instance_of(request) or "", frozenset())
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        said = ", ".join(quoted(name) for name in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        reads = f"it reads {', '.join(sorted(allowed))}" if allowed else "it reads none"
        raise InvalidCommand(f"unknown query parameter {said}: {reads}")


def json_response(payload: Any, status: int = 200) -> Response:
    """``payload`` as compact JSON (decimals as exact strings, instants ISO 8601)."""

    return Response(json.dumps(plain(payload), separators=(",", ":")).encode("utf-8"), status_code=status, media_type="application/json")


def instance_of(request: Request) -> str | None:
    """A problem's ``instance``: the route's template (``/v1/programmes/{programme}/members/{member}/balance``), never
    the path as sent, which may hold what a caller typed (an email where a member id goes); None off every route."""

    route = request.scope.get("route")
    return getattr(route, "path", None)


def problem_response(error: LoyaltyError, request: Request) -> Response:
    status, body = problem_of(error, instance=instance_of(request))
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers or None)


class ApiContext:
    """The server's state: ``programmes``, the registry database (``connect`` opens a connection to it), the clock."""

    def __init__(
        self, settings: Settings, programmes: Programmes, connect: Callable[[], psycopg.Connection], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.settings = settings
        self.programmes = programmes
        self._connect = connect
        self.clock = clock
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def keys(self) -> ApiKeys:
        """The API keys, over this thread's registry connection."""

        return ApiKeys(KeyStore(self._connection()))

    def idempotency(self) -> IdempotencyStore:
        return IdempotencyStore(self._connection())

    def app(self, programme: str) -> App:
        return self.programmes.app(programme)

    def authenticate(self, request: Request, programme: str) -> ApiKey:
        """The request's API key (``Authorization: Bearer lk_...``), valid now for ``programme``. Raises KeyRefused;
        then InvalidCommand for a query parameter the route does not read (:func:`refuse_unknown_query`)."""

        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        text = token.strip() if scheme.lower() == "bearer" else None
        key = self.keys().authenticate(text, programme, self.clock())
        request.state.key_id = key.key_id
        refuse_unknown_query(request)  # once the caller is known: one without a key is told nothing of its request
        return key

    def instant(self, programme: str, text: str | None, what: str) -> datetime | None:
        """A query parameter's instant (ISO 8601 with offset, or a bare date in the programme's zone); None if absent."""

        if text is None or text == "":
            return None
        return parse_instant(text, self.app(programme).chart.timezone, what=what)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self.programmes.close()


def require(key: ApiKey, *scopes: str, member: str | None = None) -> None:
    """Refuse (NotAllowed) unless ``key`` has one of ``scopes`` (or admin); a ``member:read`` key only for its own member."""

    for wanted in scopes:
        if not key.allows(wanted):
            continue
        if wanted == "member:read" and "admin" not in key.scopes and key.member != member:
            continue
        return
    if "member:read" in key.scopes and "member:read" in scopes:
        raise NotAllowed("this API key reads its own member only")
    raise NotAllowed(f"this API key's scopes ({', '.join(key.scopes)}) do not allow this (needs {' or '.join(scopes)})")


def positive_limit(value: int, most: int) -> int:
    if not 1 <= value <= most:
        raise InvalidCommand(f"limit: 1 to {most}")
    return value
