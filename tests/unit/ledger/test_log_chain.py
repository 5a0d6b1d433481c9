"""The log hash chain, recomputed and checked against documents written out by hand.

The samples (two logs as served and the documents the server hashed) are in
``support.ledger_logs``; the reports' check built on :func:`verify_log_chain`
is tested in ``tests/unit/reports/test_log_chain_check.py``.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

import pytest
from support.ledger_logs import HASH1, HASH2, LOG1_DOCUMENT, hashed_chain, logs_as_served

from loyalty_accounts.ledger.log_chain import (
    CHECKPOINT_KEY,
    LogChainVerification,
    LogCheckpoint,
    checkpoint_from_metadata,
    checkpoint_metadata,
    log_hash,
    verify_log_chain,
)


def test_log_hashes_are_recomputed_from_the_documented_fields() -> None:
    logs = logs_as_served()
    assert log_hash(logs[0], None) == HASH1
    assert log_hash(logs[1], HASH1) == HASH2
    last = LogCheckpoint(log_id=2, hash=base64.b64encode(HASH2).decode(), previous_id=1)
    assert verify_log_chain(logs) == LogChainVerification(logs=2, matched={"trigger": 2}, last=last)


def test_log_chain_detects_an_altered_payload_and_a_rewritten_hash() -> None:
    logs = logs_as_served()
    logs[0]["data"]["transaction"]["postings"][0]["amount"] = 1000
    result = verify_log_chain(logs)
    assert result.mismatched == ("log 1 (NEW_TRANSACTION): hash does not match its content and the previous hash",)
    assert result.matched == {"trigger": 1} and result.unverifiable == ()

    logs = logs_as_served()
    logs[0]["data"]["transaction"]["postings"][0]["amount"] = 1000
    logs[0]["hash"] = base64.b64encode(log_hash(logs[0], None)).decode()  # rewritten to match
    result = verify_log_chain(logs)
    assert result.mismatched == (
        "log 2 (REVERTED_TRANSACTION): hash does not match its content and the previous hash",
    )


def test_log_with_a_schema_version_may_hash_it() -> None:
    log = {**logs_as_served()[0], "schemaVersion": "coa-abc"}
    document = LOG1_DOCUMENT[:-1] + b',"schemaVersion":"coa-abc"}'
    assert log_hash(log, None, with_schema_version=True) == hashlib.sha256(document + b"\n").digest()
    assert log_hash(log, None) == HASH1  # the trigger's form leaves the schema version out
    log["hash"] = base64.b64encode(hashlib.sha256(document + b"\n").digest()).decode()
    last = LogCheckpoint(log_id=1, hash=log["hash"], previous_id=None)
    assert verify_log_chain([log]) == LogChainVerification(logs=1, matched={"with schemaVersion": 1}, last=last)
    log["hash"] = base64.b64encode(HASH1).decode()
    last = LogCheckpoint(log_id=1, hash=log["hash"], previous_id=None)
    assert verify_log_chain([log]) == LogChainVerification(logs=1, matched={"trigger": 1}, last=last)


def test_logs_without_hashes_or_unknown_types_are_not_verified() -> None:
    unhashed = [{"id": 1, "type": "NEW_TRANSACTION", "data": {}}]
    assert verify_log_chain(unhashed) == LogChainVerification(logs=1, unhashed=1)
    odd = [{**logs_as_served()[0], "type": "SOMETHING_NEW"}]
    result = verify_log_chain(odd)
    assert result.matched == {} and result.mismatched == ()
    assert len(result.unverifiable) == 1 and "unknown log type" in result.unverifiable[0]
    assert verify_log_chain([]) == LogChainVerification(logs=0)


def test_logs_out_of_order_or_with_a_hash_that_is_not_base64_are_mismatches() -> None:
    first, second = logs_as_served()
    result = verify_log_chain([second, {**first, "id": 2}])
    assert result.mismatched == (
        "log 2 (REVERTED_TRANSACTION): hash does not match its content and the previous hash",
        "log 2: out of order after log 2",
        "log 2 (NEW_TRANSACTION): hash does not match its content and the previous hash",
    )

    result = verify_log_chain([{**first, "hash": "not base64!"}, second])
    # The chain restarts after the broken hash: the second log is hashed as if it came first.
    assert result.mismatched == (
        "log 1: stored hash is not base64",
        "log 2 (REVERTED_TRANSACTION): hash does not match its content and the previous hash",
    )


def test_a_checkpoint_round_trips_through_ledger_metadata() -> None:
    checkpoint = LogCheckpoint(log_id=9, hash=base64.b64encode(HASH1).decode(), previous_id=7)
    metadata = checkpoint_metadata(checkpoint)
    assert list(metadata) == [CHECKPOINT_KEY]
    assert checkpoint_from_metadata({**metadata, "other": "x"}) == checkpoint
    assert checkpoint_from_metadata({"other": "x"}) is None


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"log": 3, "hash": "AA=="}', '{"log": -1, "hash": "AA==", "previous": null}',
     '{"log": 3, "hash": "AA==", "previous": 3}', '{"log": 3, "hash": "**", "previous": null}',
     '{"log": true, "hash": "AA==", "previous": null}'],
)
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=CHECKPOINT_KEY):
        checkpoint_from_metadata({CHECKPOINT_KEY: text})


def test_resuming_verifies_the_checkpointed_log_again_and_only_what_follows() -> None:
    logs = hashed_chain([1, 2, 3, 5, 6])  # 4 never written: a sequence value lost to a rolled-back insert
    whole = verify_log_chain(logs)
    assert whole.mismatched == () and whole.matched == {"trigger": 5}
    at_3 = verify_log_chain(logs[:3]).last
    assert at_3 == LogCheckpoint(log_id=3, hash=logs[2]["hash"], previous_id=2)
    resumed = verify_log_chain(logs[1:], resume=at_3)  # listed from the anchor (2) on
    assert (resumed.resume, resumed.resumed_at, resumed.logs, resumed.matched) == ("resumed", 3, 4, {"trigger": 3})
    assert resumed.last == whole.last == LogCheckpoint(log_id=6, hash=logs[4]["hash"], previous_id=5)
    at_5 = verify_log_chain(logs[:4]).last
    assert at_5 is not None and at_5.previous_id == 3
    assert verify_log_chain(logs[2:], resume=at_5).matched == {"trigger": 2}

    altered = [dict(log) for log in logs]
    altered[2] = {**altered[2], "idempotencyKey": "changed"}  # the checkpointed log itself
    assert verify_log_chain(altered[1:], resume=at_3).mismatched == ("log 3 (NEW_TRANSACTION): hash does not match its content and the previous hash",)


def test_resuming_stops_when_the_log_disagrees_with_the_checkpoint() -> None:
    logs = hashed_chain([1, 2, 3])
    at_3 = verify_log_chain(logs).last
    assert at_3 is not None
    other_hash = at_3.model_copy(update={"hash": base64.b64encode(HASH2).decode()})
    found = verify_log_chain(logs[1:], resume=other_hash)
    assert found.resume == "mismatch" and "log 3 carries hash" in found.resume_note and found.matched == {}
    assert verify_log_chain(logs[2:], resume=at_3).resume == "mismatch"  # the anchor is missing
    assert verify_log_chain([], resume=at_3).resume == "mismatch"
    early = datetime(2026, 6, 1, 10, 0, 1, tzinfo=timezone.utc)  # log 2's date; log 3 is a second later
    assert verify_log_chain(logs[1:], resume=at_3, until=early).resume == "beyond"
    assert verify_log_chain(logs, until=early).logs == 2
