"""The HTTP transport: requests under one retry policy, idempotency keys, paging.

Two ways to make a request, over the same ``httpx`` client and the same URL:

- the hot path (:meth:`Transport.request`): the method, the path under
  ``/v2/{ledger}``, the query parameters and the JSON body are built here,
  with no per-request model building, and each attempt is handed to the
  ``httpx`` transport itself (the client's own, unless the environment names
  a proxy); OAuth2 client credentials still come from
  ``formance-sdk-python``'s own hook (its token request and its process-wide
  token cache, dropped on a 401);
- the cold paths (ledger creation, schemas, server info): SDK calls, whose
  ``/api/ledger`` prefix :func:`_path_rewriter` removes for a standalone
  server.

Either way, responses are read from the raw ``httpx`` response: the SDK's
response models do not always match what a v2.4.12 server sends (an unknown
error code or an unexpected body fails the SDK's validation).

Idempotency keys
    Each call (one post, one bulk chunk, one revert) sends an
    ``Idempotency-Key`` of its own: the reference plus a random call id
    (:class:`Call`), reused by that call's retries only. So an
    ``Idempotency-Hit`` can only be this call's own earlier attempt, whose
    response was lost. What that means for ``replayed`` is told in
    :mod:`loyalty_accounts.ledger.client`.

Retries and the retry budget
    Only transient failures are retried: connection errors, timeouts, broken
    responses, HTTP 5xx and 429. Waits grow exponentially with full jitter (up
    to ``backoff_max_s``) for as long as ``retry_budget_s`` lasts (default 45 s,
    enough for a ledger or PostgreSQL restart), capped by ``max_attempts`` when
    set. A 4xx is an answer, never retried. The SDK's own retries stay off.
    When the budget is spent, a read raises :class:`LedgerUnavailable`; so does
    a write none of whose attempts can have reached the server (connection
    refused: nothing was posted). A write with an attempt that may have reached
    it unanswered (a timeout, a dropped connection, a 5xx) raises
    :class:`OutcomeUnknown`: it may have been posted, and running the same
    command again tells.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
from formance_sdk_python import SDK
from formance_sdk_python._hooks import AfterErrorContext, BeforeRequestContext, HookContext
from formance_sdk_python._hooks.clientcredentials import ClientCredentialsHook
from formance_sdk_python.models import errors as sdk_errors
from formance_sdk_python.models import shared
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_random_exponential,
)

from ..errors import LedgerRejected, LedgerUnavailable, OutcomeUnknown
from ..vocabulary.frozen import title_of
from .connection import SDK_PATH_PREFIX, LedgerConnection
from .errors import error_fields, error_from_response, unexpected
from .wire import json_body

__all__ = ["Call", "Transport", "idempotency_key", "json_content", "MAX_IDEMPOTENCY_KEY", "READ", "WRITE"]

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 256
"""The server stores idempotency keys in a varchar(256) column."""

_TRANSIENT_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures raised before the request left: the server cannot have acted on it."""

READ = "ledger:read"
WRITE = "ledger:write"
"""The OAuth2 scopes formance-sdk-python asks for: reads ``ledger:read``, writes ``ledger:write``."""

_JSON = {"Content-Type": "application/json"}
_NO_ANSWER: frozenset[int] = frozenset()


