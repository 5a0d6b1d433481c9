"""Reads: server info, schemas, transactions, accounts, balances, volumes and logs.

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

Lists follow the server's cursors, :data:`PAGE_SIZE` items a page.

Requests are built here by hand (path, query parameters, JSON filter) and
sent by :meth:`~loyalty_accounts.ledger.transport.Transport.request`; only
the server info and the schema list go through formance-sdk-python.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from formance_sdk_python.models import operations

from ..errors import InvalidCommand, LedgerRejected
from ..types import AccountState, PostedTransaction, VolumeRow
from ..vocabulary.amounts import Asset
from . import wire
from .errors import unexpected
from .transport import Transport

__all__ = ["LedgerReader", "PAGE_SIZE", "list_pages", "list_transactions", "query_params", "transactions_matching"]

PAGE_SIZE = 10_000
"""Items asked for per page of a listing. A server cuts it to its ``--max-page-size`` (default 100,
go-libs paginate.GetPageSize); the project's local server and docker-compose.yml allow 10,000, since
a page's cost grows far less than its size (see loyalty_accounts.local.server)."""


def query_params(**values: object) -> dict[str, str]:
    """Query parameters as the server reads them, in name order; None is left out.

    Instants become RFC 3339 in UTC (:func:`wire.rfc3339`), booleans ``true``/``false``, ints
    their decimal digits.
    """
    params: dict[str, str] = {}
    for name in sorted(values):
        value = values[name]
        if value is None:
            continue
        if isinstance(value, datetime):
            params[name] = wire.rfc3339(value)
        elif isinstance(value, bool):
            params[name] = "true" if value else "false"
        else:
            params[name] = str(value)
    return params


def list_pages(
    transport: Transport,
    what: str,
    path: str,
    body: Mapping[str, Any],
    *,
    page_size: int = PAGE_SIZE,
    **options: object,
) -> Iterator[Any]:
    """The raw items of a paged list at ``GET {ledger}{path}``, across pages.

    The first page's request carries the filter (``body``, sent as JSON: the
    server reads a GET's body) and the ``options`` (query parameters, see
    :func:`query_params`); each next one only the cursor, which holds the rest
    on the server side.
    """
    first = transport.prepared("GET", path, params=query_params(pageSize=page_size, **options), body=dict(body))

    def fetch(cursor: str | None) -> Any:
        if cursor is None:
            return first()
        return transport.prepared("GET", path, params=query_params(cursor=cursor, pageSize=page_size), body={})()

    return transport.pages(what, fetch)


def list_transactions(
    transport: Transport, query: Mapping[str, Any], *, pit: datetime | None = None, page_size: int = PAGE_SIZE
) -> Iterator[Any]:
    """The raw transactions matching a filter, oldest (lowest id) first, across pages."""

    # Default order is newest first; reverse=true gives ascending ids.
    return list_pages(transport, "list transactions", "/transactions", query, page_size=page_size, reverse=True, pit=pit)


def transactions_matching(
    transport: Transport, query: Mapping[str, Any], *, pit: datetime | None = None, page_size: int = PAGE_SIZE
) -> Iterator[PostedTransaction]:
    """:func:`list_transactions` decoded."""
    return (wire.transaction(item) for item in list_transactions(transport, query, pit=pit, page_size=page_size))


