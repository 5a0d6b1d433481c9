"""An in-memory ``LedgerPort`` for unit tests of the services.

Scripts run in the real Formance Numscript interpreter (see ``interpreter``);
this class only keeps the books around it: references are unique, balances
are the sums of postings, reverts follow the server's rule that no account but
``world`` may end up negative unless forced. It is a test double for service
logic and a prediction to compare with; the integration suite runs the same
services against the real server.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping, Sequence

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    LedgerRejected,
    UnknownEntity,
)
from loyalty_accounts.types import AccountState, Asset, Posting, PostedTransaction, TransactionPlan, Volume, VolumeRow

from .interpreter import ScriptFailed, run_script


def address_matches(address: str, address_filter: str) -> bool:
    """Formance address filters: '' = all, 'a:...' = subtree, empty segment = any one segment."""

    if not address_filter:
        return True
    if address_filter.endswith(":..."):
        prefix = address_filter[: -len("...")]
        return address.startswith(prefix)
    wanted = address_filter.split(":")
    parts = address.split(":")
    return len(parts) == len(wanted) and all(w == "" or w == p for w, p in zip(wanted, parts))


class FakeLedger:
    def __init__(self, ledger: str = "fake", *, clock: Any = None) -> None:
        self.ledger = ledger
        self.created = False
        self.schemas: dict[str, Mapping[str, Any]] = {}
        self.txs: list[PostedTransaction] = []
        self._by_ref: dict[str, int] = {}
        self._inserted_at: list[datetime] = []
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.posts = 0

    # -- admin --------------------------------------------------------------
    def server_version(self) -> str:
        return "fake"

    def create_ledger(self, *, metadata: Mapping[str, str] | None = None) -> bool:
        created, self.created = not self.created, True
        return created

    def insert_schema(self, version: str, schema: Mapping[str, Any]) -> bool:
        if version in self.schemas:
            return False
        self.schemas[version] = schema
        return True

    def list_schema_versions(self) -> list[str]:
        return list(self.schemas)

    # -- writes -------------------------------------------------------------
    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        existing = self.find_by_reference(plan.reference)
        if existing is not None:
            if existing.metadata.get("command_hash") != plan.command_hash:
                raise DuplicateOperation(f"reference {plan.reference!r} already used by another operation", code="CONFLICT")
            return existing.model_copy(update={"replayed": True})
        self._check_schema(schema_version)
        try:
            raw = run_script(plan.script, plan.vars, self._balances())
        except ScriptFailed as exc:
            if exc.missing_funds:
                raise InsufficientPoints(str(exc), code="INSUFFICIENT_FUND") from None
            raise LedgerRejected(str(exc), code="COMPILATION_FAILED") from None
        postings = tuple(Posting(source=p["source"], destination=p["destination"], amount=int(p["amount"]), asset=p["asset"]) for p in raw)
        if not postings:
            raise LedgerRejected("transaction has no postings", code="NO_POSTINGS")
        tx = self._record(postings, plan.timestamp, plan.all_metadata(), plan.reference)
        self.posts += 1
        return tx

    def post_many(
        self, plans: Sequence[TransactionPlan], *, schema_version: str | None = None, atomic: bool = False
    ) -> list[PostedTransaction]:
        return [self.post(p, schema_version=schema_version) for p in plans]

    def revert(
        self,
        tx_id: int,
        *,
        force: bool = False,
        metadata: Mapping[str, str] | None = None,
        schema_version: str | None = None,
    ) -> PostedTransaction:
        original = self.get_transaction(tx_id)
        if original.reverted:
            raise DuplicateOperation(f"transaction {tx_id} already reverted", code="ALREADY_REVERT")
        self._check_schema(schema_version)
        reversed_postings = tuple(
            Posting(source=p.destination, destination=p.source, amount=p.amount, asset=p.asset)
            for p in reversed(original.postings)
        )
        if not force:
            after = self._balances()
            for p in reversed_postings:
                after.setdefault(p.source, {}).setdefault(p.asset, 0)
                after[p.source][p.asset] -= p.amount
                after.setdefault(p.destination, {}).setdefault(p.asset, 0)
                after[p.destination][p.asset] += p.amount
            for p in reversed_postings:
                if p.source != "world" and after[p.source][p.asset] < 0:
                    raise InsufficientPoints(f"insufficient fund for {p.source}/{p.asset}", code="INSUFFICIENT_FUND")
        self.txs[tx_id] = original.model_copy(update={"reverted": True})
        return self._record(reversed_postings, None, dict(metadata or {}), None)

    def add_transaction_metadata(
        self, tx_id: int, metadata: Mapping[str, str], *, schema_version: str | None = None
    ) -> None:
        tx = self.get_transaction(tx_id)
        self._check_schema(schema_version)
        self.txs[tx_id] = tx.model_copy(update={"metadata": {**tx.metadata, **metadata}})

    # -- reads --------------------------------------------------------------
    def find_by_reference(self, reference: str) -> PostedTransaction | None:
        index = self._by_ref.get(reference)
        return None if index is None else self.txs[index]

    def get_transaction(self, tx_id: int) -> PostedTransaction:
        if not 0 <= tx_id < len(self.txs):
            raise UnknownEntity(f"transaction {tx_id} not found", code="NOT_FOUND")
        return self.txs[tx_id]

    def transactions(
        self,
        *,
        account: str | None = None,
        metadata: Mapping[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        pit: datetime | None = None,
    ) -> Iterator[PostedTransaction]:
        for tx in self.txs:
            if account and not any(address_matches(p.source, account) or address_matches(p.destination, account) for p in tx.postings):
                continue
            if metadata and any(tx.metadata.get(k) != v for k, v in metadata.items()):
                continue
            if start and tx.timestamp < start:
                continue
            if end and tx.timestamp >= end:
                continue
            if pit and tx.timestamp > pit:
                continue
            yield tx

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        vols = self._volumes(pit=pit).get(address, {})
        return AccountState(address=address, volumes={a: Volume(input=v[0], output=v[1]) for a, v in vols.items()})

    def accounts(self, address_filter: str, *, pit: datetime | None = None) -> Iterator[AccountState]:
        for address, vols in sorted(self._volumes(pit=pit).items()):
            if address_matches(address, address_filter):
                yield AccountState(address=address, volumes={a: Volume(input=v[0], output=v[1]) for a, v in vols.items()})

    def aggregate_balances(
        self, address_filter: str, *, pit: datetime | None = None, use_insertion_date: bool = False
    ) -> dict[Asset, int]:
        totals: dict[str, int] = defaultdict(int)
        for address, vols in self._volumes(pit=pit).items():
            if address_matches(address, address_filter):
                for asset, (inp, out) in vols.items():
                    totals[asset] += inp - out
        return dict(totals)

    def volumes(
        self,
        address_filter: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        group_by: int | None = None,
        insertion_date: bool = False,
    ) -> list[VolumeRow]:
        grouped: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        # The server's volumes window includes both ends (startTime <= t <= endTime).
        inclusive_end = end + timedelta(microseconds=1) if end else None
        for address, vols in self._volumes(start=start, end=inclusive_end).items():
            if address_filter and not address_matches(address, address_filter):
                continue
            key_addr = ":".join(address.split(":")[:group_by]) if group_by else address
            for asset, (inp, out) in vols.items():
                grouped[(key_addr, asset)][0] += inp
                grouped[(key_addr, asset)][1] += out
        return [
            VolumeRow(account=a, asset=s, input=v[0], output=v[1], balance=v[0] - v[1])
            for (a, s), v in sorted(grouped.items())
        ]

    def logs(self) -> Iterator[dict[str, Any]]:
        for tx in self.txs:
            yield {"id": tx.id, "type": "NEW_TRANSACTION", "data": {"transaction": tx.model_dump(mode="json")}}

    # -- internals ----------------------------------------------------------
    def _check_schema(self, schema_version: str | None) -> None:
        if self.schemas and schema_version not in self.schemas:
            raise LedgerRejected(f"schema version {schema_version!r} not specified or unknown", code="SCHEMA_NOT_SPECIFIED")

    def _record(
        self, postings: tuple[Posting, ...], timestamp: datetime | None, metadata: Mapping[str, str], reference: str | None
    ) -> PostedTransaction:
        tx = PostedTransaction(
            id=len(self.txs),
            reference=reference,
            timestamp=timestamp or self._clock(),
            postings=postings,
            metadata=dict(metadata),
        )
        self.txs.append(tx)
        if reference:
            self._by_ref[reference] = tx.id
        return tx

    def _volumes(
        self, *, pit: datetime | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, dict[str, list[int]]]:
        vols: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for tx in self.transactions(pit=pit, start=start, end=end):
            for p in tx.postings:
                vols[p.destination][p.asset][0] += p.amount
                vols[p.source][p.asset][1] += p.amount
        return vols

    def _balances(self) -> dict[str, dict[str, int]]:
        return {a: {s: v[0] - v[1] for s, v in assets.items()} for a, assets in self._volumes().items()}
