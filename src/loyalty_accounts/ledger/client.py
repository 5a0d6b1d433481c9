""":class:`LedgerClient`: :class:`~loyalty_accounts.ports.LedgerPort` over HTTP.

The reads come from :class:`~loyalty_accounts.ledger.reads.LedgerReader`; this
module adds the writes: the ledger and its schemas, posts (one, or many
through :mod:`~loyalty_accounts.ledger.bulk`), reverts and metadata. Every
write goes through the transport's retry policy
(:mod:`~loyalty_accounts.ledger.transport`), and a post is exactly once by
its reference (:mod:`~loyalty_accounts.ledger.exactly_once`, which also says
what ``replayed`` means).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from formance_sdk_python.models import ledger as sdk_models
from formance_sdk_python.models import operations
from pydantic import ValidationError

from ..errors import ChartError, DuplicateOperation, LedgerRejected, LoyaltyError
from ..types import PostedTransaction, TransactionPlan
from . import bulk, wire
from .connection import LedgerConnection
from .errors import may_mean_taken
from .exactly_once import original, ours_after_all
from .reads import LedgerReader, query_params
from .transport import Call, Transport, idempotency_key

__all__ = ["LedgerClient"]


class LedgerClient(LedgerReader):
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
        super().__init__(Transport(connection, transport=transport, clock=clock, sleep=sleep))

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- ledger and schemas ------------------------------------------------

    def create_ledger(self, *, metadata: Mapping[str, str] | None = None, bucket: str | None = None) -> bool:
        """Create the ledger in ``bucket`` (None: the server's ``_default``); False if it already existed.

        A v2.4.12 server may answer 500 to the creation of a new bucket (a migration's temporary table left in
        a pooled session); the transport retries 5xx, and the local server retires its connections quickly
        enough for a retry to succeed (``local/server.py``, ``postgres-conn-max-lifetime``).
        """
        request = operations.V2CreateLedgerRequest(
            ledger=self.ledger,
            v2_create_ledger_request=sdk_models.V2CreateLedgerRequest(
                metadata=dict(metadata) if metadata else None, bucket=bucket
            ),
        )
        # v2.4.12 answers 400 LEDGER_ALREADY_EXISTS (not 409) for an existing ledger.
        return self._create(
            "create ledger", lambda: self._transport.v2.create_ledger(request=request), exists="LEDGER_ALREADY_EXISTS"
        )

    def insert_schema(self, version: str, schema: Mapping[str, Any]) -> bool:
        try:
            data = sdk_models.V2SchemaData.model_validate(dict(schema))
        except ValidationError as exc:
            raise ChartError(f"schema {version!r} does not have the shape the ledger expects: {exc}") from exc
        request = operations.V2InsertSchemaRequest(ledger=self.ledger, version=version, v2_schema_data=data)
        return self._create(
            "insert schema", lambda: self._transport.v2.insert_schema(request=request), exists="SCHEMA_ALREADY_EXISTS"
        )

    def set_ledger_metadata(self, metadata: Mapping[str, str]) -> None:
        """Set keys of the ledger's own metadata (``PUT /v2/{ledger}/metadata``; other keys are kept).

        Not a logged write on v2.4.12 (``internal/storage/system/store.go``): no schema, no idempotency key.
        """
        request = operations.V2UpdateLedgerMetadataRequest(ledger=self.ledger, request_body=dict(metadata))
        self._transport.send(
            "set ledger metadata", lambda: self._transport.v2.update_ledger_metadata(request=request), write=True
        )

    def _create(self, what: str, request: Callable[[], Any], *, exists: str) -> bool:
        """Send a write that creates something: True, or False when the server refuses it with ``exists``."""

        try:
            self._transport.send(what, request, write=True)
        except LedgerRejected as exc:
            if exc.code == exists:
                return False
            raise
        return True

    # -- writes -------------------------------------------------------------

    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        """Post once (see :mod:`~loyalty_accounts.ledger.exactly_once`): the new transaction
        (``replayed=False``), or the one an earlier call posted under the same reference and
        command (``replayed=True``).

        Raises DuplicateOperation (the reference belongs to another command),
        InsufficientPoints (no transaction carries the reference), other
        LoyaltyErrors for refusals, LedgerUnavailable (nothing was posted) or
        OutcomeUnknown (it may have been).
        """
        call = Call()
        request = self._transport.prepared(
            "POST",
            "/transactions",
            params=query_params(schemaVersion=schema_version),
            body=wire.post_json(plan),
            headers={"Idempotency-Key": idempotency_key(plan.reference, call.id)},
            write=True,
        )
        send = self._transport.attempts("post transaction", request, call)

        try:
            response = send()
        except LoyaltyError as exc:
            if not may_mean_taken(exc):
                raise
            found, inserted_at = original(self._transport, plan, exc)
            ours = call.uncertain and ours_after_all(call, lambda: send() is not None, inserted_at)
            return found.model_copy(update={"replayed": not ours})
        # With a key of this call's own, a hit is an earlier attempt of this call whose answer was lost.
        hit = response.headers.get("Idempotency-Hit", "").lower() == "true"
        return wire.transaction(wire.data(response, "posted transaction"), replayed=hit and not call.uncertain)

    def post_many(
        self,
        plans: Sequence[TransactionPlan],
        *,
        schema_version: str | None = None,
        atomic: bool = False,
        looked_up: bool = False,
    ) -> list[PostedTransaction]:
        """Post through ``/_bulk`` in chunks of 100, with the same exactly-once rules as post().

        Each chunk's references are looked up first, unless the caller just
        did (``looked_up``; see :mod:`~loyalty_accounts.ledger.bulk`).
        ``atomic`` makes the server apply the chunk in one database
        transaction; it is refused above 100 plans since atomicity cannot span
        chunks.
        """
        return bulk.post_many(
            self._transport, plans, schema_version=schema_version, atomic=atomic, looked_up=looked_up
        )

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
        call = Call()
        request = self._transport.prepared(
            "POST",
            f"/transactions/{wire.tx_id(tx_id)}/revert",
            # A revert is a logged write: under strict enforcement it must name the schema.
            params=query_params(force=True if force else None, schemaVersion=schema_version),
            body={"metadata": dict(sorted(metadata.items()))} if metadata else None,
            headers={"Idempotency-Key": f"loyalty:revert:{tx_id}#{call.id}"},
            write=True,
        )
        send = self._transport.attempts(f"revert transaction {tx_id}", request, call)

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
        return wire.transaction(wire.data(response, "reverting transaction"))

    def add_transaction_metadata(
        self, tx_id: int, metadata: Mapping[str, str], *, schema_version: str | None = None
    ) -> None:
        """Add metadata to a transaction (a logged write: strict enforcement wants the schema).

        The idempotency key is derived from the content, so a retry after a
        lost response is a hit and the same keys written twice are one write.
        """
        body = dict(sorted(metadata.items()))
        digest = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()[:32]
        self._transport.request(
            f"add metadata to transaction {tx_id}",
            "POST",
            f"/transactions/{wire.tx_id(tx_id)}/metadata",
            params=query_params(schemaVersion=schema_version),
            body=body,
            headers={"Idempotency-Key": f"loyalty:meta:{tx_id}:{digest}"},
            write=True,
        )

    # -- reads over many filters at once (bulk import; see ledger/bulk.py) ----------

    def transactions_any(
        self,
        *,
        accounts: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
        metadata_any: tuple[str, Sequence[str]] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[PostedTransaction]:
        """Transactions touching any of ``accounts``, with ``metadata`` and one of ``metadata_any`` (see bulk.py)."""
        return bulk.transactions_any(
            self._transport, accounts=accounts, metadata=metadata, metadata_any=metadata_any, start=start, end=end
        )