class LedgerReader:
    """The read half of :class:`~loyalty_accounts.ports.LedgerPort` (see the module docstring)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.connection = transport.connection
        self.ledger = transport.ledger

    # -- server and ledger -------------------------------------------------

    def server_version(self) -> str:
        """Version from ``GET /_/info``.

        The SDK calls ``/api/ledger/_/info``: a gateway forwards that to the
        ledger's ``/_/info``, and for a standalone server the prefix is stripped.
        """
        response = self._transport.send("read server info", lambda: self._transport.v2.get_info())
        body = wire.json_body(response, "server info")
        version = body.get("version") if isinstance(body, dict) else None
        if not isinstance(version, str):
            raise LedgerRejected(
                f"{self.connection.shown_url}/_/info did not report a version: {response.text[:200]!r}",
                code="UNEXPECTED_RESPONSE",
            )
        return version

    def ledger_metadata(self) -> dict[str, str]:
        """The ledger's own metadata (``GET /v2/{ledger}``)."""
        request = operations.V2GetLedgerRequest(ledger=self.ledger)
        response = self._transport.send("read ledger", lambda: self._transport.v2.get_ledger(request=request))
        data = wire.data(response, "ledger")
        metadata = data.get("metadata") if isinstance(data, dict) else None
        if not isinstance(metadata, dict):
            return {}
        return {str(key): str(value) for key, value in metadata.items()}

    def list_schema_versions(self) -> list[str]:
        def fetch(cursor: str | None) -> Any:
            request = operations.V2ListSchemasRequest(
                ledger=self.ledger,
                cursor=cursor,
                page_size=PAGE_SIZE,
                order=operations.V2ListSchemasOrder.ASC,
            )
            return self._transport.v2.list_schemas(request=request)

        return [str(item["version"]) for item in self._transport.pages("list schemas", fetch)]

    # -- transactions ---------------------------------------------------------

    def find_by_reference(self, reference: str) -> PostedTransaction | None:
        found = transactions_matching(self._transport, {"$match": {"reference": reference}}, page_size=1)
        return next(found, None)

    def find_by_references(self, references: Sequence[str]) -> dict[str, PostedTransaction]:
        """The transactions holding any of ``references``, by reference (one ``$in`` listing; those
        not found are absent)."""

        if not references:
            return {}
        found = transactions_matching(self._transport, {"$in": {"reference": list(dict.fromkeys(references))}})
        return {tx.reference: tx for tx in found if tx.reference is not None}

    def get_transaction(self, tx_id: int) -> PostedTransaction:
        response = self._transport.request(f"read transaction {tx_id}", "GET", f"/transactions/{wire.tx_id(tx_id)}")
        return wire.transaction(wire.data(response, "transaction"))

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
            clauses.append({"$match": {"account": wire.address_filter(account)}})
        for key, value in sorted((metadata or {}).items()):
            clauses.append({"$match": {f"metadata[{key}]": value}})
        if start is not None:
            clauses.append({"$gte": {"timestamp": wire.rfc3339(start)}})
        if end is not None:
            clauses.append({"$lt": {"timestamp": wire.rfc3339(end)}})
        query: dict[str, Any] = {}
        if len(clauses) == 1:
            query = clauses[0]
        elif clauses:
            query = {"$and": clauses}
        return transactions_matching(self._transport, query, pit=pit)

    # -- accounts, balances, volumes -------------------------------------------

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        """One account with its volumes, effective at ``pit`` (default: the current volumes).

        Raises UnknownEntity if the ledger has never seen the account, or, with
        ``pit``, if no transaction dated at or before ``pit`` touched it.
        """
        if not wire.ADDRESS.match(address):
            raise InvalidCommand(f"not a ledger account address: {address!r}")
        response = self._transport.request(
            f"read account {address}",
            "GET",
            f"/accounts/{address}",
            params=query_params(expand=wire.EFFECTIVE_VOLUMES, pit=pit),
        )
        return wire.account(wire.data(response, "account"))

    def accounts(self, address_filter: str | Sequence[str], *, pit: datetime | None = None) -> Iterator[AccountState]:
        """Accounts matching the filter (or any of several, one listing) with their volumes effective at ``pit``.

        Default: the current volumes. With ``pit``, only accounts touched by a
        transaction dated at or before ``pit`` are listed (the server filters
        on ``first_usage``). Several filters are sent as one ``$or`` query.
        """
        found = list_pages(
            self._transport,
            "list accounts",
            "/accounts",
            wire.address_query(address_filter),
            expand=wire.EFFECTIVE_VOLUMES,
            pit=pit,
        )
        return (wire.account(item) for item in found)

    def aggregate_balances(
        self, address_filter: str, *, pit: datetime | None = None, use_insertion_date: bool = False
    ) -> dict[Asset, int]:
        """Sum of the matching accounts' balances per asset; an empty filter means every account.

        With ``pit``: effective at ``pit`` (transactions dated at or before it),
        unless ``use_insertion_date`` asks for those *posted* by then.
        """
        response = self._transport.request(
            "aggregate balances",
            "GET",
            "/aggregate/balances",
            params=query_params(pit=pit, useInsertionDate=True if use_insertion_date else None),
            body={"$match": {"address": wire.address_filter(address_filter)}} if address_filter else {},
        )
        data = wire.data(response, "aggregated balances")
        if not isinstance(data, dict):
            raise unexpected("aggregated balances", data)
        return {str(asset): wire.integer(amount, f"balance of {asset}") for asset, amount in data.items()}

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
        body = {"$match": {"address": wire.address_filter(address_filter)}} if address_filter else {}
        if group_by is not None and group_by < 1:
            raise InvalidCommand(f"group_by must be a positive number of segments, got {group_by}")
        found = list_pages(
            self._transport,
            "read volumes",
            "/volumes",
            body,
            startTime=start,
            endTime=end,
            groupBy=group_by,
            insertionDate=True if insertion_date else None,
        )
        return [wire.volume_row(item) for item in found]

    # -- logs -------------------------------------------------------------------

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        """The ledger's hash-chained log, oldest first, as the server sent it; from log ``from_id`` on if given.

        :mod:`loyalty_accounts.ledger.log_chain` recomputes its hashes.
        """
        body = {} if from_id is None else {"$gte": {"id": from_id}}
        found = list_pages(self._transport, "list logs", "/logs", body, sort="id:asc")
        for item in found:
            if not isinstance(item, dict):
                raise unexpected("log", item)
            yield item

    def latest_log_id(self) -> int | None:
        """The id of the ledger's newest log; None when it has none (one page of one log, newest first)."""

        return self._first_log_id({}, sort="id:desc")

    def first_log_since(self, instant: datetime) -> int | None:
        """The id of the first log written at or after ``instant``; None when there is none yet."""

        return self._first_log_id({"$gte": {"date": wire.rfc3339(instant)}}, sort="id:asc")

    def _first_log_id(self, body: Mapping[str, Any], *, sort: str) -> int | None:
        for item in list_pages(self._transport, "list logs", "/logs", body, page_size=1, sort=sort):
            if not isinstance(item, dict):
                raise unexpected("log", item)
            return wire.integer(item.get("id"), "log id")
        return None
