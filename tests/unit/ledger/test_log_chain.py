"""The log hash chain, recomputed and checked against documents written out by hand.

The samples (two logs as served and the documents the server hashed) are in
``support.ledger_logs``; the reports' check built on :func:`verify_log_chain`
is tested in ``tests/unit/reports/test_log_chain_check.py``.
"""

from __future__ import annotations

import base64
import hashlib

from support.ledger_logs import HASH1, HASH2, LOG1_DOCUMENT, logs_as_served

from loyalty_accounts.ledger.log_chain import (
    LogChainVerification,
    log_hash,
    verify_log_chain,
)


def test_log_hashes_are_recomputed_from_the_documented_fields() -> None:
    logs = logs_as_served()
    assert log_hash(logs[0], None) == HASH1
    assert log_hash(logs[1], HASH1) == HASH2
    assert verify_log_chain(logs) == LogChainVerification(logs=2, matched={"trigger": 2})


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
    assert verify_log_chain([log]) == LogChainVerification(logs=1, matched={"with schemaVersion": 1})
    log["hash"] = base64.b64encode(HASH1).decode()
    assert verify_log_chain([log]) == LogChainVerification(logs=1, matched={"trigger": 1})


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
