"""The HTTP adapter against a real Formance Ledger: posting, reading, exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import httpx
import pytest

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    LedgerUnavailable,
)
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.types import TransactionPlan

SPLIT = """vars {
  monetary $amount
  account $first
  account $second
}
send $amount (
  source = @world
  destination = {
    50% to $first
    remaining to $second
  }
)
send [USD/2 250] (
  source = @world
  destination = $first
)
"""

SPEND = """vars {
  monetary $amount
  account $from
}
send $amount (
  source = $from
  destination = @program:points:redeemed
)
"""


def plan(script: str, reference: str, vars: dict[str, str], command_hash: str = "h1") -> TransactionPlan:
    return TransactionPlan(
        operation="test",
        template="test",
        script=script,
        vars=vars,
        reference=reference,
        command_hash=command_hash,
        metadata={"purpose": "integration"},
    )


class LoseFirstResponse(httpx.BaseTransport):
    """Delivers the request to the server, then drops the first transaction response."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.dropped = 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/transactions"):
            with self.lock:
                if self.dropped == 0:
                    self.dropped += 1
                    response.read()
                    raise httpx.ReadError("connection reset after the server committed", request=request)
        return response


@pytest.fixture
def client(ledger_url: str, ledger_name: str) -> Iterator[LedgerClient]:
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as c:
        assert c.create_ledger() is True
        yield c


def test_multi_posting_transaction_and_balances(client: LedgerClient) -> None:
    posted = client.post(plan(SPLIT, "split-1", {"amount": "PTS 100", "first": "customers:a:points:noexpiry", "second": "customers:b:points:noexpiry"}))
    assert posted.reference == "split-1"
    assert {(p.destination, p.amount, p.asset) for p in posted.postings} == {
        ("customers:a:points:noexpiry", 50, "PTS"),
        ("customers:b:points:noexpiry", 50, "PTS"),
        ("customers:a:points:noexpiry", 250, "USD/2"),
    }
    a = client.account("customers:a:points:noexpiry")
    assert a.balance("PTS") == 50 and a.balance("USD/2") == 250
    assert client.aggregate_balances("customers:...")["PTS"] == 100
    assert client.aggregate_balances("")["PTS"] == 0  # the trial balance: every asset sums to zero


def test_second_create_ledger_reports_existing(client: LedgerClient) -> None:
    assert client.create_ledger() is False


def test_lost_response_is_retried_and_posts_once(ledger_url: str, ledger_name: str) -> None:
    transport = LoseFirstResponse()
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name), transport=transport) as c:
        c.create_ledger()
        posted = c.post(plan(SPLIT, "order-1", {"amount": "PTS 10", "first": "customers:a:points:noexpiry", "second": "customers:b:points:noexpiry"}))
        assert transport.dropped == 1
        # The retry is answered from the ledger's record of this call's own first attempt.
        assert posted.replayed is False
        assert len(list(c.transactions())) == 1
        assert c.aggregate_balances("customers:...")["PTS"] == 10


def test_replay_returns_original_and_different_content_is_refused(client: LedgerClient) -> None:
    vars_ = {"amount": "PTS 10", "first": "customers:a:points:noexpiry", "second": "customers:b:points:noexpiry"}
    first = client.post(plan(SPLIT, "order-2", vars_))
    again = client.post(plan(SPLIT, "order-2", vars_))
    assert again.id == first.id and again.replayed
    with pytest.raises(DuplicateOperation):
        client.post(plan(SPLIT, "order-2", {**vars_, "amount": "PTS 11"}, command_hash="h2"))
    assert len(list(client.transactions())) == 1


def test_parallel_identical_posts_make_one_transaction(client: LedgerClient) -> None:
    vars_ = {"amount": "PTS 10", "first": "customers:a:points:noexpiry", "second": "customers:b:points:noexpiry"}
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: client.post(plan(SPLIT, "order-3", vars_)), range(10)))
    assert len({r.id for r in results}) == 1
    assert sum(not r.replayed for r in results) <= 1
    assert len(list(client.transactions())) == 1


def test_parallel_spends_of_the_same_points_never_overspend(client: LedgerClient) -> None:
    client.post(plan(SPLIT, "fund", {"amount": "PTS 200", "first": "customers:a:points:noexpiry", "second": "customers:b:points:noexpiry"}))

    def spend(i: int) -> bool:
        try:
            client.post(plan(SPEND, f"spend-{i}", {"amount": "PTS 100", "from": "customers:a:points:noexpiry"}, command_hash=f"s{i}"))
            return True
        except InsufficientPoints:
            return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(spend, range(20)))
    assert outcomes.count(True) == 1
    assert client.account("customers:a:points:noexpiry").balance("PTS") == 0


def test_insufficient_funds_posts_nothing(client: LedgerClient) -> None:
    with pytest.raises(InsufficientPoints):
        client.post(plan(SPEND, "overdraw", {"amount": "PTS 1", "from": "customers:nobody:points:noexpiry"}))
    assert list(client.transactions()) == []


def test_unreachable_ledger_is_a_clear_error() -> None:
    with LedgerClient(LedgerConnection(url="http://127.0.0.1:9", ledger="x", max_attempts=2)) as c:
        with pytest.raises(LedgerUnavailable, match="127.0.0.1:9"):
            c.server_version()


def test_a_wrong_base_path_is_not_a_formance_ledger_and_posts_nothing(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    # v2.4.12's router answers a route it does not have with a bare "404 page not found" (chi's default)
    with LedgerClient(LedgerConnection(url=f"{ledger_url}/wrongpath", ledger=ledger_name, max_attempts=3)) as wrong:
        with pytest.raises(LedgerUnavailable, match="is not a Formance ledger API") as caught:
            wrong.post(plan(SPLIT, "misrouted", {"amount": "PTS 10", "first": "customers:a:points:noexpiry", "second": "customers:b:points:noexpiry"}))
    assert caught.value.code == "HTTP_404" and "/wrongpath/v2/" in caught.value.message
    assert list(client.transactions()) == []
