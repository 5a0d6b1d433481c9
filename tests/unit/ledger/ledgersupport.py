"""Helpers for the HTTP-edge tests of the ledger adapter: exact requests out, server answers in.

Response shapes follow Formance Ledger v2.4.12 (create 200, revert 201, bulk
200/400 with per-element results, errors ``{"errorCode", "errorMessage"}``,
lists ``{"cursor": {...}}``). The requests go to a ``respx`` router through
``httpx.MockTransport`` (the ``router`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.types import TransactionPlan

BASE = "http://ledger.test"
TX_URL = f"{BASE}/v2/loyalty/transactions"
BULK_URL = f"{BASE}/v2/loyalty/_bulk"
BIG = 123456789012345678901234567890  # beyond int64 and float precision


class FakeTime:
    """A monotonic clock that moves only when the client sleeps or a test says an attempt took time."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make_client(router: respx.Router, *, fake_time: FakeTime | None = None, **settings: Any) -> LedgerClient:
    options: dict[str, Any] = {"url": BASE, "ledger": "loyalty", "backoff_initial_s": 0, "backoff_max_s": 0}
    options.update(settings)
    timing: dict[str, Any] = {"clock": fake_time.clock, "sleep": fake_time.sleep} if fake_time else {}
    return LedgerClient(LedgerConnection(**options), transport=httpx.MockTransport(router.handler), **timing)


def make_plan(reference: str = "earn:order-1", command_hash: str = "hash-1", **extra: Any) -> TransactionPlan:
    return TransactionPlan(
        operation="earn",
        template="earn_points",
        script=(
            "vars {\n  account $customer\n  monetary $amount\n}\n"
            "send $amount (\n  source = @world\n  destination = $customer\n)\n"
        ),
        vars={"customer": "customers:42:points", "amount": "PTS 100"},
        reference=reference,
        command_hash=command_hash,
        metadata={"order": "order-1"},
        **extra,
    )


def tx_json(tx_id: int, reference: str, command_hash: str = "hash-1", amount: int = 100) -> dict[str, Any]:
    return {
        "id": tx_id,
        "reference": reference,
        "timestamp": "2024-05-01T10:00:00.123456Z",
        "insertedAt": "2024-05-01T10:00:00.200000Z",
        "postings": [{"source": "world", "destination": "customers:42:points", "amount": amount, "asset": "PTS"}],
        "metadata": {"command_hash": command_hash, "operation": "earn", "template": "earn_points"},
        "reverted": False,
    }


def ok(data: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"data": data}, headers=headers)


def error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errorCode": code, "errorMessage": message})


def cursor(items: list[Any], next_cursor: str | None = None) -> httpx.Response:
    page: dict[str, Any] = {"pageSize": 100, "hasMore": next_cursor is not None, "data": items}
    if next_cursor:
        page["next"] = next_cursor
    return httpx.Response(200, json={"cursor": page})


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def lookup_route(router: respx.Router, found: list[dict[str, Any]]) -> respx.Route:
    return router.get(TX_URL).mock(return_value=cursor(found))


def bulk_responder(ids: dict[str, int], *, reverse: bool = False) -> Any:
    """Answers a bulk with one created transaction per element (optionally in reverse order)."""

    def respond(request: httpx.Request) -> httpx.Response:
        elements = body_of(request)
        results = [
            {
                "responseType": "CREATE_TRANSACTION",
                "logID": ids[e["data"]["reference"]],
                "data": tx_json(ids[e["data"]["reference"]], e["data"]["reference"]),
            }
            for e in elements
        ]
        return httpx.Response(200, json={"data": results[::-1] if reverse else results})

    return respond
