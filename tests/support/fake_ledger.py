"""An in-memory ``LedgerPort`` for unit tests of the services.

Scripts run in the real Formance Numscript interpreter (see ``interpreter``);
this class only keeps the books around it, the way a Formance Ledger v2.4.12
server in strict schema mode answers through
:class:`~loyalty_accounts.ledger.LedgerClient`. The integration test
``tests/integration/test_differential.py`` runs the same scenarios here and on
a real server and compares the answers field by field; what it pinned down:

* transaction ids start at 1 and come from a sequence: a transaction refused
  after it was numbered (a posting outside the chart, an atomic bulk rolled
  back) still uses up its id;
* references are unique; the same command again is answered with the
  transaction *as it was posted* (an idempotency hit), another command under
  the same reference is refused;
* every write to a ledger holding a schema must name a known schema version
  (unknown → NOT_FOUND, none → SCHEMA_NOT_SPECIFIED), checked before anything
  else; postings must fit the chart (VALIDATION);
* a revert is dated now, carries ``com.formance.spec/state/reverts`` and may
  leave no account but ``world`` negative unless forced;
* reads "as of" ``pit`` are effective-dated (transaction timestamps), except
  where the port says insertion: transactions listed at ``pit`` show the
  metadata and reverted flag they had at that instant, accounts exist from
  their first effective use, volumes windows include both ends.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerRejected,
    LoyaltyError,
    UnknownEntity,
)
from loyalty_accounts.types import (
    AccountState,
    PostedTransaction,
    Posting,
    TransactionPlan,
    Volume,
    VolumeRow,
)
from loyalty_accounts.vocabulary.amounts import Asset
from loyalty_accounts.vocabulary.instants import parse_instant

from .interpreter import ScriptFailed, run_script

REVERTS_KEY = "com.formance.spec/state/reverts"
"""Metadata the server puts on a reversing transaction: the id it reverts."""
BULK_CHUNK = 100


def address_matches(address: str, address_filter: str) -> bool:
    """Formance address filters: '' = all; an empty segment = any one segment;
    a trailing '...' = any number of further segments (none included); else exact."""

    if not address_filter:
        return True
    wanted = address_filter.split(":")
    parts = address.split(":")
    if wanted[-1] == "...":
        wanted = wanted[:-1]
        if len(parts) < len(wanted):
            return False
    elif "" not in wanted:
        return address == address_filter
    elif len(parts) != len(wanted):
        return False
    return all(w == "" or w == p for w, p in zip(wanted, parts))


def chart_admits(chart: Mapping[str, Any], address: str) -> bool:
    """Whether a Formance chart of accounts declares ``address``.

    Walks the segments: a fixed key is taken when it exists (no fallback),
    else the ``$variable`` key if its ``.pattern`` (searched, as Go's
    regexp.Match does) accepts the segment. The last node must be an account:
    a leaf, or a node marked ``.self``.
    """

    node: Mapping[str, Any] = chart
    parts = address.split(":")
    for depth, segment in enumerate(parts):
        children = {k: v for k, v in node.items() if not k.startswith(".")}
        if depth == 0:
            children = {k: v for k, v in children.items() if not k.startswith("$")}
        if segment in children:
            node = children[segment]
        else:
            variable = next((v for k, v in children.items() if k.startswith("$")), None)
            if variable is None:
                return False
            pattern = variable.get(".pattern")
            if pattern is not None and re.search(pattern, segment) is None:
                return False
            node = variable
    has_children = any(not k.startswith(".") for k in node)
    return not has_children or ".self" in node


def _json(tx: PostedTransaction) -> dict[str, Any]:
    return tx.model_dump(mode="json", exclude={"replayed", "inserted_at"})


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class FakeLedger:
    def __init__(self, ledger: str = "fake", *, clock: Any = None) -> None:
        self.ledger = ledger
        self.created = False
        self.bucket: str | None = None
        """The bucket the ledger was created in (None: the server's default, or not created)."""
        self.schemas: dict[str, Mapping[str, Any]] = {}
        self.txs: list[PostedTransaction] = []
        """Transactions in id order, each in its current state."""
        self._position: dict[int, int] = {}
        self._by_ref: dict[str, int] = {}
        self._inserted_at: dict[int, datetime] = {}
        self._reverted_at: dict[int, datetime] = {}
        self._metadata_history: dict[int, list[tuple[datetime, dict[str, str]]]] = {}
        self._metadata_writes: set[tuple[int, tuple[tuple[str, str], ...]]] = set()
        self._last_id = 0
        self._logs: list[dict[str, Any]] = []
        self._last_log_id = 0
        self.metadata: dict[str, str] = {}
        """The ledger's own metadata (set_ledger_metadata)."""
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.posts = 0
        """Transactions posted by operations (the openings of control accounts are counted in ``openings``)."""
        self.openings = 0

    # -- admin --------------------------------------------------------------
    def server_version(self) -> str:
        return "fake"

    def create_ledger(self, *, metadata: Mapping[str, str] | None = None, bucket: str | None = None) -> bool:
        if not self.created:
            self.bucket = bucket
        created, self.created = not self.created, True
        if created and metadata:
            self.metadata.update(metadata)
        return created

    def ledger_metadata(self) -> dict[str, str]:
        return dict(self.metadata)

    def set_ledger_metadata(self, metadata: Mapping[str, str]) -> None:
        """Merged into the ledger's metadata, as the server does; not a log."""
        self.metadata.update(metadata)

    def insert_schema(self, version: str, schema: Mapping[str, Any]) -> bool:
        if version in self.schemas:
            return False
        self.schemas[version] = schema
        self._log("INSERTED_SCHEMA", {"schema": {**schema, "version": version}})
        return True

    def list_schema_versions(self) -> list[str]:
        return list(self.schemas)

    # -- writes -------------------------------------------------------------
    def post(self, plan: TransactionPlan, *, schema_version: str | None = None) -> PostedTransaction:
        existing = self.find_by_reference(plan.reference)
        if existing is not None:
            # As LedgerClient on the server: every call has its own idempotency key, so a
            # second call runs the script (funds are checked first) and then fails to insert
            # on the taken reference, which uses up a transaction id; the client then finds
            # the original by reference, in its current state.
            try:
                run_script(plan.script, plan.vars, self._balances())
            except ScriptFailed:
                pass
            else:
                self._last_id += 1
            if existing.metadata.get("command_hash") != plan.command_hash:
                raise DuplicateOperation(f"reference {plan.reference!r} already used by another operation", code="CONFLICT")
            return existing.model_copy(update={"replayed": True})
        return self._create(plan, schema_version)

    def post_many(
        self,
        plans: Sequence[TransactionPlan],
        *,
        schema_version: str | None = None,
        atomic: bool = False,
        looked_up: bool = False,
    ) -> list[PostedTransaction]:
        """As LedgerClient.post_many: references looked up per chunk of 100 (unless
        ``looked_up``), then the rest posted; without ``atomic`` every element is
        tried and the first failure raised afterwards; with it, one failure undoes
        the chunk (its ids stay used). A reference taken when its element is posted
        is a replay (same command) or that element's refusal (another command)."""

        first: dict[str, TransactionPlan] = {}
        for plan in plans:
            if first.setdefault(plan.reference, plan).command_hash != plan.command_hash:
                raise DuplicateOperation(f"reference {plan.reference!r} is used by two commands in one batch", code="CONFLICT")
        unique = list(first.values())
        if atomic and len(unique) > BULK_CHUNK:
            raise InvalidCommand(f"atomic posting is limited to {BULK_CHUNK} transactions per call, got {len(unique)}")
        posted: dict[str, PostedTransaction] = {}
        for start in range(0, len(unique), BULK_CHUNK):
            chunk = unique[start : start + BULK_CHUNK]
            pending = []
            for plan in chunk:
                found = None if looked_up else self.find_by_reference(plan.reference)
                if found is None:
                    pending.append(plan)
                elif found.metadata.get("command_hash") == plan.command_hash:
                    posted[plan.reference] = found.model_copy(update={"replayed": True})
                else:
                    raise DuplicateOperation(f"reference {plan.reference!r} is already used by transaction {found.id}", code="CONFLICT")
            posted.update(self._bulk(pending, schema_version, atomic))
        results, seen = [], set()
        for plan in plans:
            tx = posted[plan.reference]
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
        self._check_schema(schema_version)
        original = self.get_transaction(tx_id)
        if original.reverted:
            raise DuplicateOperation(f"already reverted, id: {tx_id}", code="ALREADY_REVERT")
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
        now = _utc(self._clock())
        reverted = original.model_copy(update={"reverted": True})
        self._replace(reverted)
        self._reverted_at[tx_id] = now
        reversal = self._record(reversed_postings, now, {**(metadata or {}), REVERTS_KEY: str(tx_id)}, None, log=False)
        self._log("REVERTED_TRANSACTION", {"revertedTransaction": _json(reverted), "transaction": _json(reversal)})
        return reversal

    def add_transaction_metadata(
        self, tx_id: int, metadata: Mapping[str, str], *, schema_version: str | None = None
    ) -> None:
        write = (tx_id, tuple(sorted(metadata.items())))
        if write in self._metadata_writes:
            return  # the same write again: the client's idempotency key makes it a hit
        self._check_schema(schema_version)
        tx = self.get_transaction(tx_id)
        self._metadata_writes.add(write)
        self._log("SET_METADATA", {"targetType": "TRANSACTION", "targetId": tx_id, "metadata": dict(metadata)})
        if all(tx.metadata.get(k) == v for k, v in metadata.items()):
            return  # logged, but the server's update matches no row: no new revision
        updated = {**tx.metadata, **metadata}
        self._replace(tx.model_copy(update={"metadata": updated}))
        self._metadata_history[tx_id].append((_utc(self._clock()), updated))

    # -- reads --------------------------------------------------------------
    def find_by_reference(self, reference: str) -> PostedTransaction | None:
        tx_id = self._by_ref.get(reference)
        return None if tx_id is None else self.get_transaction(tx_id)

    def find_by_references(self, references: Sequence[str]) -> dict[str, PostedTransaction]:
        found = {reference: self.find_by_reference(reference) for reference in references}
        return {reference: tx for reference, tx in found.items() if tx is not None}

    def get_transaction(self, tx_id: int) -> PostedTransaction:
        position = self._position.get(tx_id)
        if position is None:
            raise UnknownEntity(f"transaction {tx_id} not found", code="NOT_FOUND")
        return self.txs[position]

    def transactions(
        self,
        *,
        account: str | None = None,
        metadata: Mapping[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        pit: datetime | None = None,
    ) -> Iterator[PostedTransaction]:
        """Oldest id first. At ``pit``: transactions dated up to it, each with the
        metadata it had then and reverted only if reverted by then."""

        for tx in self.txs:
            if pit is not None:
                if tx.timestamp > pit:
                    continue
                tx = self._as_of(tx, pit)
            if account and not any(address_matches(p.source, account) or address_matches(p.destination, account) for p in tx.postings):
                continue
            if metadata and any(tx.metadata.get(k) != v for k, v in metadata.items()):
                continue
            if start and tx.timestamp < start:
                continue
            if end and tx.timestamp >= end:
                continue
            yield tx

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        """Current volumes, or effective at ``pit``; UnknownEntity before the account's first use."""

        first = self._first_usage().get(address)
        if first is None or (pit is not None and first > pit):
            raise UnknownEntity(f"account {address} not found", code="NOT_FOUND")
        return self._state(address, self._volumes(self._moves(until=pit)).get(address, {}))

    def accounts(self, address_filter: str | Sequence[str], *, pit: datetime | None = None) -> Iterator[AccountState]:
        """Accounts in address (byte) order matching the filter (or any of several), with current volumes or
        those effective at ``pit``."""

        filters = [address_filter] if isinstance(address_filter, str) else list(address_filter)
        volumes = self._volumes(self._moves(until=pit))
        for address, first in sorted(self._first_usage().items()):
            if any(address_matches(address, f) for f in filters) and (pit is None or first <= pit):
                yield self._state(address, volumes.get(address, {}))

    def aggregate_balances(
        self, address_filter: str, *, pit: datetime | None = None, use_insertion_date: bool = False
    ) -> dict[Asset, int]:
        totals: dict[str, int] = defaultdict(int)
        for address, vols in self._volumes(self._moves(until=pit, by_insertion=use_insertion_date)).items():
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
        """Moves between ``start`` and ``end``, both included, by effective or insertion date."""

        grouped: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        moves = self._moves(since=start, until=end, by_insertion=insertion_date)
        for address, vols in self._volumes(moves).items():
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

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        """The log as the server lists it (ids, types, payloads), without hashes; from id ``from_id`` on."""

        yield from (dict(log) for log in self._logs if from_id is None or log["id"] >= from_id)

    def latest_log_id(self) -> int | None:
        return self._logs[-1]["id"] if self._logs else None

    def first_log_since(self, instant: datetime) -> int | None:
        return next((log["id"] for log in self._logs if parse_instant(str(log["date"]), timezone.utc) >= instant), None)

    # -- internals ----------------------------------------------------------
    def _check_schema(self, schema_version: str | None) -> None:
        if schema_version is not None and schema_version not in self.schemas:
            raise UnknownEntity(f"schema version `{schema_version}` not found", code="NOT_FOUND")
        if schema_version is None and self.schemas:
            raise LedgerRejected("a schema version must be specified for this ledger", code="SCHEMA_NOT_SPECIFIED")

    def _create(self, plan: TransactionPlan, schema_version: str | None) -> PostedTransaction:
        """Check the schema, run the script, number the transaction, check the chart, record it."""

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
        if schema_version is not None:
            chart = self.schemas[schema_version].get("chart", {})
            for address in sorted({a for p in postings for a in (p.source, p.destination)}):
                if not chart_admits(chart, address):
                    self._last_id += 1  # numbered before the chart check: the id is used up
                    raise LedgerRejected(
                        f"schema version [{schema_version}]: account `{address}` is not defined in the chart of accounts",
                        code="VALIDATION",
                    )
        timestamp = _utc(plan.timestamp) if plan.timestamp is not None else None
        tx = self._record(postings, timestamp, plan.all_metadata(), plan.reference)
        if plan.operation == "open_control":
            self.openings += 1
        else:
            self.posts += 1
        return tx

    def _bulk(self, plans: Sequence[TransactionPlan], schema_version: str | None, atomic: bool) -> dict[str, PostedTransaction]:
        saved = self._snapshot() if atomic else None
        posted: dict[str, PostedTransaction] = {}
        failures: list[tuple[TransactionPlan, LoyaltyError]] = []
        for plan in plans:
            found = self.find_by_reference(plan.reference)
            if found is not None:
                if found.metadata.get("command_hash") == plan.command_hash:
                    posted[plan.reference] = found.model_copy(update={"replayed": True})
                else:
                    failures.append((plan, DuplicateOperation(f"reference {plan.reference!r} is already used by transaction {found.id} for a different command", code="CONFLICT")))
                continue
            try:
                posted[plan.reference] = self._create(plan, schema_version)
            except LoyaltyError as exc:
                failures.append((plan, exc))
        if not failures:
            return posted
        if saved is not None:
            used = (self._last_id, self._last_log_id)
            self._restore(saved)
            self._last_id, self._last_log_id = used  # sequences do not roll back
        plan, first = failures[0]
        suffix = " (atomic batch: nothing was posted)" if atomic else ""
        raise type(first)(
            f"transaction {plan.reference!r} refused ({first.code}): {first.message}{suffix}",
            code=first.code,
            details={
                "atomic": atomic,
                "failures": [{"reference": p.reference, "code": e.code, "message": e.message} for p, e in failures],
                # As the client: what this request settled anyway (in an atomic chunk, only replays).
                "posted": sorted(ref for ref, tx in posted.items() if not tx.replayed and not atomic),
                "replayed": sorted(ref for ref, tx in posted.items() if tx.replayed),
            },
        )

    def _record(
        self,
        postings: tuple[Posting, ...],
        timestamp: datetime | None,
        metadata: Mapping[str, str],
        reference: str | None,
        *,
        log: bool = True,
    ) -> PostedTransaction:
        self._last_id += 1
        now = _utc(self._clock())
        tx = PostedTransaction(
            id=self._last_id,
            reference=reference,
            timestamp=timestamp or now,
            postings=postings,
            metadata=dict(metadata),
            inserted_at=now,
        )
        self._position[tx.id] = len(self.txs)
        self.txs.append(tx)
        self._inserted_at[tx.id] = now
        self._metadata_history[tx.id] = [(tx.timestamp, dict(metadata))]
        if reference:
            self._by_ref[reference] = tx.id
        if log:
            self._log("NEW_TRANSACTION", {"transaction": _json(tx), "accountMetadata": {}})
        return tx

    def _log(self, log_type: str, data: dict[str, Any]) -> None:
        self._last_log_id += 1
        self._logs.append({"id": self._last_log_id, "type": log_type, "data": data, "date": _utc(self._clock()).isoformat()})

    def _replace(self, tx: PostedTransaction) -> None:
        self.txs[self._position[tx.id]] = tx

    def _as_of(self, tx: PostedTransaction, pit: datetime) -> PostedTransaction:
        history = [meta for date, meta in self._metadata_history[tx.id] if date <= pit]
        reverted_at = self._reverted_at.get(tx.id)
        return tx.model_copy(
            update={"metadata": dict(history[-1]) if history else {}, "reverted": reverted_at is not None and reverted_at <= pit}
        )

    _STATE = ("txs", "posts", "openings", "_position", "_by_ref", "_inserted_at", "_reverted_at",
              "_metadata_history", "_metadata_writes", "_last_id", "_logs", "_last_log_id")

    def _snapshot(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self._STATE}

    def _restore(self, saved: Mapping[str, Any]) -> None:
        for name, value in saved.items():
            setattr(self, name, value)

    def _moves(
        self, *, since: datetime | None = None, until: datetime | None = None, by_insertion: bool = False
    ) -> Iterable[PostedTransaction]:
        for tx in self.txs:
            when = self._inserted_at[tx.id] if by_insertion else tx.timestamp
            if (since is None or when >= since) and (until is None or when <= until):
                yield tx

    @staticmethod
    def _volumes(moves: Iterable[PostedTransaction]) -> dict[str, dict[str, list[int]]]:
        vols: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for tx in moves:
            for p in tx.postings:
                vols[p.destination][p.asset][0] += p.amount
                vols[p.source][p.asset][1] += p.amount
        return vols

    def _first_usage(self) -> dict[str, datetime]:
        first: dict[str, datetime] = {}
        for tx in self.txs:
            for p in tx.postings:
                for address in (p.source, p.destination):
                    if address not in first or tx.timestamp < first[address]:
                        first[address] = tx.timestamp
        return first

    @staticmethod
    def _state(address: str, vols: Mapping[str, list[int]]) -> AccountState:
        return AccountState(address=address, volumes={a: Volume(input=v[0], output=v[1]) for a, v in vols.items()})

    def _balances(self) -> dict[str, dict[str, int]]:
        return {a: {s: v[0] - v[1] for s, v in assets.items()} for a, assets in self._volumes(self.txs).items()}
