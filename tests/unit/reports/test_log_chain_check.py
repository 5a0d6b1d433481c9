"""The log hash chain check of reconcile (the hashes themselves: tests/unit/ledger/test_log_chain.py)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timezone
from typing import Any

from support.ledger_logs import HASH1, LOG1_DOCUMENT, HashedLogs, hashed_chain, logs_as_served

from loyalty_accounts.ledger.log_chain import (
    CHECKPOINT_KEY,
    LogCheckpoint,
    checkpoint_from_metadata,
    checkpoint_metadata,
    log_hash,
)
from loyalty_accounts.reports.check import Check
from loyalty_accounts.reports.log_chain import check_log_chain, read_log_chain
from loyalty_accounts.vocabulary.instants import parse_instant


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


def _ledger(ids: list[int]) -> HashedLogs:
    ledger = HashedLogs()
    ledger.served = hashed_chain(ids)
    return ledger


def _read(ledger: HashedLogs, **options: Any) -> tuple[Check, int]:
    """The check and how many logs it read."""

    ledger.logs_read = 0
    check = read_log_chain(ledger, **options)
    return check, ledger.logs_read


def test_a_pass_leaves_a_checkpoint_and_the_next_check_reads_only_what_follows() -> None:
    ledger = _ledger(list(range(1, 11)))
    first, read = _read(ledger)
    assert first.status == "pass" and read == 10 and first.detail.startswith("10 log(s) read")
    assert "no checkpoint yet: every log read" in first.info
    assert checkpoint_from_metadata(ledger.metadata) == LogCheckpoint(log_id=10, hash=ledger.served[-1]["hash"], previous_id=9)

    again, read = _read(ledger)
    assert again.status == "pass" and read == 2 and "resumed at the checkpoint (log 10)" in again.detail

    ledger.served = hashed_chain(list(range(1, 14)))  # three more logs, the first ten unchanged
    more, read = _read(ledger)
    assert more.status == "pass" and read == 5  # anchor, checkpointed log, three new
    assert checkpoint_from_metadata(ledger.metadata) == LogCheckpoint(log_id=13, hash=ledger.served[-1]["hash"], previous_id=12)


def test_a_log_changed_after_the_checkpoint_fails() -> None:
    ledger = _ledger(list(range(1, 6)))
    _read(ledger)
    ledger.served = hashed_chain(list(range(1, 9)))
    ledger.served[6]["idempotencyKey"] = "altered"
    check, read = _read(ledger)
    assert check.status == "fail" and read == 5
    assert check.offending == ("log 7 (NEW_TRANSACTION): hash does not match its content and the previous hash",)
    assert checkpoint_from_metadata(ledger.metadata).log_id == 5  # a failing check moves nothing


def test_logs_before_the_checkpoint_are_read_again_only_by_a_full_check() -> None:
    ledger = _ledger(list(range(1, 6)))
    _read(ledger)
    ledger.served[1]["idempotencyKey"] = "altered"
    incremental, read = _read(ledger)
    assert incremental.status == "pass" and read == 2
    full, read = _read(ledger, full=True)
    assert full.status == "fail" and read == 5 and full.offending[0].startswith("log 2 ")
    assert "full check asked for: every log read, the checkpoint not used" in full.info


def test_a_checkpoint_the_log_disagrees_with_fails_and_stays_until_a_full_pass() -> None:
    ledger = _ledger(list(range(1, 6)))
    _read(ledger)
    forged = LogCheckpoint(log_id=5, hash=base64.b64encode(HASH1).decode(), previous_id=4)
    ledger.set_ledger_metadata(checkpoint_metadata(forged))
    check, read = _read(ledger)
    assert check.status == "fail" and read == 2 + 5  # anchor and checkpointed log, then every log
    assert "the log disagrees with the checkpoint" in check.offending[0] and "log 5 carries hash" in check.offending[0]
    assert checkpoint_from_metadata(ledger.metadata) == forged  # left as evidence
    assert _read(ledger)[0].status == "fail"

    ledger.served = ledger.served[:3]  # the checkpointed log is gone
    ledger.set_ledger_metadata(checkpoint_metadata(forged.model_copy(update={"hash": ledger.served[-1]["hash"]})))
    assert _read(ledger)[0].status == "fail"

    full, read = _read(ledger, full=True)
    assert full.status == "pass" and read == 3
    assert checkpoint_from_metadata(ledger.metadata) == LogCheckpoint(log_id=3, hash=ledger.served[-1]["hash"], previous_id=2)
    assert _read(ledger)[0].status == "pass", "a full pass over the whole chain replaces the checkpoint"


def test_an_unreadable_checkpoint_means_a_full_check_that_replaces_it() -> None:
    ledger = _ledger(list(range(1, 5)))
    ledger.set_ledger_metadata({CHECKPOINT_KEY: "garbage"})
    check, read = _read(ledger)
    assert check.status == "pass" and read == 4
    assert any(note.startswith("the checkpoint cannot be read") for note in check.info)
    assert checkpoint_from_metadata(ledger.metadata) == LogCheckpoint(log_id=4, hash=ledger.served[-1]["hash"], previous_id=3)


def test_as_of_an_instant_before_the_checkpoint_reads_the_prefix_and_keeps_the_checkpoint() -> None:
    ledger = _ledger(list(range(1, 8)))
    _read(ledger)
    until = parse_instant(str(ledger.served[2]["date"]), timezone.utc)
    check, read = _read(ledger, until=until)
    assert check.status == "pass" and check.detail.startswith("3 log(s) read")
    assert read == 2 + 4  # anchor and checkpointed log (dated after), then the prefix up to the fourth, which ends it
    assert any("dated after the as-of instant" in note for note in check.info)
    assert checkpoint_from_metadata(ledger.metadata).log_id == 7
    assert _read(ledger, until=until, full=True)[0].status == "pass"
    assert checkpoint_from_metadata(ledger.metadata).log_id == 7, "a full pass up to an as-of instant never moves it back"

    ledger.served = hashed_chain(list(range(1, 11)))
    until = parse_instant(str(ledger.served[8]["date"]), timezone.utc)
    check, read = _read(ledger, until=until)
    assert check.status == "pass" and read == 2 + 2 + 1  # anchor, checkpoint, logs 8 and 9, then log 10 ends it
    assert checkpoint_from_metadata(ledger.metadata).log_id == 9


def test_a_ledger_without_hashes_leaves_no_checkpoint() -> None:
    ledger = HashedLogs()
    ledger.served = [{"id": 1, "type": "NEW_TRANSACTION", "data": {}}]
    assert _read(ledger)[0].status == "not_verified"
    assert ledger.metadata == {}


def test_a_checkpoint_that_cannot_be_written_leaves_the_verdict_and_says_so() -> None:
    from loyalty_accounts.errors import LedgerUnavailable

    class ReadOnly(HashedLogs):
        def set_ledger_metadata(self, metadata: Any) -> None:
            raise LedgerUnavailable("ledger unavailable")

    ledger = ReadOnly()
    ledger.served = hashed_chain([1, 2, 3])
    check, read = _read(ledger)
    assert check.status == "pass" and read == 3
    assert check.info[-1] == "checkpoint not written: ledger unavailable" and ledger.metadata == {}


def _amended(kind: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """One earn's log, then a metadata log on it, hashed and chained as the server does."""

    logs = hashed_chain([1])
    log = {"id": 2, "type": kind, "data": data, "date": "2026-06-02T10:00:00Z"}
    log["hash"] = base64.b64encode(log_hash(log, base64.b64decode(logs[0]["hash"]))).decode()
    return [*logs, log]


def test_metadata_rewritten_after_posting_fails_the_chain_check() -> None:
    changed = check_log_chain(_amended("SET_METADATA", {"targetType": "TRANSACTION", "targetId": 0, "metadata": {"breakage_rate": "0.5"}}))
    assert changed.status == "fail"
    assert changed.offending == ("log 2: metadata breakage_rate of transaction #0 set after it was posted",)
    deleted = check_log_chain(_amended("DELETE_METADATA", {"targetType": "TRANSACTION", "targetId": 0, "key": "amount"}))
    assert deleted.offending == ("log 2: metadata amount of transaction #0 deleted after it was posted",)


def test_a_small_refunds_note_and_account_metadata_are_not_rewrites() -> None:
    note = check_log_chain(_amended("SET_METADATA", {"targetType": "TRANSACTION", "targetId": 0, "metadata": {"small_refund:rf-1": "{}"}}))
    assert note.status == "pass", note
    account = check_log_chain(_amended("SET_METADATA", {"targetType": "ACCOUNT", "targetId": "customers:c1:points:x", "metadata": {"k": "v"}}))
    assert account.status == "pass", account
