"""Bulk posting through ``/_bulk``, in chunks, with the exactly-once rules of a single post.

Each chunk's references are looked up first (one request): the bulk endpoint
does not say which elements were idempotency hits, so this is how replays are
recognised, and a reused reference is refused before anything of the chunk is
sent. A caller that has just looked them up itself (an import, per chunk) says
so (``looked_up``) and the chunk is sent at once. Elements refused in a way
that may mean "reference taken" are settled like a single post
(:mod:`loyalty_accounts.ledger.exactly_once`): a replay, or a refusal of that
element when another command holds the reference, reported with the others'
outcomes (``details["failures"]``, ``["posted"]``, ``["replayed"]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerRejected,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
)
from ..types import PostedTransaction, TransactionPlan
from . import wire
from .errors import error_from_response, error_type, may_mean_taken, unexpected
from .exactly_once import original, reference_taken_by_another_command
from .reads import query_params, transactions_matching
from .transport import Call, Transport, idempotency_key

__all__ = ["BULK_CHUNK", "BULK_SECONDS_PER_ELEMENT", "bulk_timeout_s", "post_many", "transactions_any"]

BULK_CHUNK = 100
"""The server's default bulk limit (``--bulk-max-size``, ``cmd/serve.go``); beyond it: 413 BULK_SIZE_EXCEEDED."""
BULK_SECONDS_PER_ELEMENT = 0.25
"""Seconds a bulk request may take per element, on top of the connection's timeout. A loaded
shared server took 8-13 s for 100 earns (past a flat 10 s timeout); 100 elements now get
10 + 25 = 35 s before the attempt counts as lost (and is retried with the same keys)."""


def bulk_timeout_s(base_s: float, elements: int) -> float:
    """Seconds one bulk request of ``elements`` may take: ``base_s`` (the connection's timeout) plus
    :data:`BULK_SECONDS_PER_ELEMENT` per element."""

    return base_s + BULK_SECONDS_PER_ELEMENT * max(0, elements)


def post_many(
    transport: Transport,
    plans: Sequence[TransactionPlan],
    *,
    schema_version: str | None,
    atomic: bool,
    looked_up: bool = False,
) -> list[PostedTransaction]:
    """Post through ``/_bulk`` in chunks of 100, with the same exactly-once rules as a single post.

    ``atomic`` makes the server apply each chunk in one database transaction;
    it is refused above 100 plans since atomicity cannot span chunks.
    ``looked_up``: the caller found none of the references on the ledger just
    before, so no chunk looks them up again (one request fewer per chunk); a
    reference taken since is settled by the conflict path all the same.
    """
    unique = _unique_by_reference(plans)
    if atomic and len(unique) > BULK_CHUNK:
        raise InvalidCommand(f"atomic posting is limited to {BULK_CHUNK} transactions per call, got {len(unique)}")
    posted: dict[str, PostedTransaction] = {}
    for start in range(0, len(unique), BULK_CHUNK):
        chunk = unique[start : start + BULK_CHUNK]
        try:
            posted.update(
                _post_chunk(transport, chunk, schema_version=schema_version, atomic=atomic, looked_up=looked_up)
            )
        except LoyaltyError as exc:
            raise _with_settled(exc, posted) from None

    results: list[PostedTransaction] = []
    seen: set[str] = set()
    for plan in plans:
        tx = posted[plan.reference]
        # A reference repeated inside the input is a replay of its first occurrence.
        results.append(tx.model_copy(update={"replayed": True}) if plan.reference in seen else tx)
        seen.add(plan.reference)
    return results


