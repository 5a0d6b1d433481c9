"""The raw side of the benchmark: plain ``httpx`` against a Formance v2.4.12 server, nothing of the project.

:class:`RawLedger` creates a ledger in a bucket of its own and replays
recorded requests (:class:`~loyalty_accounts.testing.bench_wire.Sent`) to it:
the same method, query, body bytes and ``Idempotency-Key``, only the ledger
name in the path changed. The responses are decoded as JSON and nothing else,
which is the least any client must do.

Bucket creation: v2.4.12 can fail a new bucket's migration with 500 INTERNAL
when another bucket was created within about 5 s on a pooled connection (a
temporary table left in the session, migration 17 of
``internal/storage/bucket/migrations``); :meth:`RawLedger.create` retries
after 6 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from .bench_wire import Sent

__all__ = ["RawLedger", "Replay", "BUCKET_RETRY_S"]

BUCKET_RETRY_S = 6.0
BUCKET_ATTEMPTS = 5


class Replay:
    """What a replay did: requests sent, operations in them, operations refused by the server."""

    def __init__(self) -> None:
        self.requests = 0
        self.ops = 0
        self.refused = 0

    def add(self, requests: int, ops: int, refused: int) -> None:
        self.requests += requests
        self.ops += ops
        self.refused += refused


class RawLedger:
    """One ledger on ``url`` through a plain ``httpx.Client`` (``client``; close it with :meth:`close`).

    ``transport`` is the client's own transport: what a recorder is told to ignore.
    """

    def __init__(self, url: str, ledger: str, *, timeout_s: float = 120.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url.rstrip("/")
        self.ledger = ledger
        self.transport = httpx.HTTPTransport()
        self.client = httpx.Client(base_url=self.url, timeout=timeout_s, transport=self.transport)
        self._sleep = sleep

    def close(self) -> None:
        self.client.close()

    def create(self, *, bucket: str | None = None, log: Callable[[str], None] = lambda _m: None) -> None:
        """``POST /v2/{ledger}`` in ``bucket`` (default: a bucket named after the ledger; "" for ``_default``).

        Raises httpx.HTTPStatusError when the server still refuses after the retries.
        """

        body: dict[str, Any] = {} if bucket == "" else {"bucket": bucket or self.ledger}
        for attempt in range(1, BUCKET_ATTEMPTS + 1):
            response = self.client.post(f"/v2/{self.ledger}", json=body)
            if response.status_code < 500 or attempt == BUCKET_ATTEMPTS:
                response.raise_for_status()
                return
            log(f"creating ledger {self.ledger}: HTTP {response.status_code}, retrying in {BUCKET_RETRY_S:.0f} s")
            self._sleep(BUCKET_RETRY_S)

    def path(self, sent: Sent) -> str:
        """``sent``'s path with its ledger name replaced by this ledger's."""

        parts = sent.path.split("/")
        if len(parts) < 3 or parts[1] != "v2":
            raise ValueError(f"not a ledger route: {sent.path}")
        parts[2] = self.ledger
        return "/".join(parts)

    def replay(self, sent: Sent) -> tuple[int, int]:
        """Send ``sent`` once; (operations in it, operations refused). A bulk counts its elements."""

        headers = {"Content-Type": "application/json"}
        if sent.idempotency_key:
            headers["Idempotency-Key"] = sent.idempotency_key
        request = self.client.build_request(
            sent.method, self.path(sent), params=httpx.QueryParams(sent.query.decode()), content=sent.content, headers=headers
        )
        response = self.client.send(request)
        body = response.json() if response.content else None
        if sent.path.endswith("/_bulk"):
            items = body.get("data") if isinstance(body, dict) else None
            if isinstance(items, list):
                return len(items), sum(1 for item in items if isinstance(item, dict) and item.get("errorCode"))
            return 1, 1
        return 1, 0 if response.status_code < 400 else 1

    def replay_all(self, posts: Iterable[Sent], replay: Replay) -> None:
        """Replay ``posts`` one after the other."""

        for sent in posts:
            ops, refused = self.replay(sent)
            replay.add(1, ops, refused)

    def replay_threads(self, lanes: Sequence[Sequence[Sent]], replay: Replay) -> None:
        """Replay each lane in order, the lanes side by side on one thread each."""

        def run(lane: Sequence[Sent]) -> Replay:
            mine = Replay()
            self.replay_all(lane, mine)
            return mine

        with ThreadPoolExecutor(max_workers=max(1, len(lanes))) as pool:
            for done in pool.map(run, lanes):
                replay.add(done.requests, done.ops, done.refused)

    def count_accounts(self) -> int | None:
        """The ledger's number of accounts (``HEAD /v2/{ledger}/accounts``, header ``Count``), None if not said."""

        response = self.client.head(f"/v2/{self.ledger}/accounts")
        count = response.headers.get("Count")
        return int(count) if count and count.isdigit() else None

    def bulk(self, elements: list[dict[str, Any]], *, schema_version: str) -> int:
        """One ``/_bulk`` of ``elements`` (continue on failure); the number refused. Raises on a non-JSON answer."""

        response = self.client.post(
            f"/v2/{self.ledger}/_bulk",
            params={"continueOnFailure": "true", "schemaVersion": schema_version},
            json=elements,
        )
        items = response.json().get("data")
        if not isinstance(items, list):
            response.raise_for_status()
            raise ValueError(f"bulk answer without data: {response.text[:200]}")
        return sum(1 for item in items if isinstance(item, dict) and item.get("errorCode"))
