"""Two ledger logs as ``GET /v2/{ledger}/logs`` serves them, and the documents the server hashed.

The documents are written out by hand from what Formance Ledger v2.4.12
hashes (see :mod:`loyalty_accounts.ledger.log_chain`): the log hash tests
recompute them, and the reconciliation tests check the chain they form.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Iterator

from support.fake_ledger import FakeLedger

LOG1_DOCUMENT = (
    b'{"type":"NEW_TRANSACTION","data":{"transaction":{"postings":[{"source":"program:points:issued:3",'
    b'"destination":"customers:c1:points:20270601","amount":100,"asset":"PTS"}],'
    b'"metadata":{"a":"1","b":"x\\u003cy \\u0026 \xc2\xbd \\\\ \\"q\\""},"timestamp":"2026-06-01T10:00:00Z",'
    b'"reference":"earn:o-1","id":0,"reverted":false},"accountMetadata":{}},'
    b'"date":"2026-06-01T10:00:00.5Z","idempotencyKey":"loyalty:earn:o-1","id":0,"hash":null}'
)
LOG2_DOCUMENT = (
    b'{"type":"REVERTED_TRANSACTION","data":{"revertedTransactionID":0,"transaction":{"postings":'
    b'[{"source":"customers:c1:points:20270601","destination":"program:points:issued:3","amount":100,"asset":"PTS"}],'
    b'"metadata":{"com.formance.spec/state/reverts":"0"},"timestamp":"2026-06-02T08:00:00.123456Z","id":1,'
    b'"reverted":false}},"date":"2026-06-02T08:00:00.123456Z","idempotencyKey":"","id":0,"hash":null}'
)
HASH1 = hashlib.sha256(LOG1_DOCUMENT + b"\n").digest()
HASH2 = hashlib.sha256(b'"' + base64.b64encode(HASH1) + b'"\n' + LOG2_DOCUMENT + b"\n").digest()


def logs_as_served() -> list[dict[str, Any]]:
    """Two logs as GET /v2/{ledger}/logs renders them (extra fields the hash ignores included)."""

    tx0 = {
        "postings": [{"source": "program:points:issued:3", "destination": "customers:c1:points:20270601", "amount": 100, "asset": "PTS"}],
        "metadata": {"b": 'x<y & ½ \\ "q"', "a": "1"},
        "timestamp": "2026-06-01T10:00:00Z",
        "reference": "earn:o-1",
        "id": 0,
        "insertedAt": "2026-06-01T10:00:00.5Z",
        "postCommitVolumes": {"customers:c1:points:20270601": {"PTS": {"input": 100, "output": 0}}},
        "reverted": False,
    }
    tx1 = {
        "postings": [{"source": "customers:c1:points:20270601", "destination": "program:points:issued:3", "amount": 100, "asset": "PTS"}],
        "metadata": {"com.formance.spec/state/reverts": "0"},
        "timestamp": "2026-06-02T08:00:00.123456Z",
        "id": 1,
        "reverted": False,
    }
    return [
        {
            "id": 1,
            "type": "NEW_TRANSACTION",
            "data": {"transaction": tx0, "accountMetadata": {}},
            "date": "2026-06-01T10:00:00.500000Z",
            "idempotencyKey": "loyalty:earn:o-1",
            "idempotencyHash": "ignored",
            "hash": base64.b64encode(HASH1).decode(),
        },
        {
            "id": 2,
            "type": "REVERTED_TRANSACTION",
            "data": {"revertedTransaction": {**tx0, "reverted": True}, "transaction": tx1},
            "date": "2026-06-02T08:00:00.123456Z",
            "idempotencyKey": "",
            "hash": base64.b64encode(HASH2).decode(),
        },
    ]


class HashedLogs(FakeLedger):
    """An in-memory ledger serving a given hash-chained log (``served``)."""

    served: list[dict[str, Any]] = []

    def logs(self, *, from_id: int | None = None) -> Iterator[dict[str, Any]]:
        self.logs_read = getattr(self, "logs_read", 0)
        for log in self.served:
            if from_id is None or log["id"] >= from_id:
                self.logs_read += 1
                yield log


def hashed_chain(ids: list[int]) -> list[dict[str, Any]]:
    """Logs with the given ids, each a new earn, hashed as the server chains them (through ``log_hash``)."""

    from loyalty_accounts.ledger.log_chain import log_hash

    template = logs_as_served()[0]
    chain: list[dict[str, Any]] = []
    previous: bytes | None = None
    for n, log_id in enumerate(ids):
        tx = {**template["data"]["transaction"], "id": n, "reference": f"earn:o-{log_id}"}
        log = {**template, "id": log_id, "data": {"transaction": tx, "accountMetadata": {}}, "date": f"2026-06-01T10:00:{n:02d}Z"}
        stored = log_hash(log, previous)
        log["hash"] = base64.b64encode(stored).decode()
        chain.append(log)
        previous = stored
    return chain