def _post_chunk(
    transport: Transport,
    chunk: Sequence[TransactionPlan],
    *,
    schema_version: str | None,
    atomic: bool,
    looked_up: bool,
) -> dict[str, PostedTransaction]:
    posted: dict[str, PostedTransaction] = {}
    existing: dict[str | None, PostedTransaction] = {}
    if not looked_up:
        lookup = {"$in": {"reference": [plan.reference for plan in chunk]}}
        existing = {tx.reference: tx for tx in transactions_matching(transport, lookup)}
    pending: list[TransactionPlan] = []
    for plan in chunk:
        found = existing.get(plan.reference)
        if found is None:
            pending.append(plan)
        elif found.metadata.get("command_hash") == plan.command_hash:
            posted[plan.reference] = found.model_copy(update={"replayed": True})
        else:
            raise reference_taken_by_another_command(plan, found)

    call = Call()
    keys = {plan.reference: idempotency_key(plan.reference, call.id) for plan in pending}
    while pending:
        outcomes = _bulk(transport, pending, keys, call=call, schema_version=schema_version, atomic=atomic)
        failures: list[tuple[TransactionPlan, LoyaltyError]] = []
        taken: list[tuple[TransactionPlan, PostedTransaction, datetime | None]] = []
        committed: dict[str, PostedTransaction] = {}
        for plan, outcome in zip(pending, outcomes):
            if isinstance(outcome, PostedTransaction):
                # Bulk results do not say "hit"; with this call's own keys a hit is ours anyway.
                committed[plan.reference] = outcome
                continue
            if may_mean_taken(outcome):
                try:
                    taken.append((plan, *original(transport, plan, outcome)))
                    continue
                except InsufficientPoints:
                    pass
                except DuplicateOperation as another:
                    # Taken by another command since the lookup: this element is refused,
                    # and the others' outcomes are reported with it.
                    outcome = another
            failures.append((plan, outcome))

        ours = _ours_in_bulk(transport, taken, keys, call, schema_version) if taken and call.uncertain else set()
        for plan, found, _ in taken:
            posted[plan.reference] = found.model_copy(update={"replayed": plan.reference not in ours})
        if failures:
            raise _with_settled(_first_failure(failures, atomic=atomic), posted if atomic else {**posted, **committed})
        if atomic and taken:
            # The server rolled the whole chunk back: send again what was not already there.
            resolved = {plan.reference for plan, _, _ in taken}
            pending = [plan for plan in pending if plan.reference not in resolved]
            continue
        posted.update(committed)
        pending = []
    return posted


def _ours_in_bulk(
    transport: Transport,
    taken: Sequence[tuple[TransactionPlan, PostedTransaction, datetime | None]],
    keys: Mapping[str, str],
    call: Call,
    schema_version: str | None,
) -> set[str]:
    """References among ``taken`` that an unanswered attempt of ``call`` posted (see ``ours_after_all``).

    The elements are sent once more, with their keys, in a non-atomic bulk:
    every reference is taken, so nothing new can be posted; an element
    answered with its transaction was ours.
    """
    plans = [plan for plan, _, _ in taken]
    try:
        outcomes = _bulk(transport, plans, keys, call=call, schema_version=schema_version, atomic=False)
    except (LedgerUnavailable, OutcomeUnknown):
        return {plan.reference for plan, _, inserted_at in taken if call.inserted_since_start(inserted_at)}
    return {plan.reference for plan, outcome in zip(plans, outcomes) if isinstance(outcome, PostedTransaction)}