def json_content(value: Any) -> bytes:
    """A request body as formance-sdk-python writes it: compact JSON, UTF-8, keys in the given order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def idempotency_key(reference: str, call_id: str) -> str:
    """The Idempotency-Key of one call posting ``reference``: ``loyalty:{reference}#{call_id}``.

    The call id is random per call and shared by the call's retries, so an
    idempotency hit always means this call's own earlier attempt (see the
    module docstring). Long references are hashed so the key fits the server's
    256-character column.
    """
    key = f"loyalty:{reference}#{call_id}"
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return f"loyalty:sha256:{hashlib.sha256(reference.encode()).hexdigest()}#{call_id}"


_NOT_A_LEDGER_STATUSES = frozenset({404, 405, 501})
"""Statuses that, without a Formance error body, mean the URL does not lead to a Formance ledger API."""


class _Transient(Exception):
    """A failure worth retrying; LedgerUnavailable or OutcomeUnknown once the budget is spent.

    ``maybe_applied`` is False only when the request cannot have been acted on
    (it never left: connection refused; or it was rate limited: 429).
    """

    def __init__(self, message: str, code: str | None = None, *, maybe_applied: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.maybe_applied = maybe_applied


@dataclass
class Call:
    """One logical request (a post, a bulk chunk, a revert) and what its attempts left unknown.

    ``uncertain`` becomes True when an attempt may have reached the server and
    got no answer; ``started`` is the wall-clock start, compared with a
    transaction's ``insertedAt`` only as a last resort.
    """

    id: str = field(default_factory=lambda: secrets.token_hex(8))
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    uncertain: bool = False

    def inserted_since_start(self, inserted_at: datetime | None) -> bool:
        """The last-resort test: the transaction was inserted (server clock) after this call began (client clock)."""

        return inserted_at is not None and inserted_at >= self.started


URLS_KEPT = 256
"""Request URLs a transport keeps parsed (posts reuse a few; reads with filters vary more)."""


class Transport:
    """Requests to one ledger over one ``httpx`` client, under the retry policy (see the module docstring)."""

    def __init__(
        self,
        connection: LedgerConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``transport`` replaces httpx's (tests); ``clock`` (seconds, monotonic) and ``sleep`` time
        the retry budget."""
        self.connection = connection
        self.ledger = connection.ledger
        self._clock = clock
        self._sleep = sleep
        # The hot path hands its requests to the transport itself: what httpx.Client
        # adds on the way (merging URLs and headers, cookies, auth and redirect
        # handling, event hooks) costs about 0.1-0.2 ms of CPU per request and does
        # nothing for the ledger's API. Only when the environment names a proxy is
        # everything left to the client, which mounts the proxies it names.
        self._wire: httpx.BaseTransport | None = transport
        if transport is None and not urllib.request.getproxies():
            self._wire = httpx.HTTPTransport()
        self.http = httpx.Client(
            transport=self._wire,
            timeout=connection.timeout_s,
            event_hooks={"request": [_path_rewriter(connection)]},
        )
        self._timeout = httpx.Timeout(connection.timeout_s).as_dict()
        self._urls: dict[tuple[Any, ...], httpx.URL] = {}
        security: shared.Security | None = None
        if connection.client_id is not None and connection.client_secret is not None:
            # Without token_url the SDK uses the gateway's /api/auth/oauth/token.
            extra = {"token_url": connection.token_url} if connection.token_url else {}
            security = shared.Security(
                client_id=connection.client_id, client_secret=connection.client_secret, **extra
            )
        # retry_config is left unset: SDK retries are off, tenacity in send() decides.
        self._sdk = SDK(server_url=connection.sdk_base_url, client=self.http, security=security)
        self.v2 = self._sdk.ledger.v2
        # The hot path: the ledger's routes, as the SDK would address them once its prefix is handled.
        root = connection.sdk_base_url + (SDK_PATH_PREFIX if connection.gateway else "")
        self.ledger_url = f"{root}/v2/{connection.ledger}"
        self._headers = {"Accept": "application/json", "user-agent": self._sdk.sdk_configuration.user_agent}
        self._auth: dict[str, HookContext] = {}
        self._oauth: ClientCredentialsHook | None = None
        if security is not None:
            self._oauth = ClientCredentialsHook()
            self._oauth.sdk_init(connection.sdk_base_url, self.http)
            self._auth = {
                scope: HookContext(self._sdk.sdk_configuration, connection.sdk_base_url, "loyalty", [scope], security)
                for scope in (READ, WRITE)
            }

    def close(self) -> None:
        self.http.close()

    def pages(self, what: str, fetch: Callable[[str | None], Any]) -> Iterator[Any]:
        """Items of every page, following ``cursor.next`` until ``hasMore`` is false."""
        cursor: str | None = None
        while True:
            current = cursor
            response = self.send(what, lambda: fetch(current))
            body = json_body(response, what)
            page = body.get("cursor") if isinstance(body, dict) else None
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise unexpected(what, body)
            yield from page["data"]
            if not page.get("hasMore"):
                return
            cursor = page.get("next")
            if not cursor or cursor == current:
                raise LedgerRejected(
                    f"{what}: the server said hasMore without a new cursor", code="UNEXPECTED_RESPONSE"
                )

    def request(
        self,
        what: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: frozenset[int] = _NO_ANSWER,
        call: Call | None = None,
        write: bool = False,
    ) -> httpx.Response:
        """One hand-built request to ``{ledger_url}{path}`` under the retry policy (see :meth:`send`).

        ``params`` are sent in the given order; ``body`` (None: none) as compact
        JSON, encoded once and resent as is by every retry. Reads use the OAuth2
        scope ``ledger:read``, writes ``ledger:write``.
        """
        attempt = self.prepared(method, path, params=params, body=body, headers=headers, write=write)
        return self.send(what, attempt, accept=accept, call=call, write=write)

    def prepared(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        write: bool = False,
        timeout_s: float | None = None,
    ) -> Callable[[], httpx.Response]:
        """A function sending one hand-built request each time it is called (an attempt for :meth:`send`);
        ``timeout_s`` replaces the connection's timeout for it (None: the connection's)."""
        content = None if body is None else json_content(body)
        all_headers = dict(self._headers)
        if content is not None:
            all_headers.update(_JSON)
        all_headers.update(headers or {})
        url = self._url(path, params)
        auth = self._auth.get(WRITE if write else READ)
        oauth = self._oauth if auth is not None else None
        timeout = self._timeout if timeout_s is None else httpx.Timeout(timeout_s).as_dict()
        wire = self._wire

        def attempt() -> httpx.Response:
            built = httpx.Request(method, url, content=content, headers=all_headers, extensions={"timeout": timeout})
            if oauth is not None:
                # The SDK's hook fetches (or reuses) the token; a 401 drops it, as the SDK does.
                try:
                    built = oauth.before_request(BeforeRequestContext(auth), built)
                except ValueError as exc:  # the token endpoint answered with something that is not JSON
                    raise LedgerRejected(f"OAuth2 token request failed: the token endpoint's answer is not JSON ({exc})", code="UNAUTHORIZED") from None
            if wire is None:
                response = self.http.send(built)
            else:
                response = wire.handle_request(built)
                response.request = built
                try:
                    response.read()
                finally:
                    response.close()
            if oauth is not None and response.status_code == 401:
                oauth.after_error(AfterErrorContext(auth), response, None)
            return response

        return attempt

    def _url(self, path: str, params: Mapping[str, str] | None) -> httpx.URL:
        """The URL of ``path`` with ``params``, parsed once: a post's URL is the same every time
        (parsing and checking one costs about 30 µs of CPU)."""

        key = (path, *(params or {}).items())
        try:
            url = self._urls.get(key)
        except TypeError:  # a list of values: parsed each time
            return httpx.URL(self.ledger_url + path, params=params)
        if url is None:
            url = httpx.URL(self.ledger_url + path, params=params)
            if len(self._urls) >= URLS_KEPT:
                self._urls.clear()
            self._urls[key] = url
        return url

    def attempts(self, what: str, request: Callable[[], Any], call: Call) -> Callable[[], httpx.Response]:
        """One logical write as a function: each use of it is another :meth:`send` under ``call`` (its idempotency key)."""

        return lambda: self.send(what, request, call=call, write=True)

    def send(
        self,
        what: str,
        request: Callable[[], Any],
        *,
        accept: frozenset[int] = frozenset(),
        call: Call | None = None,
        write: bool = False,
    ) -> httpx.Response:
        """Run one request (``request()``: a hand-built attempt or an SDK call) under the retry policy;
        return the raw HTTP response.

        2xx (and statuses in ``accept``) are returned; other 4xx raise the mapped
        project error at once; transient failures are retried while the retry
        budget lasts (and ``max_attempts`` allows). Then a ``write`` any of whose
        attempts may have been acted on raises OutcomeUnknown; anything else
        raises LedgerUnavailable. ``call`` collects that uncertainty across
        several sends of the same request.
        """
        started = self._clock()
        try:
            # The first attempt outside the retry machinery: most requests need no other.
            return self._attempt(what, request, accept)
        except _Transient as exc:
            failed = exc
        return self._retry(what, request, accept, call=call, write=write, started=started, failed=failed)

    def _retry(
        self,
        what: str,
        request: Callable[[], Any],
        accept: frozenset[int],
        *,
        call: Call | None,
        write: bool,
        started: float,
        failed: _Transient,
    ) -> httpx.Response:
        """The rest of :meth:`send` once its first attempt ended in ``failed``: tenacity counts that attempt
        as its first (same budget, waits, logging and attempt numbers as if it had run it)."""
        settings = self.connection
        attempts = 0
        uncertain = call.uncertain if call is not None else False
        first: list[_Transient] = [failed]

        def out_of_budget(state: RetryCallState) -> bool:
            if settings.max_attempts is not None and state.attempt_number >= settings.max_attempts:
                return True
            return self._clock() - started >= settings.retry_budget_s

        def attempt() -> httpx.Response:
            nonlocal attempts, uncertain
            attempts += 1
            try:
                if first:
                    raise first.pop()
                return self._attempt(what, request, accept)
            except _Transient as exc:
                uncertain = uncertain or exc.maybe_applied
                if call is not None:
                    call.uncertain = uncertain
                raise

        retrying = Retrying(
            stop=out_of_budget,
            wait=wait_random_exponential(multiplier=settings.backoff_initial_s, max=settings.backoff_max_s),
            retry=retry_if_exception_type(_Transient),
            before_sleep=_log_retry(what, settings.retry_budget_s),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            spent = f"{attempts} attempt(s) over {self._clock() - started:.1f} s; last error: {exc}"
            if write and uncertain:
                raise OutcomeUnknown(
                    f"{what}: no definite answer from the Formance ledger at {settings.shown_url} after {spent}. "
                    "It may have been posted: run the same command again to learn",
                    code=exc.code,
                    details={"what": what, "attempts": attempts},
                ) from exc
            raise LedgerUnavailable(
                f"Formance ledger at {settings.shown_url} is unavailable: {what} failed after {spent}",
                code=exc.code,
            ) from exc

    def _attempt(self, what: str, call: Callable[[], Any], accept: frozenset[int]) -> httpx.Response:
        try:
            result = call()
            # A hand-built request answers with the httpx response, an SDK call with a model holding it.
            response: httpx.Response = result if isinstance(result, httpx.Response) else result.raw_response
        except _NOT_SENT_ERRORS as exc:
            raise _Transient(_failure(exc), maybe_applied=False) from exc
        except _TRANSIENT_TRANSPORT_ERRORS as exc:
            raise _Transient(_failure(exc)) from exc
        except httpx.TransportError as exc:  # e.g. an unsupported URL scheme: retrying cannot help
            raise LedgerUnavailable(f"cannot reach the ledger at {self.connection.shown_url}: {exc}") from exc
        except sdk_errors.NoResponseError as exc:
            raise _Transient(str(exc)) from exc
        except sdk_errors.SDKBaseError as exc:
            # The SDK raises for statuses or bodies it did not expect (unknown
            # error codes, non-JSON bodies, models v2.4.12 does not match): the
            # raw response still says what the server meant.
            response = exc.raw_response
        except Exception as exc:
            # The SDK's OAuth2 hook raises a bare Exception when the token endpoint refuses.
            if type(exc) is Exception and "token endpoint" in str(exc):
                token_status = re.search(r"status code (\d{3})", str(exc))
                if token_status and (int(token_status.group(1)) >= 500 or token_status.group(1) == "429"):
                    raise _Transient(f"OAuth2 token endpoint: {exc}", maybe_applied=False) from exc
                raise LedgerRejected(f"OAuth2 token request failed: {exc}", code="UNAUTHORIZED") from exc
            raise
        status = response.status_code
        if log.isEnabledFor(logging.DEBUG):
            request = response.request
            log.debug("%s: %s %s -> %d", what, request.method, request.url.path, status)
        if 200 <= status < 300 or status in accept:
            return response
        code, message, _ = error_fields(response)
        if status in _NOT_A_LEDGER_STATUSES and code.startswith("HTTP_"):
            # Formance answers every route it has with a JSON error; a bare 404/405/501 is another server
            # (chi's "404 page not found" on a wrong base path, a web server on the wrong port). Retrying cannot help.
            request = response.request
            raise LedgerUnavailable(
                f"{what}: the server at {self.connection.shown_url} is not a Formance ledger API "
                f"({request.method} {request.url.path} -> {status}, {message}); check the ledger URL and its base path",
                code=code,
            )
        if status >= 500 or status == 429:
            # 429 (RFC 6585): rate limited, the request was not processed; a 5xx may come after work was done.
            raise _Transient(f"HTTP {status} {code}: {message}", code=code, maybe_applied=status != 429)
        raise error_from_response(what, response)


def _failure(exc: Exception) -> str:
    """A transport failure in words: ``connect error: [Errno 111] Connection refused``, ``read timeout: ...``."""

    return f"{title_of(type(exc))}: {exc or 'no detail'}"


def _path_rewriter(connection: LedgerConnection) -> Callable[[httpx.Request], None]:
    """An httpx request hook removing the SDK's ``/api/ledger`` prefix for a standalone server."""
    base = httpx.URL(connection.sdk_base_url)
    base_path = base.path.rstrip("/")
    prefix = base_path + SDK_PATH_PREFIX

    def rewrite(request: httpx.Request) -> None:
        if connection.gateway:
            return
        url = request.url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            return  # e.g. an OAuth2 token endpoint elsewhere
        if url.path == prefix or url.path.startswith(prefix + "/"):
            request.url = url.copy_with(path=base_path + url.path[len(prefix) :] or "/")

    return rewrite


def _log_retry(what: str, budget_s: float) -> Callable[[RetryCallState], None]:
    """One warning when a call starts retrying; each later attempt only at debug level."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if state.attempt_number == 1:
            log.warning("%s: no definite answer from the ledger (%s); retrying for up to %.0f s", what, error, budget_s)
        else:
            log.debug("%s: attempt %d failed (%s); retrying", what, state.attempt_number, error)

    return before_sleep
