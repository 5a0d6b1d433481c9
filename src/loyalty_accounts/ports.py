"""The one interface between the loyalty services and a Formance ledger.

:class:`loyalty_accounts.ledger.LedgerClient` is the real adapter (HTTP).
Service code depends on this protocol only, so unit tests can hand it a fake;
the integration suite always uses the real adapter against a real server.

Point in time: every read that takes ``pit`` answers with the ledger's state
*effective at pit*: the effect of every transaction whose timestamp (effective
date) is at or before ``pit``, including those posted after ``pit`` with an
earlier date. Windows (``start``/``end``) also compare timestamps. The only
insertion-order reads are the ones asked for by name (``use_insertion_date``,
``insertion_date``). Without ``pit`` a read gives the current state: every
transaction posted so far, whatever its timestamp; that is what the ledger
checks a new posting's balances against, so operations plan on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Mapping, Protocol, Sequence

from .operations.reading import LedgerReader
from .types import PostedTransaction, TransactionPlan
from .vocabulary.amounts import Asset


class LedgerPort(LedgerReader, Protocol):
    """A ledger the services post to and read from: the reads the operations plan on, and the rest.

    The reads declared by :class:`~loyalty_accounts.operations.reading.LedgerReader`
    (written there once, since operations sit below this port) mean:

    - ``find_by_reference(reference)``: the transaction holding a reference, or None;
    - ``get_transaction(tx_id)``: one transaction (UnknownEntity if there is none);
    - ``transactions(account=, metadata=, start=, end=, pit=)``: all matching
      transactions, oldest first, following cursors. ``start`` (inclusive) and
      ``end`` (exclusive) bound the timestamp. With ``pit``: the transactions
      effective at pit (timestamp at or before it), with their metadata as it
      stood at pit and ``reverted`` true only if the revert was written by then;
    - ``account(address, pit=)``: one account with its volumes effective at
      pit (default: current). Raises UnknownEntity for an account never touched
      (with ``pit``: by no transaction dated at or before pit);
    - ``accounts(address_filter, pit=)``: accounts matching a Formance address
      filter (``customers:42:points:``), with volumes effective at pit (default:
      current); with ``pit``, only accounts a transaction dated at or before pit
      touched;
    - ``volumes(address_filter, start=, end=, group_by=, insertion_date=)``:
      input/output/balance per account (or per address prefix) of the
      transactions whose timestamp is in ``[start, end]`` (both inclusive):
      effective dates, unless ``insertion_date=True`` asks for when they were
      posted.
    """

    ledger: str

    def server_version(self) -> str:
        """Version reported by ``GET /_/info``."""

    def create_ledger(self, *, metadata: Mapping[str, str] | None = None, bucket: str | None = None) -> bool:
        """Create the ledger in ``bucket`` (None: the server's default bucket); False if it already existed
        (wherever it is: an existing ledger is not moved)."""

    def insert_schema(self, version: str, schema: Mapping[str, Any]) -> bool:
        """Store a ledger schema; False if that version already existed."""

    def list_schema_versions(self) -> list[str]: ...

    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        """Post exactly once: a replay of the same command returns the original
        (``replayed=True``: an earlier call posted it, never this call's own
        retry); the same reference with another command raises
        :class:`~loyalty_accounts.errors.DuplicateOperation`. A write whose
        outcome stayed unknown raises
        :class:`~loyalty_accounts.errors.OutcomeUnknown`."""

    def post_many(
        self,
        plans: Sequence[TransactionPlan],
        *,
        schema_version: str | None = None,
        atomic: bool = False,
        looked_up: bool = False,
    ) -> list[PostedTransaction]:
        """Post through the bulk endpoint (chunked), with the same exactly-once rules; ``looked_up``:
        the caller has just found none of the references taken, so they are not looked up again."""

    def add_transaction_metadata(
        self, tx_id: int, metadata: Mapping[str, str], *, schema_version: str | None = None
    ) -> None:
        """Add keys to a transaction's metadata; writing the same keys again changes nothing."""

    def revert(
        self,
        tx_id: int,
        *,
        force: bool = False,
        metadata: Mapping[str, str] | None = None,
        schema_version: str | None = None,
    ) -> PostedTransaction:
        """Revert a transaction; reverting twice raises DuplicateOperation(code=ALREADY_REVERT)."""

    def aggregate_balances(
        self, address_filter: str, *, pit: datetime | None = None, use_insertion_date: bool = False
    ) -> dict[Asset, int]:
        """Balances per asset summed over the matching accounts (empty filter: all), effective
        at pit (default: current); ``use_insertion_date=True`` counts the transactions *posted*
        by pit instead."""

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        """The ledger's hash-chained log, oldest first; only the logs from id ``from_id`` on if given."""

    def latest_log_id(self) -> int | None:
        """The id of the ledger's newest log; None when it has none."""

    def first_log_since(self, instant: datetime) -> int | None:
        """The id of the first log written at or after ``instant``; None when there is none yet."""

    def ledger_metadata(self) -> dict[str, str]:
        """The ledger's own metadata (where a log-chain check leaves its checkpoint)."""

    def set_ledger_metadata(self, metadata: Mapping[str, str]) -> None:
        """Set keys of the ledger's own metadata, keeping the others (idempotent)."""
