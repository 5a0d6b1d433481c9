"""Ledger settings: LedgerConnection and its reading of the environment.

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations


import httpx
import pytest
import respx
from ledgersupport import BASE, TX_URL, make_plan

from loyalty_accounts.errors import InvalidCommand, LedgerUnavailable
from loyalty_accounts.ledger import LedgerClient, LedgerConnection

def test_connection_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_URL", "https://stack.example/")
    monkeypatch.setenv("LOYALTY_LEDGER_GATEWAY", "true")
    monkeypatch.setenv("LOYALTY_OAUTH_CLIENT_ID", "id")
    monkeypatch.setenv("LOYALTY_OAUTH_CLIENT_SECRET", "secret")
    monkeypatch.setenv("LOYALTY_OAUTH_TOKEN_URL", "https://stack.example/api/auth/oauth/token")
    monkeypatch.delenv("LOYALTY_LEDGER_NAME", raising=False)

    connection = LedgerConnection.from_env()
    assert connection.url == "https://stack.example" and connection.gateway is True
    assert connection.ledger == "loyalty" and connection.client_id == "id"
    assert "secret" not in repr(connection)
    assert LedgerConnection.from_env("other").ledger == "other"

    monkeypatch.setenv("LOYALTY_LEDGER_URL", "ftp://nope")
    with pytest.raises(InvalidCommand):
        LedgerConnection.from_env()


def test_timeout_and_retry_budget_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_LEDGER_URL", BASE)
    monkeypatch.delenv("LOYALTY_LEDGER_TIMEOUT", raising=False)
    monkeypatch.delenv("LOYALTY_LEDGER_RETRY_BUDGET", raising=False)
    default = LedgerConnection.from_env()
    assert default.timeout_s == 10.0 and default.retry_budget_s == 45.0 and default.max_attempts is None

    monkeypatch.setenv("LOYALTY_LEDGER_TIMEOUT", "2.5")
    monkeypatch.setenv("LOYALTY_LEDGER_RETRY_BUDGET", "0")
    connection = LedgerConnection.from_env()
    assert connection.timeout_s == 2.5 and connection.retry_budget_s == 0
    with LedgerClient(connection) as client:
        assert client._transport.http.timeout.read == 2.5

    router = respx.Router(assert_all_called=False)
    route = router.post(TX_URL).mock(side_effect=httpx.ConnectError("refused"))
    with LedgerClient(connection, transport=httpx.MockTransport(router.handler)) as client:
        with pytest.raises(LedgerUnavailable, match="after 1 attempt"):
            client.post(make_plan())
    assert route.call_count == 1  # a budget of 0 means no retry

    for name, value in (("LOYALTY_LEDGER_TIMEOUT", "soon"), ("LOYALTY_LEDGER_TIMEOUT", "0"), ("LOYALTY_LEDGER_RETRY_BUDGET", "-1")):
        monkeypatch.setenv(name, value)
        with pytest.raises(InvalidCommand):
            LedgerConnection.from_env()
        monkeypatch.delenv(name)
