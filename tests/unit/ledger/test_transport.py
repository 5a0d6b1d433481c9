"""The transport: idempotency keys, paths and OAuth2, retries and the retry budget (at the HTTP edge).

Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from ledgersupport import (
    BASE,
    TX_URL,
    FakeTime,
    body_of,
    cursor,
    error,
    make_client,
    make_plan,
    ok,
    tx_json,
)

from loyalty_accounts.errors import (
    InsufficientPoints,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
)
from loyalty_accounts.ledger import LedgerClient, LedgerConnection, idempotency_key

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


# -- idempotency keys ----------------------------------------------------------


def test_long_reference_gets_a_bounded_idempotency_key() -> None:
    key = idempotency_key("x" * 400, "c1")
    assert len(key) <= 256 and key == idempotency_key("x" * 400, "c1")
    assert key != idempotency_key("x" * 401, "c1") and key != idempotency_key("x" * 400, "c2")
    assert idempotency_key("earn:A-1", "0123") == "loyalty:earn:A-1#0123"


def test_each_call_has_its_own_idempotency_key(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))
    with make_client(router) as client:
        client.post(make_plan())
        client.post(make_plan())
    first, second = (call.request.headers["Idempotency-Key"] for call in route.calls)
    assert first != second
    assert first.startswith("loyalty:earn:order-1#") and second.startswith("loyalty:earn:order-1#")


# -- paths and auth ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "gateway", "expected_path"),
    [
        (BASE, False, "/v2/loyalty/transactions"),
        (f"{BASE}/proxy", False, "/proxy/v2/loyalty/transactions"),
        (BASE, True, "/api/ledger/v2/loyalty/transactions"),
        (f"{BASE}/api/ledger", True, "/api/ledger/v2/loyalty/transactions"),
    ],
)
def test_sdk_prefix_is_stripped_only_for_a_standalone_server(
    router: respx.Router, url: str, gateway: bool, expected_path: str
) -> None:
    route = router.post(path=expected_path).mock(return_value=ok(tx_json(1, "earn:order-1")))
    with make_client(router, url=url, gateway=gateway) as client:
        client.post(make_plan())
    assert route.call_count == 1
    assert route.calls.last.request.url.path == expected_path


def test_oauth_client_credentials_fetch_a_token_and_send_it(router: respx.Router) -> None:
    client_id = f"loyalty-{uuid.uuid4().hex}"  # the SDK caches tokens per credentials, process-wide
    token = router.post("http://auth.test/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "tok-123", "token_type": "Bearer", "expires_in": 3600})
    )
    ledger = router.post(TX_URL).mock(return_value=ok(tx_json(1, "earn:order-1")))

    with make_client(
        router, client_id=client_id, client_secret="s3cret", token_url="http://auth.test/oauth/token"
    ) as client:
        client.post(make_plan())

    form = parse_qs(token.calls.last.request.content.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [client_id] and form["client_secret"] == ["s3cret"]
    assert ledger.calls.last.request.headers["Authorization"] == "Bearer tok-123"


def test_without_credentials_no_authorization_header(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=ok(tx_json(1, "earn:order-1")))
    with make_client(router) as client:
        client.post(make_plan())
    assert "Authorization" not in route.calls.last.request.headers


# -- retries -------------------------------------------------------------------


def test_lost_response_is_retried_with_the_same_key_and_body(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            ok(tx_json(7, "earn:order-1"), **{"Idempotency-Hit": "true"}),
        ]
    )
    with make_client(router) as client:
        posted = client.post(make_plan())

    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.content == second.content
    # The hit answers this call's own first attempt: this call posted it.
    assert posted.id == 7 and posted.replayed is False


def test_connection_refused_then_success_gives_one_result(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(side_effect=[httpx.ConnectError("refused"), ok(tx_json(8, "earn:order-1"))])
    with make_client(router) as client:
        posted = client.post(make_plan())
    assert route.call_count == 2 and posted.id == 8 and posted.replayed is False


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_statuses_are_retried(router: respx.Router, status: int) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[httpx.Response(status, text="<html>busy</html>"), ok(tx_json(9, "earn:order-1"))]
    )
    with make_client(router) as client:
        assert client.post(make_plan()).id == 9
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("status", "body"), [(404, "404 page not found"), (405, ""), (501, "<!DOCTYPE HTML><title>Unsupported method</title>")]
)
def test_a_server_that_is_not_a_formance_ledger_is_said_so_at_once(router: respx.Router, status: int, body: str) -> None:
    # a wrong base path (chi's bare 404) or a web server on the ledger's port: not retried, nothing posted
    route = router.post(TX_URL).mock(return_value=httpx.Response(status, text=body))
    with make_client(router, max_attempts=4) as client, pytest.raises(LedgerUnavailable) as caught:
        client.post(make_plan())
    assert route.call_count == 1 and caught.value.exit_code == 3 and caught.value.code == f"HTTP_{status}"
    assert "is not a Formance ledger API" in caught.value.message and "\n" not in caught.value.message


def test_a_formance_not_found_is_still_the_ledger_s_own_answer(router: respx.Router) -> None:
    router.get(f"{TX_URL}/5").mock(return_value=error(404, "NOT_FOUND", "transaction not found"))
    with make_client(router) as client, pytest.raises(LoyaltyError) as caught:
        client.get_transaction(5)
    assert "not a Formance ledger" not in caught.value.message and caught.value.code == "NOT_FOUND"


def test_business_error_is_not_retried(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=error(400, "INSUFFICIENT_FUND", "account had insufficient funds"))
    lookup = router.get(TX_URL).mock(return_value=cursor([]))
    with make_client(router) as client, pytest.raises(InsufficientPoints):
        client.post(make_plan())
    assert route.call_count == 1
    # Before believing "insufficient funds", the reference was looked up once (and was not there).
    assert lookup.call_count == 1 and body_of(lookup.calls.last.request) == {"$match": {"reference": "earn:order-1"}}


def test_unreachable_server_raises_ledger_unavailable_after_max_attempts(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    with make_client(router, max_attempts=3) as client, pytest.raises(LedgerUnavailable) as caught:
        client.post(make_plan())
    assert route.call_count == 3
    assert BASE in str(caught.value) and "3 attempt" in str(caught.value)


def test_a_retrying_call_warns_once_not_once_per_attempt(router: respx.Router, caplog: pytest.LogCaptureFixture) -> None:
    router.post(TX_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    with caplog.at_level("DEBUG", logger="loyalty_accounts.ledger.transport"):
        with make_client(router, max_attempts=4) as client, pytest.raises(LedgerUnavailable):
            client.post(make_plan())
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [r.levelname for r in retries] == ["WARNING", "DEBUG", "DEBUG"]
    assert "retrying for up to 45 s" in retries[0].getMessage()


def test_persistent_internal_error_raises_ledger_unavailable(router: respx.Router) -> None:
    route = router.get(f"{TX_URL}/5").mock(return_value=error(500, "INTERNAL", "Internal error."))
    with make_client(router, max_attempts=2) as client, pytest.raises(LedgerUnavailable) as caught:
        client.get_transaction(5)
    assert route.call_count == 2 and caught.value.code == "INTERNAL"


# -- retry budget and unknown outcomes -----------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ReadTimeout("timed out"), OutcomeUnknown),  # the request was sent: it may have been applied
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), OutcomeUnknown),
        (httpx.Response(500, json={"errorCode": "INTERNAL", "errorMessage": "commit failed"}), OutcomeUnknown),
        (httpx.ConnectError("connection refused"), LedgerUnavailable),  # never left: nothing was posted
        (httpx.Response(429, text="too many clients"), LedgerUnavailable),  # turned away before any work
    ],
)
def test_a_write_out_of_retries_is_unknown_only_if_an_attempt_may_have_been_applied(
    router: respx.Router, failure: Any, expected: type[LoyaltyError]
) -> None:
    route = router.post(TX_URL).mock(side_effect=[failure] * 3)
    with make_client(router, max_attempts=3) as client, pytest.raises(LoyaltyError) as caught:
        client.post(make_plan())
    assert type(caught.value) is expected and route.call_count == 3
    if expected is OutcomeUnknown:
        assert caught.value.exit_code == 4
        assert "may have been posted: run the same command again to learn" in caught.value.message
        assert caught.value.details == {"what": "post transaction", "attempts": 3}
    else:
        assert caught.value.exit_code == 3


def test_an_unknown_outcome_is_remembered_across_later_refused_connections(router: respx.Router) -> None:
    router.post(TX_URL).mock(side_effect=[httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")])
    with make_client(router, max_attempts=2) as client, pytest.raises(OutcomeUnknown):
        client.post(make_plan())


def test_a_read_out_of_retries_stays_ledger_unavailable(router: respx.Router) -> None:
    router.get(f"{TX_URL}/5").mock(side_effect=httpx.ReadTimeout("timed out"))
    with make_client(router, max_attempts=2) as client, pytest.raises(LedgerUnavailable) as caught:
        client.get_transaction(5)
    assert type(caught.value) is LedgerUnavailable and caught.value.exit_code == 3


def test_the_default_budget_outlasts_a_30_second_restart(router: respx.Router) -> None:
    fake_time = FakeTime()

    def restarting(request: httpx.Request) -> httpx.Response:
        fake_time.now += 0.01  # a refused connection is quick
        if fake_time.now < 30:
            raise httpx.ConnectError("connection refused", request=request)
        return ok(tx_json(7, "earn:order-1"))

    route = router.post(TX_URL).mock(side_effect=restarting)
    # The shipped defaults: no max_attempts, 45 s budget, backoff 0.2 s doubling up to 2 s.
    with LedgerClient(
        LedgerConnection(url=BASE, ledger="loyalty"),
        transport=httpx.MockTransport(router.handler),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    ) as client:
        posted = client.post(make_plan())
    assert posted.id == 7 and posted.replayed is False
    # Back within one maximal wait (2 s) and one attempt (0.01 s) of the server's return.
    assert 30 <= fake_time.now < 32.02 and route.call_count > 10


def test_retries_stop_once_the_budget_is_spent(router: respx.Router) -> None:
    fake_time = FakeTime()

    def hanging(request: httpx.Request) -> httpx.Response:
        fake_time.now += 10  # each attempt waits out its 10 s timeout
        raise httpx.ReadTimeout("timed out", request=request)

    router.post(TX_URL).mock(side_effect=hanging)
    with make_client(
        router, fake_time=fake_time, backoff_initial_s=0.2, backoff_max_s=2.0
    ) as client, pytest.raises(OutcomeUnknown) as caught:
        client.post(make_plan())
    # 45 s budget, 10 s per attempt, waits of at most 0.2, 0.4, 0.8, 1.6 s: the 4th attempt ends
    # by 41.4 s, so a 5th runs and ends between 50 and 53 s; then the budget is spent.
    assert 50 <= fake_time.now <= 53
    assert "after 5 attempt(s)" in caught.value.message


def test_an_unavailable_ledger_is_told_in_words_without_the_url_s_password(router: respx.Router) -> None:
    router.post("http://bob:hunter2@ledger.test/v2/loyalty/transactions").mock(side_effect=httpx.ConnectError("connection refused"))
    router.post(TX_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    with make_client(router, url="http://bob:hunter2@ledger.test", max_attempts=2) as client, pytest.raises(LedgerUnavailable) as caught:
        client.post(make_plan())
    message = caught.value.message
    assert "hunter2" not in message and "http://bob:***@ledger.test" in message
    assert "connect error: connection refused" in message and "ConnectError" not in message