def _bulk(
    transport: Transport,
    plans: Sequence[TransactionPlan],
    keys: Mapping[str, str],
    *,
    call: Call,
    schema_version: str | None,
    atomic: bool,
) -> list[PostedTransaction | LoyaltyError]:
    """One ``/_bulk`` request; one outcome per plan, in the order of ``plans``; ``keys`` by reference.

    Built by hand (the body formance-sdk-python's ``create_bulk`` writes, without its per-call model
    building): ``[{"action": "CREATE_TRANSACTION", "ik", "data"}]`` with ``continueOnFailure``.
    """
    elements = [
        {"action": "CREATE_TRANSACTION", "data": wire.post_json(plan), "ik": keys[plan.reference]} for plan in plans
    ]
    # Sequential (never "parallel"): results then come back in element order.
    # continueOnFailure: every element gets its own outcome instead of "context canceled".
    params = query_params(atomic=True if atomic else None, continueOnFailure=True, schemaVersion=schema_version)
    # The request's time budget grows with its size (a chunk of 100 may take seconds under load).
    timeout_s = bulk_timeout_s(transport.connection.timeout_s, len(plans))
    request = transport.prepared("POST", "/_bulk", params=params, body=elements, write=True, timeout_s=timeout_s)
    # 400 with a "data" array is a per-element report, not a refusal of the request.
    response = transport.send("post bulk", request, accept=frozenset({400}), call=call, write=True)
    body = wire.json_body(response, "bulk response")
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise error_from_response("post bulk", response)
    if len(items) != len(plans):
        raise LedgerRejected(
            f"bulk response has {len(items)} results for {len(plans)} elements", code="UNEXPECTED_RESPONSE"
        )
    return _correlate_bulk(plans, items)


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
            raise unexpected("bulk result", item)
        if item.get("responseType") == "ERROR" or item.get("errorCode"):
            code = str(item.get("errorCode") or "INTERNAL")
            message = str(item.get("errorDescription") or "")
            reference = plans[position].reference
            error = error_type(code)(f"transaction {reference!r} refused ({code}): {message}", code=code)
            errors.append((position, error))
            continue
        tx = wire.transaction(item.get("data"))
        slot = index.get(tx.reference or "")
        if slot is None or outcomes[slot] is not None:
            raise unexpected("bulk result (reference not in the request)", tx.reference)
        outcomes[slot] = tx
    for position, error in errors:
        if outcomes[position] is not None:
            raise LedgerRejected("bulk results cannot be matched to their elements", code="UNEXPECTED_RESPONSE")
        outcomes[position] = error
    if any(outcome is None for outcome in outcomes):
        raise LedgerRejected("bulk results cannot be matched to their elements", code="UNEXPECTED_RESPONSE")
    return [outcome for outcome in outcomes if outcome is not None]


def _with_settled(error: LoyaltyError, settled: Mapping[str, PostedTransaction]) -> LoyaltyError:
    """``error`` with ``details["posted"]`` and ``details["replayed"]``: the references this call
    had settled before it (posted by it, or found posted by an earlier call), so a caller can
    tell what stays posted after a refusal without reading it back."""

    if not settled or not isinstance(error.details, dict) or "failures" not in error.details:
        return error
    earlier = error.details
    error.details = {
        **earlier,
        "posted": sorted({*earlier.get("posted", ()), *(ref for ref, tx in settled.items() if not tx.replayed)}),
        "replayed": sorted({*earlier.get("replayed", ()), *(ref for ref, tx in settled.items() if tx.replayed)}),
    }
    return error


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


# -- reads for many customers at once (what a bulk import prices a chunk from) --------


def transactions_any(
    transport: Transport,
    *,
    accounts: Sequence[str] = (),
    metadata: Mapping[str, str] | None = None,
    metadata_any: tuple[str, Sequence[str]] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Iterator[PostedTransaction]:
    """Transactions touching any of ``accounts`` (address filters), with all of ``metadata`` and, for
    ``metadata_any=(key, values)``, one of the values under key; timestamp in [start, end). Oldest first."""

    clauses: list[dict[str, Any]] = []
    if accounts:
        clauses.append({"$or": [{"$match": {"account": wire.address_filter(a)}} for a in accounts]})
    for key, value in sorted((metadata or {}).items()):
        clauses.append({"$match": {f"metadata[{key}]": value}})
    if metadata_any is not None:
        key, values = metadata_any
        clauses.append({"$or": [{"$match": {f"metadata[{key}]": value}} for value in values]})
    if start is not None:
        clauses.append({"$gte": {"timestamp": wire.rfc3339(start)}})
    if end is not None:
        clauses.append({"$lt": {"timestamp": wire.rfc3339(end)}})
    query: dict[str, Any] = clauses[0] if len(clauses) == 1 else {"$and": clauses} if clauses else {}
    return transactions_matching(transport, query)
