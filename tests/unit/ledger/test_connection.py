"""Ledger settings: LedgerConnection and its reading of the environment.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

import httpx
import pytest
import respx
from ledgersupport import BASE, TX_URL, make_plan

from loyalty_accounts.errors import LedgerUnavailable
from loyalty_accounts.ledger import LedgerClient, LedgerConnection


def test_a_connection_refuses_a_malformed_url_or_half_credentials_and_hides_the_secret() -> None:
    connection = LedgerConnection(url="https://stack.example/", gateway=True, client_id="id", client_secret="secret")
    assert connection.url == "https://stack.example" and connection.ledger == "loyalty"
    assert "secret" not in repr(connection)
    for bad in ({"url": "ftp://nope"}, {"ledger": "a b"}, {"client_id": "id"}):
        with pytest.raises(ValueError):
            LedgerConnection(**bad)


def test_the_timeout_reaches_httpx_and_a_retry_budget_of_zero_means_one_attempt() -> None:
    default = LedgerConnection(url=BASE)
    assert default.timeout_s == 10.0 and default.retry_budget_s == 45.0 and default.max_attempts is None

    connection = LedgerConnection(url=BASE, timeout_s=2.5, retry_budget_s=0)
    assert connection.timeout_s == 2.5 and connection.retry_budget_s == 0
    with LedgerClient(connection) as client:
        assert client._transport.http.timeout.read == 2.5

    router = respx.Router(assert_all_called=False)
    route = router.post(TX_URL).mock(side_effect=httpx.ConnectError("refused"))
    with LedgerClient(connection, transport=httpx.MockTransport(router.handler)) as client:
        with pytest.raises(LedgerUnavailable, match="after 1 attempt"):
            client.post(make_plan())
    assert route.call_count == 1  # a budget of 0 means no retry

