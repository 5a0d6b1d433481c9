"""The HTTP adapter between loyalty-accounts and a Formance Ledger v2 server.

This is the only module that talks HTTP to Formance. Everything the rest of
the package knows about the ledger goes through :class:`LedgerClient`, which
implements :class:`~loyalty_accounts.ports.LedgerPort`. Keeping the wire
format, the error codes and the retry policy in one place means a server or
SDK upgrade touches one file, and service code can be tested with a fake port.

Requests are built by ``formance-sdk-python`` (paths, query parameters, OAuth2
client credentials). Responses are read from the raw ``httpx`` response: the
SDK's response models do not always match what a v2.4.12 server sends (an
unknown error code or an unexpected body fails the SDK's validation), and
amounts are arbitrary-precision integers that must stay Python ``int``.

Exactly once
    Every transaction carries ``reference`` = the plan's business key (unique
    per ledger: the database refuses a second transaction with it), and the
    request body is byte-for-byte the same for the same plan. When the ledger
    reports the reference as taken (409 ``CONFLICT``), or refuses the post
    with ``INSUFFICIENT_FUND`` — v2.4.12 runs the script and its balance checks
    before the reference's uniqueness is checked, so the losing twin of two
    identical spends of the whole balance hears "insufficient funds"
    (``internal/controller/ledger/controller_default.go``, createTransaction,
    then ``log_process.go``) — the original is looked up by reference: the same
    ``command_hash`` answers with it; another one raises
    :class:`DuplicateOperation`; no transaction with the reference means the
    refusal stands.

Point in time
    Every read "as of" an instant ``pit`` gives the ledger's state *effective*
    at ``pit``: what the transactions whose timestamp is at or before ``pit``
    did, whenever they were posted. A transaction posted today but dated last
    month is in a read as of a day last month. On v2.4.12 (sources under
    ``internal/storage/ledger/``):

    - accounts: ``expand=effectiveVolumes``, never ``expand=volumes``, which
      with ``pit`` follows *insertion* order (``resource_accounts.go``); an
      account is listed once its ``first_usage`` (the earliest timestamp of a
      transaction touching it, lowered by back-dated writes) is at or before
      ``pit``. Without ``pit`` both expansions give the current volumes.
    - aggregate balances: ``pit`` without ``useInsertionDate``
      (``resource_aggregated_balances.go``);
    - volumes: ``endTime``/``startTime`` without ``insertionDate``, both
      bounds inclusive (``resource_volumes.go``);
    - transactions: ``pit`` keeps those with ``timestamp <= pit``; their
      metadata is the revision dated at or before ``pit`` (creation metadata
      is dated by the timestamp, later additions by when they were written)
      and ``reverted`` says whether the revert was written by then
      (``resource_transactions.go``).

    A read without ``pit`` gives the current state: every transaction posted
    so far, whatever its timestamp, which is what the ledger checks a new
    posting's balances against (``balances.go`` reads ``accounts_volumes``).

``replayed`` means "an earlier call posted this"
    Each call (one :meth:`LedgerClient.post`, one bulk chunk, one revert) sends
    an ``Idempotency-Key`` of its own: the reference plus a random call id,
    reused by that call's retries only. So an ``Idempotency-Hit`` can only be
    this call's own earlier attempt, whose response was lost (``replayed=False``:
    this call posted it). A taken reference found while every earlier attempt
    of this call was answered means another call posted it (``replayed=True``).
    Found after an attempt that got no answer, it may be ours (an attempt still
    running on the server when the retry arrived) or another call's: the same
    request is sent once more with the same key, and the ledger's idempotency
    record decides (a hit: ours; refused again: another call's). Only if that
    check gets no answer either is the transaction's ``insertedAt`` (server
    clock) compared with the call's start (client clock).

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
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
from formance_sdk_python import SDK
from formance_sdk_python.models import errors as sdk_errors
from formance_sdk_python.models import ledger as sdk_models
from formance_sdk_python.models import operations, shared
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from .errors import (
    ChartError,
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerRejected,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
    UnknownEntity,
)
from .types import AccountState, Posting, PostedTransaction, TransactionPlan, Volume, VolumeRow
from .vocabulary.amounts import Asset

__all__ = ["LedgerClient", "LedgerConnection", "idempotency_key"]

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:3068"
DEFAULT_LEDGER = "loyalty"
SDK_PATH_PREFIX = "/api/ledger"
"""formance-sdk-python hard-codes this gateway prefix in front of every ledger route."""
PAGE_SIZE = 100
"""The server's maximum page size (go-libs paginate.MaxPageSize)."""
BULK_CHUNK = 100
"""The server's default bulk limit (``--bulk-max-size``); beyond it: 413 BULK_SIZE_EXCEEDED."""
MAX_IDEMPOTENCY_KEY = 256
"""The server stores idempotency keys in a varchar(256) column."""
DEFAULT_TIMEOUT_S = 10.0
"""Seconds one HTTP request may take (``LOYALTY_LEDGER_TIMEOUT``)."""
DEFAULT_RETRY_BUDGET_S = 45.0
"""Seconds transient failures are retried for (``LOYALTY_LEDGER_RETRY_BUDGET``): a ledger or
PostgreSQL restart takes several seconds to about 30."""

