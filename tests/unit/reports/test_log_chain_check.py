"""The log hash chain check of reconcile (the hashes themselves: tests/unit/ledger/test_log_chain.py)."""

from __future__ import annotations

import base64
import hashlib

from support.ledger_logs import HASH1, LOG1_DOCUMENT, logs_as_served

from loyalty_accounts.ledger.log_chain import log_hash
from loyalty_accounts.reports.log_chain import check_log_chain


def test_log_chain_check_passes_on_logs_as_served() -> None:
    logs = logs_as_served()
    result = check_log_chain(logs)
    assert result.status == "pass", result
    assert result.info == ("2 log(s) matched the trigger form",)


def test_log_chain_detects_an_altered_payload_and_a_rewritten_hash() -> None:
    logs = logs_as_served()
    logs[0]["data"]["transaction"]["postings"][0]["amount"] = 1000
    result = check_log_chain(logs)
    assert result.status == "fail"
    assert result.offending == ("log 1 (NEW_TRANSACTION): hash does not match its content and the previous hash",)

    logs = logs_as_served()
    logs[0]["data"]["transaction"]["postings"][0]["amount"] = 1000
    logs[0]["hash"] = base64.b64encode(log_hash(logs[0], None)).decode()  # rewritten to match
    result = check_log_chain(logs)
    assert result.status == "fail"
    assert result.offending == ("log 2 (REVERTED_TRANSACTION): hash does not match its content and the previous hash",)


def test_log_with_a_schema_version_may_hash_it() -> None:
    log = {**logs_as_served()[0], "schemaVersion": "coa-abc"}
    document = LOG1_DOCUMENT[:-1] + b',"schemaVersion":"coa-abc"}'
    log["hash"] = base64.b64encode(hashlib.sha256(document + b"\n").digest()).decode()
    result = check_log_chain([log])
    assert result.status == "pass" and result.info == ("1 log(s) matched the with schemaVersion form",)
    log["hash"] = base64.b64encode(HASH1).decode()
    assert check_log_chain([log]).status == "pass"


def test_logs_without_hashes_or_unknown_types_are_not_verified() -> None:
    unhashed = [{"id": 1, "type": "NEW_TRANSACTION", "data": {}}]
    assert check_log_chain(unhashed).status == "not_verified"
    odd = [{**logs_as_served()[0], "type": "SOMETHING_NEW"}]
    result = check_log_chain(odd)
    assert result.status == "not_verified" and "unknown log type" in result.offending[0]
    assert check_log_chain([]).status == "pass"