_LEDGER_NAME = re.compile(r"^[0-9a-zA-Z_-]{1,63}$")
_ADDRESS = re.compile(r"^[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*$")
# Address filters: an empty segment matches any one segment, a trailing "..." any subtree.
# The server splices exact addresses into SQL text, so anything else is refused here.
_ADDRESS_FILTER = re.compile(r"^(\.\.\.|[a-zA-Z0-9_-]*(:[a-zA-Z0-9_-]*)*(:\.\.\.)?)$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_EFFECTIVE_VOLUMES = "effectiveVolumes"
"""Account expansion giving volumes by effective date (also the key it comes back under)."""

_ERROR_TYPES: Mapping[str, type[LoyaltyError]] = {
    "INSUFFICIENT_FUND": InsufficientPoints,
    "NOT_FOUND": UnknownEntity,
    "LEDGER_NOT_FOUND": UnknownEntity,
    "ALREADY_REVERT": DuplicateOperation,
    "CONFLICT": DuplicateOperation,
    "VALIDATION": LedgerRejected,
    "COMPILATION_FAILED": LedgerRejected,
    "INTERPRETER_PARSE": LedgerRejected,
    "INTERPRETER_RUNTIME": LedgerRejected,
    "NO_POSTINGS": LedgerRejected,
    "METADATA_OVERRIDE": LedgerRejected,
    "SCHEMA_NOT_SPECIFIED": LedgerRejected,
    "SCHEMA_ALREADY_EXISTS": LedgerRejected,
    "OUTDATED_SCHEMA": LedgerRejected,
    "BULK_SIZE_EXCEEDED": LedgerRejected,
    "LEDGER_ALREADY_EXISTS": LedgerRejected,
    "INTERNAL": LedgerUnavailable,
    "TIMEOUT": LedgerUnavailable,
}
"""Formance error code -> project error. Codes not listed become LedgerRejected."""

_TRANSIENT_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures raised before the request left: the server cannot have acted on it."""


class LedgerConnection(BaseModel):
    """Where the ledger is and how to talk to it.

    ``gateway=True`` means a Formance Stack gateway that serves the ledger under
    ``/api/ledger`` (``url`` is the gateway root); ``False`` means a standalone
    ``ledger serve`` with routes at ``/v2/...``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = DEFAULT_URL
    ledger: str = DEFAULT_LEDGER
    gateway: bool = False
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    token_url: str | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    """Seconds one HTTP request may take before it counts as a (transient) failure."""
    retry_budget_s: float = Field(default=DEFAULT_RETRY_BUDGET_S, ge=0)
    """Seconds after a request's first attempt during which transient failures are retried (0: no retry)."""
    max_attempts: int | None = Field(default=None, ge=1)
    """An optional cap on attempts per request, on top of the budget."""
    backoff_initial_s: float = Field(default=0.2, ge=0)
    backoff_max_s: float = Field(default=2.0, ge=0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = httpx.URL(value)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"ledger URL must be http(s)://host[:port][/path], got {value!r}")
        return value.rstrip("/")

    @field_validator("ledger")
    @classmethod
    def _check_ledger(cls, value: str) -> str:
        if not _LEDGER_NAME.match(value):
            raise ValueError(f"ledger name must match {_LEDGER_NAME.pattern}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_credentials(self) -> LedgerConnection:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("OAuth2 needs both client_id and client_secret")
        return self

    @property
    def sdk_base_url(self) -> str:
        """The URL handed to the SDK, which appends ``/api/ledger/...`` itself."""
        if self.gateway and self.url.endswith(SDK_PATH_PREFIX):
            return self.url[: -len(SDK_PATH_PREFIX)]
        return self.url

    @classmethod
    def from_env(cls, ledger: str | None = None) -> LedgerConnection:
        """Settings from ``LOYALTY_LEDGER_*`` / ``LOYALTY_OAUTH_*`` environment variables.

        ``LOYALTY_LEDGER_TIMEOUT`` (seconds per request, > 0) and
        ``LOYALTY_LEDGER_RETRY_BUDGET`` (seconds of retrying, >= 0) are decimal
        numbers of seconds; InvalidCommand names the variable when one is not.
        """
        env = os.environ
        timing: dict[str, float] = {}
        for name, setting in (("LOYALTY_LEDGER_TIMEOUT", "timeout_s"), ("LOYALTY_LEDGER_RETRY_BUDGET", "retry_budget_s")):
            text = env.get(name, "").strip()
            if not text:
                continue
            try:
                timing[setting] = float(text)
            except ValueError:
                raise InvalidCommand(f"{name} must be a number of seconds, got {text!r}") from None
        try:
            return cls(
                url=env.get("LOYALTY_LEDGER_URL") or DEFAULT_URL,
                ledger=ledger or env.get("LOYALTY_LEDGER_NAME") or DEFAULT_LEDGER,
                gateway=env.get("LOYALTY_LEDGER_GATEWAY", "").strip().lower() in ("1", "true", "yes", "on"),
                client_id=env.get("LOYALTY_OAUTH_CLIENT_ID") or None,
                client_secret=env.get("LOYALTY_OAUTH_CLIENT_SECRET") or None,
                token_url=env.get("LOYALTY_OAUTH_TOKEN_URL") or None,
                **timing,
            )
        except ValidationError as exc:
            raise InvalidCommand(f"invalid ledger settings in the environment: {exc}") from exc


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
class _Call:
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


class LedgerClient:
    """:class:`~loyalty_accounts.ports.LedgerPort` over HTTP (see the module docstring)."""

    def __init__(
        self,
        connection: LedgerConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``clock`` (seconds, monotonic) and ``sleep`` time the retry budget; tests replace them."""
        self.connection = connection
        self.ledger = connection.ledger
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.Client(
            transport=transport,
            timeout=connection.timeout_s,
            event_hooks={"request": [_path_rewriter(connection)]},
        )
        security: shared.Security | None = None
        if connection.client_id is not None and connection.client_secret is not None:
            # Without token_url the SDK uses the gateway's /api/auth/oauth/token.
            extra = {"token_url": connection.token_url} if connection.token_url else {}
            security = shared.Security(
                client_id=connection.client_id, client_secret=connection.client_secret, **extra
            )
        # retry_config is left unset: SDK retries are off, tenacity in _send() decides.
        self._sdk = SDK(server_url=connection.sdk_base_url, client=self._http, security=security)
        self._v2 = self._sdk.ledger.v2

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- server and ledger -------------------------------------------------

    def server_version(self) -> str:
        """Version from ``GET /_/info``.

        The SDK calls ``/api/ledger/_/info``: a gateway forwards that to the
        ledger's ``/_/info``, and for a standalone server the prefix is stripped.
        """
        response = self._send("read server info", lambda: self._v2.get_info())
        body = _json_body(response, "server info")
        version = body.get("version") if isinstance(body, dict) else None
        if not isinstance(version, str):
            raise LedgerRejected(
                f"{self.connection.url}/_/info did not report a version: {response.text[:200]!r}",
                code="UNEXPECTED_RESPONSE",
            )
        return version

    def create_ledger(self, *, metadata: Mapping[str, str] | None = None) -> bool:
        request = operations.V2CreateLedgerRequest(
            ledger=self.ledger,
            v2_create_ledger_request=sdk_models.V2CreateLedgerRequest(metadata=dict(metadata) if metadata else None),
        )
        try:
            self._send("create ledger", lambda: self._v2.create_ledger(request=request), write=True)
        except LedgerRejected as exc:
            # v2.4.12 answers 400 LEDGER_ALREADY_EXISTS (not 409) for an existing ledger.
            if exc.code == "LEDGER_ALREADY_EXISTS":
                return False
            raise
        return True

    def insert_schema(self, version: str, schema: Mapping[str, Any]) -> bool:
        try:
            data = sdk_models.V2SchemaData.model_validate(dict(schema))
        except ValidationError as exc:
            raise ChartError(f"schema {version!r} does not have the shape the ledger expects: {exc}") from exc
        request = operations.V2InsertSchemaRequest(ledger=self.ledger, version=version, v2_schema_data=data)
        try:
            self._send("insert schema", lambda: self._v2.insert_schema(request=request), write=True)
        except LedgerRejected as exc:
            if exc.code == "SCHEMA_ALREADY_EXISTS":
                return False
            raise
        return True

    def list_schema_versions(self) -> list[str]:
        def fetch(cursor: str | None) -> Any:
            request = operations.V2ListSchemasRequest(
                ledger=self.ledger,
                cursor=cursor,
                page_size=PAGE_SIZE,
                order=operations.V2ListSchemasOrder.ASC,
            )
            return self._v2.list_schemas(request=request)

        return [str(item["version"]) for item in self._pages("list schemas", fetch)]

    # -- writes -------------------------------------------------------------

    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        """Post once (see the module docstring): the new transaction (``replayed=False``), or
        the one an earlier call posted under the same reference and command (``replayed=True``).

        Raises DuplicateOperation (the reference belongs to another command),
        InsufficientPoints (no transaction carries the reference), other
        LoyaltyErrors for refusals, LedgerUnavailable (nothing was posted) or
        OutcomeUnknown (it may have been).
        """
        call = _Call()
        request = operations.V2CreateTransactionRequest(
            ledger=self.ledger,
            idempotency_key=idempotency_key(plan.reference, call.id),
            schema_version=schema_version,
            v2_post_transaction=_post_body(plan),
        )

        def send() -> httpx.Response:
            return self._send(
                "post transaction", lambda: self._v2.create_transaction(request=request), call=call, write=True
            )

        try:
            response = send()
        except LoyaltyError as exc:
            if not _may_mean_taken(exc):
                raise
            original, inserted_at = self._original(plan, exc)
            ours = call.uncertain and self._ours_after_all(call, lambda: send() is not None, inserted_at)
            return original.model_copy(update={"replayed": not ours})
        # With a key of this call's own, a hit is an earlier attempt of this call whose answer was lost.
        hit = response.headers.get("Idempotency-Hit", "").lower() == "true"
        return _transaction(_data(response, "posted transaction"), replayed=hit and not call.uncertain)

    def post_many(
        self, plans: Sequence[TransactionPlan], *, schema_version: str | None = None, atomic: bool = False
    ) -> list[PostedTransaction]:
        """Post through ``/_bulk`` in chunks of 100, with the same exactly-once rules as post().

        Each chunk's references are looked up first (one request): the bulk
        endpoint does not say which elements were idempotency hits, so this is
        how replays are recognised, and a reused reference is refused before
        anything of the chunk is sent. ``atomic`` makes the server apply the
        chunk in one database transaction; it is refused above 100 plans since
        atomicity cannot span chunks.
        """
        unique = _unique_by_reference(plans)
        if atomic and len(unique) > BULK_CHUNK:
            raise InvalidCommand(
                f"atomic posting is limited to {BULK_CHUNK} transactions per call, got {len(unique)}"
            )
        posted: dict[str, PostedTransaction] = {}
        for start in range(0, len(unique), BULK_CHUNK):
            chunk = unique[start : start + BULK_CHUNK]
            posted.update(self._post_chunk(chunk, schema_version=schema_version, atomic=atomic))

        results: list[PostedTransaction] = []
        seen: set[str] = set()
        for plan in plans:
            tx = posted[plan.reference]
            # A reference repeated inside the input is a replay of its first occurrence.
            results.append(tx.model_copy(update={"replayed": True}) if plan.reference in seen else tx)
            seen.add(plan.reference)
        return results

    def revert(
        self,
        tx_id: int,
        *,
        force: bool = False,
        metadata: Mapping[str, str] | None = None,
        schema_version: str | None = None,
    ) -> PostedTransaction:
        """Revert a transaction; reverting twice raises DuplicateOperation(code=ALREADY_REVERT).

        The idempotency key is fresh for each call and reused by its retries: a
        retry after a lost response gets the reversal it created, while a second
        call still hears ALREADY_REVERT.
        """
        call = _Call()
        request = operations.V2RevertTransactionRequest(
            ledger=self.ledger,
            id=_tx_id(tx_id),
            idempotency_key=f"loyalty:revert:{tx_id}#{call.id}",
            force=True if force else None,
            # A revert is a logged write: under strict enforcement it must name the schema.
            schema_version=schema_version,
            v2_revert_transaction_request=(
                sdk_models.V2RevertTransactionRequest(metadata=dict(sorted(metadata.items()))) if metadata else None
            ),
        )

        def send() -> httpx.Response:
            return self._send(
                f"revert transaction {tx_id}",
                lambda: self._v2.revert_transaction(request=request),
                call=call,
                write=True,
            )

        try:
            response = send()
        except DuplicateOperation as exc:
            if exc.code != "ALREADY_REVERT" or not call.uncertain:
                raise
            # An unanswered attempt of this very call may be the revert: the same key
            # is answered from the ledger's idempotency record if so.
            try:
                response = send()
            except LoyaltyError:
                raise exc from None
        return _transaction(_data(response, "reverting transaction"))

    def add_transaction_metadata(
        self, tx_id: int, metadata: Mapping[str, str], *, schema_version: str | None = None
    ) -> None:
        """Add metadata to a transaction (a logged write: strict enforcement wants the schema).

        The idempotency key is derived from the content, so a retry after a
        lost response is a hit and the same keys written twice are one write.
        """
        body = dict(sorted(metadata.items()))
        digest = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()[:32]
        request = operations.V2AddMetadataOnTransactionRequest(
            ledger=self.ledger,
            id=_tx_id(tx_id),
            request_body=body,
            idempotency_key=f"loyalty:meta:{tx_id}:{digest}",
            schema_version=schema_version,
        )
        self._send(
            f"add metadata to transaction {tx_id}",
            lambda: self._v2.add_metadata_on_transaction(request=request),
            write=True,
        )

    # -- reads --------------------------------------------------------------

    def find_by_reference(self, reference: str) -> PostedTransaction | None:
        found = self._transactions_by_filter({"$match": {"reference": reference}}, page_size=1)
        return next(found, None)

    def get_transaction(self, tx_id: int) -> PostedTransaction:
        request = operations.V2GetTransactionRequest(ledger=self.ledger, id=_tx_id(tx_id))
        response = self._send(f"read transaction {tx_id}", lambda: self._v2.get_transaction(request=request))
        return _transaction(_data(response, "transaction"))

    def transactions(
        self,
        *,
        account: str | None = None,
        metadata: Mapping[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        pit: datetime | None = None,
    ) -> Iterator[PostedTransaction]:
        """All matching transactions, oldest (lowest id) first; ``start`` inclusive, ``end`` exclusive.

        ``start``/``end``/``pit`` compare with the timestamp (effective date);
        with ``pit``, metadata and ``reverted`` are as they stood at ``pit``
        (see the module docstring).
        """
        clauses: list[dict[str, Any]] = []
        if account is not None:
            clauses.append({"$match": {"account": _address_filter(account)}})
        for key, value in sorted((metadata or {}).items()):
            clauses.append({"$match": {f"metadata[{key}]": value}})
        if start is not None:
            clauses.append({"$gte": {"timestamp": _rfc3339(start)}})
        if end is not None:
            clauses.append({"$lt": {"timestamp": _rfc3339(end)}})
        query: dict[str, Any] = {}
        if len(clauses) == 1:
            query = clauses[0]
        elif clauses:
            query = {"$and": clauses}
        return self._transactions_by_filter(query, pit=pit)

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        """One account with its volumes, effective at ``pit`` (default: the current volumes).

        Raises UnknownEntity if the ledger has never seen the account, or, with
        ``pit``, if no transaction dated at or before ``pit`` touched it.
        """
        if not _ADDRESS.match(address):
            raise InvalidCommand(f"not a ledger account address: {address!r}")
        request = operations.V2GetAccountRequest(
            ledger=self.ledger, address=address, expand=_EFFECTIVE_VOLUMES, pit=_utc(pit) if pit else None
        )
        response = self._send(f"read account {address}", lambda: self._v2.get_account(request=request))
        return _account(_data(response, "account"))

    def accounts(self, address_filter: str, *, pit: datetime | None = None) -> Iterator[AccountState]:
        """Accounts matching the filter with their volumes effective at ``pit`` (default: current).

        With ``pit``, only accounts touched by a transaction dated at or before
        ``pit`` are listed (the server filters on ``first_usage``).
        """
        body = {"$match": {"address": _address_filter(address_filter)}}

        def fetch(cursor: str | None) -> Any:
            if cursor is not None:
                request = operations.V2ListAccountsRequest(
                    ledger=self.ledger, request_body={}, cursor=cursor, page_size=PAGE_SIZE
                )
            else:
                request = operations.V2ListAccountsRequest(
                    ledger=self.ledger,
                    request_body=body,
                    page_size=PAGE_SIZE,
                    expand=_EFFECTIVE_VOLUMES,
                    pit=_utc(pit) if pit else None,
                )
            return self._v2.list_accounts(request=request)

        return (_account(item) for item in self._pages("list accounts", fetch))

    def aggregate_balances(
        self, address_filter: str, *, pit: datetime | None = None, use_insertion_date: bool = False
    ) -> dict[Asset, int]:
        """Sum of the matching accounts' balances per asset; an empty filter means every account.

        With ``pit``: effective at ``pit`` (transactions dated at or before it),
        unless ``use_insertion_date`` asks for those *posted* by then.
        """
        request = operations.V2GetBalancesAggregatedRequest(
            ledger=self.ledger,
            request_body={"$match": {"address": _address_filter(address_filter)}} if address_filter else {},
            pit=_utc(pit) if pit else None,
            use_insertion_date=True if use_insertion_date else None,
        )
        response = self._send(
            "aggregate balances", lambda: self._v2.get_balances_aggregated(request=request)
        )
        data = _data(response, "aggregated balances")
        if not isinstance(data, dict):
            raise _unexpected("aggregated balances", data)
        return {str(asset): _int(amount, f"balance of {asset}") for asset, amount in data.items()}

    def volumes(
        self,
        address_filter: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        group_by: int | None = None,
        insertion_date: bool = False,
    ) -> list[VolumeRow]:
        """Input/output/balance per account (or per address prefix) between ``start`` and ``end``.

        Both bounds are inclusive and apply to the transactions' effective
        dates (timestamps), unless ``insertion_date`` asks for when they were
        posted.
        """
        body = {"$match": {"address": _address_filter(address_filter)}} if address_filter else {}
        if group_by is not None and group_by < 1:
            raise InvalidCommand(f"group_by must be a positive number of segments, got {group_by}")

        def fetch(cursor: str | None) -> Any:
            if cursor is not None:
                request = operations.V2GetVolumesWithBalancesRequest(
                    ledger=self.ledger, request_body={}, cursor=cursor, page_size=PAGE_SIZE
                )
            else:
                request = operations.V2GetVolumesWithBalancesRequest(
                    ledger=self.ledger,
                    request_body=body,
                    page_size=PAGE_SIZE,
                    start_time=_utc(start) if start else None,
                    end_time=_utc(end) if end else None,
                    group_by=group_by,
                    insertion_date=True if insertion_date else None,
                )
            return self._v2.get_volumes_with_balances(request=request)

        return [_volume_row(item) for item in self._pages("read volumes", fetch)]

    def logs(self) -> Iterator[dict[str, Any]]:
        """The ledger's hash-chained log, oldest first, as the server sent it."""

        def fetch(cursor: str | None) -> Any:
            if cursor is not None:
                request = operations.V2ListLogsRequest(
                    ledger=self.ledger, request_body={}, cursor=cursor, page_size=PAGE_SIZE
                )
            else:
                request = operations.V2ListLogsRequest(
                    ledger=self.ledger, request_body={}, page_size=PAGE_SIZE, sort="id:asc"
                )
            return self._v2.list_logs(request=request)

        for item in self._pages("list logs", fetch):
            if not isinstance(item, dict):
                raise _unexpected("log", item)
            yield item

    # -- internals: exactly once ------------------------------------------

    def _original(self, plan: TransactionPlan, refusal: LoyaltyError) -> tuple[PostedTransaction, datetime | None]:
        """The transaction holding ``plan``'s reference after ``refusal``, with its ``insertedAt``.

        Raises DuplicateOperation when it was posted for another command, and
        ``refusal`` itself (INSUFFICIENT_FUND) or LedgerRejected (a clash) when
        no transaction carries the reference.
        """
        found = self._lookup(plan.reference)
        if found is None:
            if refusal.code == "INSUFFICIENT_FUND":
                raise refusal
            raise LedgerRejected(
                f"the ledger reported reference {plan.reference!r} as already used ({refusal.code}) "
                "but no transaction carries it",
                code=refusal.code,
            )
        original, inserted_at = found
        if original.metadata.get("command_hash") != plan.command_hash:
            raise DuplicateOperation(
                f"reference {plan.reference!r} is already used by transaction {original.id} "
                "for a different command",
                code="CONFLICT",
                details={
                    "reference": plan.reference,
                    "transaction_id": original.id,
                    "command_hash": original.metadata.get("command_hash"),
                },
            )
        return original, inserted_at

    @staticmethod
    def _ours_after_all(call: _Call, recheck: Callable[[], object], inserted_at: datetime | None) -> bool:
        """Whether a transaction found under the reference was posted by an unanswered attempt of ``call``.

        ``recheck`` sends the call's request again with the call's own key: the
        ledger answers it from its idempotency record (a success) only if one
        of the call's attempts committed, and refuses it again otherwise. When
        that gets no answer either, the transaction's ``insertedAt`` (server
        clock) is compared with the call's start (client clock).
        """
        try:
            recheck()
        except (LedgerUnavailable, OutcomeUnknown):
            return call.inserted_since_start(inserted_at)
        except LoyaltyError:
            return False
        return True

    def _post_chunk(
        self, chunk: Sequence[TransactionPlan], *, schema_version: str | None, atomic: bool
    ) -> dict[str, PostedTransaction]:
        posted: dict[str, PostedTransaction] = {}
        lookup = {"$in": {"reference": [plan.reference for plan in chunk]}}
        existing = {tx.reference: tx for tx in self._transactions_by_filter(lookup)}
        pending: list[TransactionPlan] = []
        for plan in chunk:
            found = existing.get(plan.reference)
            if found is None:
                pending.append(plan)
            elif found.metadata.get("command_hash") == plan.command_hash:
                posted[plan.reference] = found.model_copy(update={"replayed": True})
            else:
                raise DuplicateOperation(
                    f"reference {plan.reference!r} is already used by transaction {found.id} "
                    "for a different command",
                    code="CONFLICT",
                    details={"reference": plan.reference, "transaction_id": found.id},
                )

        call = _Call()
        keys = {plan.reference: idempotency_key(plan.reference, call.id) for plan in pending}
        while pending:
            outcomes = self._bulk(pending, keys, call=call, schema_version=schema_version, atomic=atomic)
            failures: list[tuple[TransactionPlan, LoyaltyError]] = []
            taken: list[tuple[TransactionPlan, PostedTransaction, datetime | None]] = []
            committed: dict[str, PostedTransaction] = {}
            for plan, outcome in zip(pending, outcomes):
                if isinstance(outcome, PostedTransaction):
                    # Bulk results do not say "hit"; with this call's own keys a hit is ours anyway.
                    committed[plan.reference] = outcome
                    continue
                if _may_mean_taken(outcome):
                    try:
                        # Raises DuplicateOperation when the reference belongs to another command.
                        taken.append((plan, *self._original(plan, outcome)))
                        continue
                    except InsufficientPoints:
                        pass
                failures.append((plan, outcome))

            if failures:
                raise _first_failure(failures, atomic=atomic)
            ours = self._ours_in_bulk(taken, keys, call, schema_version) if taken and call.uncertain else set()
            for plan, original, _ in taken:
                posted[plan.reference] = original.model_copy(update={"replayed": plan.reference not in ours})
            if atomic and taken:
                # The server rolled the whole chunk back: send again what was not already there.
                resolved = {plan.reference for plan, _, _ in taken}
                pending = [plan for plan in pending if plan.reference not in resolved]
                continue
            posted.update(committed)
            pending = []
        return posted

    def _ours_in_bulk(
        self,
        taken: Sequence[tuple[TransactionPlan, PostedTransaction, datetime | None]],
        keys: Mapping[str, str],
        call: _Call,
        schema_version: str | None,
    ) -> set[str]:
        """References among ``taken`` that an unanswered attempt of ``call`` posted (see _ours_after_all).

        The elements are sent once more, with their keys, in a non-atomic bulk:
        every reference is taken, so nothing new can be posted; an element
        answered with its transaction was ours.
        """
        plans = [plan for plan, _, _ in taken]
        try:
            outcomes = self._bulk(plans, keys, call=call, schema_version=schema_version, atomic=False)
        except (LedgerUnavailable, OutcomeUnknown):
            return {plan.reference for plan, _, inserted_at in taken if call.inserted_since_start(inserted_at)}
        return {plan.reference for plan, outcome in zip(plans, outcomes) if isinstance(outcome, PostedTransaction)}

    def _bulk(
        self,
        plans: Sequence[TransactionPlan],
        keys: Mapping[str, str],
        *,
        call: _Call,
        schema_version: str | None,
        atomic: bool,
    ) -> list[PostedTransaction | LoyaltyError]:
        """One ``/_bulk`` request; one outcome per plan, in the order of ``plans``; ``keys`` by reference."""
        elements = [
            sdk_models.V2BulkElementCreateTransaction(
                action="CREATE_TRANSACTION", ik=keys[plan.reference], data=_post_body(plan)
            )
            for plan in plans
        ]
        request = operations.V2CreateBulkRequest(
            ledger=self.ledger,
            request_body=elements,
            # Sequential (never "parallel"): results then come back in element order.
            # continueOnFailure: every element gets its own outcome instead of "context canceled".
            continue_on_failure=True,
            atomic=True if atomic else None,
            schema_version=schema_version,
        )
        # 400 with a "data" array is a per-element report, not a refusal of the request.
        response = self._send(
            "post bulk",
            lambda: self._v2.create_bulk(request=request),
            accept=frozenset({400}),
            call=call,
            write=True,
        )
        body = _json_body(response, "bulk response")
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise _error_from_response("post bulk", response)
        if len(items) != len(plans):
            raise LedgerRejected(
                f"bulk response has {len(items)} results for {len(plans)} elements", code="UNEXPECTED_RESPONSE"
            )
        return _correlate_bulk(plans, items)

    # -- internals: transport ---------------------------------------------

    def _lookup(self, reference: str) -> tuple[PostedTransaction, datetime | None] | None:
        """The transaction carrying ``reference`` and its ``insertedAt`` (None if absent), or None."""
        for item in self._raw_transactions({"$match": {"reference": reference}}, page_size=1):
            return _transaction(item), _inserted_at(item)
        return None

    def _transactions_by_filter(
        self, query: Mapping[str, Any], *, pit: datetime | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[PostedTransaction]:
        return (_transaction(item) for item in self._raw_transactions(query, pit=pit, page_size=page_size))

    def _raw_transactions(
        self, query: Mapping[str, Any], *, pit: datetime | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[Any]:
        def fetch(cursor: str | None) -> Any:
            if cursor is not None:
                request = operations.V2ListTransactionsRequest(
                    ledger=self.ledger, request_body={}, cursor=cursor, page_size=page_size
                )
            else:
                # Filters travel as a JSON body on GET (the server also reads ?query=).
                # Default order is newest first; reverse=true gives ascending ids.
                request = operations.V2ListTransactionsRequest(
                    ledger=self.ledger,
                    request_body=dict(query),
                    page_size=page_size,
                    reverse=True,
                    pit=_utc(pit) if pit else None,
                )
            return self._v2.list_transactions(request=request)

        return self._pages("list transactions", fetch)

    def _pages(self, what: str, fetch: Callable[[str | None], Any]) -> Iterator[Any]:
        """Items of every page, following ``cursor.next`` until ``hasMore`` is false."""
        cursor: str | None = None
        while True:
            current = cursor
            response = self._send(what, lambda: fetch(current))
            body = _json_body(response, what)
            page = body.get("cursor") if isinstance(body, dict) else None
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise _unexpected(what, body)
            yield from page["data"]
            if not page.get("hasMore"):
                return
            cursor = page.get("next")
            if not cursor or cursor == current:
                raise LedgerRejected(
                    f"{what}: the server said hasMore without a new cursor", code="UNEXPECTED_RESPONSE"
                )

    def _send(
        self,
        what: str,
        request: Callable[[], Any],
        *,
        accept: frozenset[int] = frozenset(),
        call: _Call | None = None,
        write: bool = False,
    ) -> httpx.Response:
        """Run one SDK call under the retry policy; return the raw HTTP response.

        2xx (and statuses in ``accept``) are returned; other 4xx raise the mapped
        project error at once; transient failures are retried while the retry
        budget lasts (and ``max_attempts`` allows). Then a ``write`` any of whose
        attempts may have been acted on raises OutcomeUnknown; anything else
        raises LedgerUnavailable. ``call`` collects that uncertainty across
        several sends of the same request.
        """
        settings = self.connection
        started = self._clock()
        attempts = 0
        uncertain = call.uncertain if call is not None else False

        def out_of_budget(state: RetryCallState) -> bool:
            if settings.max_attempts is not None and state.attempt_number >= settings.max_attempts:
                return True
            return self._clock() - started >= settings.retry_budget_s

        def attempt() -> httpx.Response:
            nonlocal attempts, uncertain
            attempts += 1
            try:
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
                    f"{what}: no answer from the Formance ledger at {settings.url} after {spent}. "
                    "It may have been posted: run the same command again to learn",
                    code=exc.code,
                    details={"what": what, "attempts": attempts},
                ) from exc
            raise LedgerUnavailable(
                f"Formance ledger at {settings.url} is unavailable: {what} failed after {spent}",
                code=exc.code,
            ) from exc

    def _attempt(self, what: str, call: Callable[[], Any], accept: frozenset[int]) -> httpx.Response:
        try:
            response: httpx.Response = call().raw_response
        except _NOT_SENT_ERRORS as exc:
            raise _Transient(f"{type(exc).__name__}: {exc or 'no detail'}", maybe_applied=False) from exc
        except _TRANSIENT_TRANSPORT_ERRORS as exc:
            raise _Transient(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
        except httpx.TransportError as exc:  # e.g. an unsupported URL scheme: retrying cannot help
            raise LedgerUnavailable(f"cannot reach the ledger at {self.connection.url}: {exc}") from exc
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
                status = re.search(r"status code (\d{3})", str(exc))
                if status and (int(status.group(1)) >= 500 or status.group(1) == "429"):
                    raise _Transient(f"OAuth2 token endpoint: {exc}", maybe_applied=False) from exc
                raise LedgerRejected(f"OAuth2 token request failed: {exc}", code="UNAUTHORIZED") from exc
            raise
        status = response.status_code
        if 200 <= status < 300 or status in accept:
            return response
        if status >= 500 or status == 429:
            code, message, _ = _error_fields(response)
            # 429 (RFC 6585): rate limited, the request was not processed; a 5xx may come after work was done.
            raise _Transient(f"HTTP {status} {code}: {message}", code=code, maybe_applied=status != 429)
        raise _error_from_response(what, response)


# -- request building -----------------------------------------------------------


def _post_body(plan: TransactionPlan) -> sdk_models.V2PostTransaction:
    """The create-transaction body; the same plan always gives the same bytes."""
    return sdk_models.V2PostTransaction(
        script=sdk_models.V2PostTransactionScript(plain=plan.script, vars=dict(sorted(plan.vars.items()))),
        reference=plan.reference,
        metadata=dict(sorted(plan.all_metadata().items())),
        timestamp=_utc(plan.timestamp) if plan.timestamp is not None else None,
    )


def _unique_by_reference(plans: Sequence[TransactionPlan]) -> list[TransactionPlan]:
    """First plan per reference; the same reference with two commands is refused up front."""
    first: dict[str, TransactionPlan] = {}
    for plan in plans:
        other = first.setdefault(plan.reference, plan)
        if other.command_hash != plan.command_hash:
            raise DuplicateOperation(
                f"reference {plan.reference!r} is used by two different commands in the same batch",
                code="CONFLICT",
                details={"reference": plan.reference},
            )
    return list(first.values())


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


def _utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken as UTC (the server needs an offset)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _rfc3339(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


def _address_filter(value: str) -> str:
    if not value or not _ADDRESS_FILTER.match(value):
        raise InvalidCommand(f"not a ledger address filter: {value!r}")
    return value


def _tx_id(tx_id: int) -> int:
    if isinstance(tx_id, bool) or not isinstance(tx_id, int) or tx_id < 0:
        raise InvalidCommand(f"not a transaction id: {tx_id!r}")
    return tx_id


# -- responses ------------------------------------------------------------------


def _json_body(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise LedgerRejected(
            f"{what}: expected JSON from the ledger, got {response.status_code} {response.text[:200]!r}",
            code="UNEXPECTED_RESPONSE",
        ) from exc


def _data(response: httpx.Response, what: str) -> Any:
    body = _json_body(response, what)
    if not isinstance(body, dict) or "data" not in body:
        raise _unexpected(what, body)
    return body["data"]


def _unexpected(what: str, value: Any) -> LedgerRejected:
    return LedgerRejected(f"unexpected {what} from the ledger: {str(value)[:200]}", code="UNEXPECTED_RESPONSE")


def _int(value: Any, what: str) -> int:
    """An amount as a Python int. Go big.Int arrives as a JSON number (or a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    raise _unexpected(what, value)


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _unexpected(what, value)
    return {str(k): str(v) for k, v in value.items()}


def _transaction(data: Any, *, replayed: bool = False) -> PostedTransaction:
    if not isinstance(data, dict):
        raise _unexpected("transaction", data)
    try:
        postings = tuple(
            Posting(
                source=p["source"],
                destination=p["destination"],
                amount=_int(p["amount"], "posting amount"),
                asset=p["asset"],
            )
            for p in data.get("postings") or []
        )
        return PostedTransaction(
            id=_int(data["id"], "transaction id"),
            reference=data.get("reference") or None,
            timestamp=data["timestamp"],
            postings=postings,
            metadata=_str_map(data.get("metadata"), "transaction metadata"),
            reverted=bool(data.get("reverted", False)),
            replayed=replayed,
        )
    except (KeyError, TypeError, ValidationError) as exc:
        raise _unexpected("transaction", data) from exc


def _account(data: Any) -> AccountState:
    """An account read with ``expand=effectiveVolumes``; no key means no movement (yet)."""
    if not isinstance(data, dict) or not isinstance(data.get("address"), str):
        raise _unexpected("account", data)
    volumes = data.get(_EFFECTIVE_VOLUMES) or {}
    if not isinstance(volumes, dict):
        raise _unexpected("account volumes", volumes)
    return AccountState(
        address=data["address"],
        metadata=_str_map(data.get("metadata"), "account metadata"),
        volumes={
            str(asset): Volume(
                input=_int(v.get("input"), "input volume"), output=_int(v.get("output"), "output volume")
            )
            for asset, v in volumes.items()
            if isinstance(v, dict)
        },
    )


def _volume_row(data: Any) -> VolumeRow:
    if not isinstance(data, dict):
        raise _unexpected("volume row", data)
    try:
        return VolumeRow(
            account=data["account"],
            asset=data["asset"],
            input=_int(data["input"], "input volume"),
            output=_int(data["output"], "output volume"),
            balance=_int(data["balance"], "balance"),
        )
    except (KeyError, ValidationError) as exc:
        raise _unexpected("volume row", data) from exc


def _correlate_bulk(plans: Sequence[TransactionPlan], items: list[Any]) -> list[PostedTransaction | LoyaltyError]:
    """Outcomes in the order of ``plans``.

    Successes are matched by reference. Errors carry no reference, so they are
    matched by position: v2.4.12 returns a sequential bulk's results in element
    order (its elementID is never filled in, so only sequential order holds).
    """
    index = {plan.reference: i for i, plan in enumerate(plans)}
    outcomes: list[PostedTransaction | LoyaltyError | None] = [None] * len(plans)
    errors: list[tuple[int, LoyaltyError]] = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise _unexpected("bulk result", item)
        if item.get("responseType") == "ERROR" or item.get("errorCode"):
            code = str(item.get("errorCode") or "INTERNAL")
            message = str(item.get("errorDescription") or "")
            reference = plans[position].reference
            error_type = _ERROR_TYPES.get(code, LedgerRejected)
            errors.append((position, error_type(f"transaction {reference!r} refused ({code}): {message}", code=code)))
            continue
        tx = _transaction(item.get("data"))
        slot = index.get(tx.reference or "")
        if slot is None or outcomes[slot] is not None:
            raise _unexpected("bulk result (reference not in the request)", tx.reference)
        outcomes[slot] = tx
    for position, error in errors:
        if outcomes[position] is not None:
            raise LedgerRejected("bulk results cannot be matched to their elements", code="UNEXPECTED_RESPONSE")
        outcomes[position] = error
    if any(outcome is None for outcome in outcomes):
        raise LedgerRejected("bulk results cannot be matched to their elements", code="UNEXPECTED_RESPONSE")
    return [outcome for outcome in outcomes if outcome is not None]


def _first_failure(failures: list[tuple[TransactionPlan, LoyaltyError]], *, atomic: bool) -> LoyaltyError:
    """The error to raise for a bulk with refused elements; its details list them all."""
    _, first = failures[0]
    suffix = " (atomic batch: nothing was posted)" if atomic else ""
    return type(first)(
        f"{first.message}{suffix}",
        code=first.code,
        details={
            "atomic": atomic,
            "failures": [
                {"reference": plan.reference, "code": err.code, "message": err.message} for plan, err in failures
            ],
        },
    )


# -- errors ---------------------------------------------------------------------


def _error_fields(response: httpx.Response) -> tuple[str, str, Any]:
    """(code, message, details) from a Formance error body, or a description of a foreign one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errorCode"), str) and body["errorCode"]:
        return body["errorCode"], str(body.get("errorMessage") or ""), body.get("details")
    text = response.text.strip()
    description = f"non-Formance response body: {text[:200]!r}" if text else "empty response body"
    # 409 only ever means a conflict in this API, with or without a body.
    code = "CONFLICT" if response.status_code == 409 else f"HTTP_{response.status_code}"
    return code, description, None


def _error_from_response(what: str, response: httpx.Response) -> LoyaltyError:
    code, message, details = _error_fields(response)
    error_type = _ERROR_TYPES.get(code, LedgerRejected)
    request = response.request
    return error_type(
        f"{what} refused by the ledger "
        f"({request.method} {request.url.path} -> {response.status_code} {code}): {message}",
        code=code,
        details=details,
    )


def _may_mean_taken(error: LoyaltyError) -> bool:
    """A refusal that may mean "the reference is already taken": look it up before believing it.

    409 CONFLICT (reference taken), 400 VALIDATION for a key reused with
    another body, and INSUFFICIENT_FUND: v2.4.12 runs the script's balance
    checks before the reference's uniqueness is checked (createTransaction in
    ``internal/controller/ledger/controller_default.go``), so the losing twin of
    two identical spends of the whole balance hears this.
    """
    code, message = error.code, error.message
    return code in ("CONFLICT", "INSUFFICIENT_FUND") or (code == "VALIDATION" and "invalid idempotency hash" in message)


def _inserted_at(data: Any) -> datetime | None:
    """A transaction's ``insertedAt`` (when the server recorded it, by its clock), if it sent one."""
    text = data.get("insertedAt") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _log_retry(what: str, budget_s: float) -> Callable[[RetryCallState], None]:
    """One warning when a call starts retrying; each later attempt only at debug level."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if state.attempt_number == 1:
            log.warning("%s: no answer from the ledger (%s); retrying for up to %.0f s", what, error, budget_s)
        else:
            log.debug("%s: attempt %d failed (%s); retrying", what, state.attempt_number, error)

    return before_sleep
