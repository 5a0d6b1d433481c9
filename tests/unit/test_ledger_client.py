"""HTTP-edge tests of the Formance adapter: exact requests out, server answers in.

Response shapes follow Formance Ledger v2.4.12 (create 200, revert 201, bulk
200/400 with per-element results, errors ``{"errorCode", "errorMessage"}``,
lists ``{"cursor": {...}}``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from loyalty_accounts.errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerRejected,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
    UnknownEntity,
)
from loyalty_accounts.ledger_client import LedgerClient, LedgerConnection, idempotency_key
from loyalty_accounts.types import TransactionPlan

BASE = "http://ledger.test"
TX_URL = f"{BASE}/v2/loyalty/transactions"
BULK_URL = f"{BASE}/v2/loyalty/_bulk"
BIG = 123456789012345678901234567890  # beyond int64 and float precision

# The SDK reads every field of its list-transactions request, including the deprecated "order".
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED.*:DeprecationWarning")


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


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


# -- post: request shape --------------------------------------------------------


def test_post_sends_script_vars_reference_metadata_and_idempotency_key(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))
    plan = make_plan(timestamp=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))))

    with make_client(router) as client:
        posted = client.post(plan, schema_version="v1")

    request = route.calls.last.request
    assert request.headers["Idempotency-Key"].startswith("loyalty:earn:order-1#")
    assert request.headers["Content-Type"] == "application/json"
    assert request.url.params["schemaVersion"] == "v1"
    body = body_of(request)
    assert body == {
        "metadata": {"command_hash": "hash-1", "operation": "earn", "order": "order-1", "template": "earn_points"},
        "reference": "earn:order-1",
        "script": {"plain": plan.script, "vars": {"amount": "PTS 100", "customer": "customers:42:points"}},
        "timestamp": "2024-05-01T10:00:00.123456Z",  # converted to UTC
    }
    assert list(body["metadata"]) == sorted(body["metadata"])
    assert posted.id == 7 and posted.reference == "earn:order-1" and posted.replayed is False
    assert posted.postings[0].amount == 100


def test_post_body_is_byte_identical_for_equal_plans(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))
    first = make_plan()
    second = first.model_copy(update={"vars": {"amount": "PTS 100", "customer": "customers:42:points"}})
    assert list(first.vars) != list(second.vars)

    with make_client(router) as client:
        client.post(first)
        client.post(second)

    one, two = (call.request for call in route.calls)
    assert one.content == two.content
    assert "timestamp" not in body_of(one)


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


def test_idempotency_hit_on_the_first_attempt_means_an_earlier_call(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1"), **{"Idempotency-Hit": "true"}))
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True


# -- paths and auth -------------------------------------------------------------


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


@pytest.mark.parametrize(("gateway", "path"), [(False, "/_/info"), (True, "/api/ledger/_/info")])
def test_server_version_reads_info(router: respx.Router, gateway: bool, path: str) -> None:
    info = {"server": "ledger", "version": "v2.4.12"}  # raw, not wrapped in "data"
    router.get(f"{BASE}{path}").mock(return_value=httpx.Response(200, json=info))
    with make_client(router, gateway=gateway) as client:
        assert client.server_version() == "v2.4.12"


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


# -- retries --------------------------------------------------------------------


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
    with caplog.at_level("DEBUG", logger="loyalty_accounts.ledger_client"):
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


# -- retry budget and unknown outcomes ---------------------------------------------


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


def test_a_bulk_out_of_retries_is_unknown(router: respx.Router) -> None:
    lookup_route(router, [])
    router.post(BULK_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with make_client(router, max_attempts=2) as client, pytest.raises(OutcomeUnknown):
        client.post_many([make_plan("earn:a")])


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
        assert client._http.timeout.read == 2.5

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


# -- exactly once: conflicts ------------------------------------------------------


def lookup_route(router: respx.Router, found: list[dict[str, Any]]) -> respx.Route:
    return router.get(TX_URL).mock(return_value=cursor(found))


def test_conflict_with_same_command_hash_is_a_replay(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=error(409, "CONFLICT", 'duplicate reference "earn:order-1"'))
    lookup = lookup_route(router, [tx_json(3, "earn:order-1", command_hash="hash-1")])

    with make_client(router) as client:
        posted = client.post(make_plan())

    assert posted.id == 3 and posted.replayed is True
    request = lookup.calls.last.request
    assert body_of(request) == {"$match": {"reference": "earn:order-1"}}
    assert request.method == "GET"


def test_conflict_with_other_command_hash_is_a_duplicate_operation(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=error(409, "CONFLICT", 'duplicate reference "earn:order-1"'))
    lookup_route(router, [tx_json(3, "earn:order-1", command_hash="another-command")])

    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.post(make_plan())
    assert "earn:order-1" in str(caught.value)


def test_conflict_without_body_is_still_resolved(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=httpx.Response(409))
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True


def test_invalid_idempotency_hash_is_resolved_by_reference(router: respx.Router) -> None:
    router.post(TX_URL).mock(
        return_value=error(
            400,
            "VALIDATION",
            "invalid idempotency hash when using idempotency key 'loyalty:earn:order-1', "
            "has computed 'a' but 'b' is stored",
        )
    )
    lookup_route(router, [tx_json(3, "earn:order-1", command_hash="hash-1")])
    with make_client(router) as client:
        posted = client.post(make_plan(timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    assert posted.id == 3 and posted.replayed is True


def test_insufficient_funds_with_the_reference_taken_by_the_same_command_is_a_replay(router: respx.Router) -> None:
    # v2.4.12 checks funds before the reference: the losing twin of a spend of the whole balance hears this.
    route = router.post(TX_URL).mock(return_value=error(400, "INSUFFICIENT_FUND", "account had insufficient funds"))
    lookup = lookup_route(router, [tx_json(3, "earn:order-1", command_hash="hash-1")])
    with make_client(router) as client:
        posted = client.post(make_plan())
    assert posted.id == 3 and posted.replayed is True
    assert route.call_count == 1 and body_of(lookup.calls.last.request) == {"$match": {"reference": "earn:order-1"}}


def test_insufficient_funds_with_the_reference_taken_by_another_command_is_a_duplicate(router: respx.Router) -> None:
    router.post(TX_URL).mock(return_value=error(400, "INSUFFICIENT_FUND", "account had insufficient funds"))
    lookup_route(router, [tx_json(3, "earn:order-1", command_hash="another-command")])
    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.post(make_plan())
    assert caught.value.details["transaction_id"] == 3


# -- replayed: this call or an earlier one -------------------------------------------


def test_conflict_after_an_unanswered_attempt_that_was_ours_is_not_a_replay(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),  # our attempt, still running on the server...
            error(409, "CONFLICT", "duplicate reference"),  # ...commits before the retry
            ok(tx_json(3, "earn:order-1"), **{"Idempotency-Hit": "true"}),  # same key: the ledger knows it
        ]
    )
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        posted = client.post(make_plan())
    assert posted.id == 3 and posted.replayed is False
    assert route.call_count == 3
    assert len({call.request.headers["Idempotency-Key"] for call in route.calls}) == 1
    assert len({call.request.content for call in route.calls}) == 1


def test_conflict_after_an_unanswered_attempt_that_was_not_ours_is_a_replay(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            error(409, "CONFLICT", "duplicate reference"),
            error(409, "CONFLICT", "duplicate reference"),  # our key is unknown to the ledger: another call posted it
        ]
    )
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True
    assert route.call_count == 3


def test_conflict_after_refused_connections_only_is_a_replay_without_a_recheck(router: respx.Router) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[httpx.ConnectError("refused"), error(409, "CONFLICT", "duplicate reference")]
    )
    lookup_route(router, [tx_json(3, "earn:order-1")])
    with make_client(router) as client:
        assert client.post(make_plan()).replayed is True
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("inserted_at", "replayed"), [("2000-01-01T00:00:00Z", True), ("2999-01-01T00:00:00.5Z", False)]
)
def test_when_the_recheck_gets_no_answer_the_insertion_time_decides(
    router: respx.Router, inserted_at: str, replayed: bool
) -> None:
    route = router.post(TX_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            error(409, "CONFLICT", "duplicate reference"),
            httpx.ReadTimeout("timed out"),
            httpx.ReadTimeout("timed out"),
        ]
    )
    lookup_route(router, [{**tx_json(3, "earn:order-1"), "insertedAt": inserted_at}])
    with make_client(router, max_attempts=2) as client:
        assert client.post(make_plan()).replayed is replayed
    assert route.call_count == 4


# -- error mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "INSUFFICIENT_FUND", InsufficientPoints),
        (404, "NOT_FOUND", UnknownEntity),
        (404, "LEDGER_NOT_FOUND", UnknownEntity),
        (400, "ALREADY_REVERT", DuplicateOperation),
        (400, "VALIDATION", LedgerRejected),
        (400, "COMPILATION_FAILED", LedgerRejected),
        (400, "INTERPRETER_PARSE", LedgerRejected),
        (400, "INTERPRETER_RUNTIME", LedgerRejected),
        (400, "NO_POSTINGS", LedgerRejected),
        (400, "METADATA_OVERRIDE", LedgerRejected),
        (400, "SCHEMA_NOT_SPECIFIED", LedgerRejected),
        (400, "OUTDATED_SCHEMA", LedgerRejected),
        (413, "BULK_SIZE_EXCEEDED", LedgerRejected),
        (400, "SOMETHING_NEW", LedgerRejected),  # unknown to the SDK's enum
    ],
)
def test_error_codes_map_to_project_errors(
    router: respx.Router, status: int, code: str, expected: type[LoyaltyError]
) -> None:
    router.post(TX_URL).mock(return_value=error(status, code, f"server says {code.lower()}"))
    router.get(TX_URL).mock(return_value=cursor([]))  # the reference lookup after INSUFFICIENT_FUND
    with make_client(router) as client, pytest.raises(LoyaltyError) as caught:
        client.post(make_plan())
    assert type(caught.value) is expected
    assert caught.value.code == code
    assert f"server says {code.lower()}" in str(caught.value)


def test_non_json_error_body_gives_a_clear_error(router: respx.Router) -> None:
    router.post(TX_URL).mock(
        return_value=httpx.Response(404, text="404 page not found\n", headers={"Content-Type": "application/json"})
    )
    with make_client(router) as client, pytest.raises(LedgerRejected) as caught:
        client.post(make_plan())
    assert caught.value.code == "HTTP_404"
    assert "404 page not found" in str(caught.value)
    assert "/v2/loyalty/transactions" in str(caught.value)


# -- revert -----------------------------------------------------------------------


def test_revert_posts_force_and_metadata_with_a_per_call_key(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/12/revert").mock(return_value=ok(tx_json(13, "", amount=100), status=201))
    with make_client(router) as client:
        reversal = client.revert(12, force=True, metadata={"reason": "refund"}, schema_version="v7")
        client.revert(12)

    first, second = (call.request for call in route.calls)
    assert first.url.params["force"] == "true"
    assert first.url.params["schemaVersion"] == "v7"
    assert "schemaVersion" not in second.url.params
    assert body_of(first) == {"metadata": {"reason": "refund"}}
    assert "force" not in second.url.params and second.content == b""
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]
    assert reversal.id == 13 and reversal.reference is None


def test_second_revert_is_a_duplicate_operation(router: respx.Router) -> None:
    router.post(f"{TX_URL}/12/revert").mock(
        return_value=error(400, "ALREADY_REVERT", "transaction 12 already reverted")
    )
    with make_client(router) as client, pytest.raises(DuplicateOperation) as caught:
        client.revert(12)
    assert caught.value.code == "ALREADY_REVERT"


def test_already_reverted_after_an_unanswered_attempt_is_settled_with_the_calls_own_key(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/12/revert").mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            error(400, "ALREADY_REVERT", "transaction 12 already reverted"),
            ok(tx_json(13, "", amount=100), status=201, **{"Idempotency-Hit": "true"}),
        ]
    )
    with make_client(router) as client:
        reversal = client.revert(12)
    assert reversal.id == 13 and route.call_count == 3
    assert len({call.request.headers["Idempotency-Key"] for call in route.calls}) == 1


# -- bulk -------------------------------------------------------------------------


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


def test_bulk_chunks_by_100_and_keeps_input_order(router: respx.Router) -> None:
    plans = [make_plan(f"earn:order-{i}") for i in range(250)]
    ids = {plan.reference: 1000 + i for i, plan in enumerate(plans)}
    lookups = lookup_route(router, [])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder(ids, reverse=True))

    with make_client(router) as client:
        posted = client.post_many(plans)

    assert bulk.call_count == 3 and lookups.call_count == 3
    sizes = [len(body_of(call.request)) for call in bulk.calls]
    assert sizes == [100, 100, 50]
    first = body_of(bulk.calls[0].request)[0]
    assert first["action"] == "CREATE_TRANSACTION"
    assert first["ik"].startswith("loyalty:earn:order-0#")
    keys = [element["ik"] for call in bulk.calls for element in body_of(call.request)]
    assert len(set(keys)) == 250
    assert first["data"]["script"]["vars"] == {"amount": "PTS 100", "customer": "customers:42:points"}
    params = bulk.calls[0].request.url.params
    assert params["continueOnFailure"] == "true" and "atomic" not in params and "parallel" not in params
    assert body_of(lookups.calls[0].request) == {"$in": {"reference": [p.reference for p in plans[:100]]}}
    assert [tx.reference for tx in posted] == [plan.reference for plan in plans]
    assert [tx.id for tx in posted] == [ids[plan.reference] for plan in plans]


def test_bulk_recognises_replays_before_sending(router: respx.Router) -> None:
    plans = [make_plan("earn:a"), make_plan("earn:b")]
    lookup_route(router, [tx_json(5, "earn:a", command_hash="hash-1")])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({"earn:b": 6}))

    with make_client(router) as client:
        posted = client.post_many(plans)

    assert [e["data"]["reference"] for e in body_of(bulk.calls.last.request)] == ["earn:b"]
    assert [(tx.id, tx.replayed) for tx in posted] == [(5, True), (6, False)]


def test_bulk_refuses_a_reused_reference_before_sending(router: respx.Router) -> None:
    lookup_route(router, [tx_json(5, "earn:a", command_hash="another-command")])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({}))
    with make_client(router) as client, pytest.raises(DuplicateOperation):
        client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert bulk.call_count == 0


def test_bulk_element_error_is_mapped_and_names_the_reference(router: respx.Router) -> None:
    lookup_route(router, [])
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "data": [
                    {"responseType": "CREATE_TRANSACTION", "logID": 1, "data": tx_json(1, "earn:a")},
                    {
                        "responseType": "ERROR",
                        "logID": 0,
                        "errorCode": "INSUFFICIENT_FUND",
                        "errorDescription": "account had insufficient funds",
                    },
                ]
            },
        )
    )
    with make_client(router) as client, pytest.raises(InsufficientPoints) as caught:
        client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert "earn:b" in str(caught.value) and caught.value.code == "INSUFFICIENT_FUND"
    assert caught.value.details["failures"][0]["reference"] == "earn:b"


def test_bulk_element_conflict_is_resolved_like_post(router: respx.Router) -> None:
    lookups = router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "data": [
                    {"responseType": "CREATE_TRANSACTION", "logID": 1, "data": tx_json(1, "earn:a")},
                    {
                        "responseType": "ERROR",
                        "errorCode": "CONFLICT",
                        "errorDescription": 'duplicate reference "earn:b"',
                    },
                ]
            },
        )
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (9, True)]
    assert body_of(lookups.calls.last.request) == {"$match": {"reference": "earn:b"}}


def test_atomic_bulk_resends_the_rest_after_a_resolved_conflict(router: respx.Router) -> None:
    router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    bulk = router.post(BULK_URL).mock(
        side_effect=[
            httpx.Response(
                400,
                json={
                    "data": [
                        {"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")},
                        {"responseType": "ERROR", "errorCode": "CONFLICT", "errorDescription": "duplicate reference"},
                    ]
                },
            ),
            bulk_responder({"earn:a": 2}),
        ]
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")], atomic=True)

    assert bulk.calls[0].request.url.params["atomic"] == "true"
    assert [e["data"]["reference"] for e in body_of(bulk.calls[1].request)] == ["earn:a"]
    assert [(tx.id, tx.replayed) for tx in posted] == [(2, False), (9, True)]


def test_atomic_bulk_over_one_chunk_is_refused(router: respx.Router) -> None:
    with make_client(router) as client, pytest.raises(InvalidCommand):
        client.post_many([make_plan(f"earn:{i}") for i in range(101)], atomic=True)
    assert not router.calls


def test_repeated_reference_in_one_batch(router: respx.Router) -> None:
    lookup_route(router, [])
    bulk = router.post(BULK_URL).mock(side_effect=bulk_responder({"earn:a": 1}))
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:a")])
        with pytest.raises(DuplicateOperation):
            client.post_many([make_plan("earn:a"), make_plan("earn:a", command_hash="other")])
    assert len(body_of(bulk.calls[0].request)) == 1 and bulk.call_count == 1
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (1, True)]


def test_bulk_element_insufficient_funds_with_its_reference_taken_is_a_replay(router: respx.Router) -> None:
    lookups = router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    router.post(BULK_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "data": [
                    {"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")},
                    {"responseType": "ERROR", "errorCode": "INSUFFICIENT_FUND", "errorDescription": "insufficient"},
                ]
            },
        )
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (9, True)]
    assert body_of(lookups.calls.last.request) == {"$match": {"reference": "earn:b"}}


def test_bulk_conflict_after_an_unanswered_attempt_is_settled_with_the_same_keys(router: respx.Router) -> None:
    router.get(TX_URL).mock(side_effect=[cursor([]), cursor([tx_json(9, "earn:b")])])
    bulk = router.post(BULK_URL).mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            httpx.Response(
                400,
                json={
                    "data": [
                        {"responseType": "CREATE_TRANSACTION", "data": tx_json(1, "earn:a")},
                        {"responseType": "ERROR", "errorCode": "CONFLICT", "errorDescription": "duplicate reference"},
                    ]
                },
            ),
            bulk_responder({"earn:b": 9}),  # b's key is known to the ledger: our first attempt posted it
        ]
    )
    with make_client(router) as client:
        posted = client.post_many([make_plan("earn:a"), make_plan("earn:b")])
    assert [(tx.id, tx.replayed) for tx in posted] == [(1, False), (9, False)]
    recheck = bulk.calls[2].request
    assert [e["data"]["reference"] for e in body_of(recheck)] == ["earn:b"]
    assert body_of(recheck)[0]["ik"] == body_of(bulk.calls[0].request)[1]["ik"]
    assert "atomic" not in recheck.url.params


# -- reads ------------------------------------------------------------------------


def test_accounts_follow_cursors_with_volumes_as_big_ints(router: respx.Router) -> None:
    def account(address: str) -> dict[str, Any]:
        return {
            "address": address,
            "metadata": {"tier": "gold"},
            "effectiveVolumes": {"PTS": {"input": BIG, "output": 1, "balance": BIG - 1}},
        }

    route = router.get(f"{BASE}/v2/loyalty/accounts").mock(
        side_effect=[
            cursor([account("customers:1:points")], next_cursor="c-1"),
            cursor([account("customers:2:points")]),
        ]
    )
    pit = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with make_client(router) as client:
        accounts = list(client.accounts("customers::points", pit=pit))

    first, second = (call.request for call in route.calls)
    assert body_of(first) == {"$match": {"address": "customers::points"}}
    # Effective volumes: with a pit, expand=volumes would follow insertion order.
    assert first.url.params["expand"] == "effectiveVolumes"
    assert first.url.params["pageSize"] == "100"
    assert first.url.params["pit"] == "2024-06-01T00:00:00Z"
    assert second.url.params["cursor"] == "c-1"
    assert [a.address for a in accounts] == ["customers:1:points", "customers:2:points"]
    assert accounts[0].volumes["PTS"].input == BIG and accounts[0].balance("PTS") == BIG - 1
    assert accounts[0].metadata == {"tier": "gold"}


def test_account_reads_one_address_with_volumes(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/accounts/customers:42:points").mock(
        return_value=ok(
            {
                "address": "customers:42:points",
                "metadata": {},
                "effectiveVolumes": {"PTS": {"input": 10, "output": 3, "balance": 7}},
            }
        )
    )
    with make_client(router) as client:
        state = client.account("customers:42:points")
    params = route.calls.last.request.url.params
    assert params["expand"] == "effectiveVolumes" and "pit" not in params
    assert state.balance("PTS") == 7


def test_account_as_of_an_instant_reads_effective_volumes_only(router: respx.Router) -> None:
    # A body as a server could send it with both expansions: insertion-order volumes (a back-dated
    # earn of 100 posted after the pit is missing) and effective ones (it is there). Only the
    # effective ones may be read.
    route = router.get(f"{BASE}/v2/loyalty/accounts/customers:42:points").mock(
        return_value=ok(
            {
                "address": "customers:42:points",
                "metadata": {},
                "volumes": {"PTS": {"input": 0, "output": 0, "balance": 0}},
                "effectiveVolumes": {"PTS": {"input": 100, "output": 30, "balance": 70}},
            }
        )
    )
    with make_client(router) as client:
        state = client.account("customers:42:points", pit=datetime(2026, 6, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    params = route.calls.last.request.url.params
    assert params["expand"] == "effectiveVolumes"
    assert params["pit"] == "2026-06-01T00:00:00Z"
    assert state.balance("PTS") == 70


def test_account_without_effective_volumes_has_none(router: respx.Router) -> None:
    # The server leaves the key out when nothing moved by the pit; "volumes" alone is not read.
    router.get(f"{BASE}/v2/loyalty/accounts/customers:42:points").mock(
        return_value=ok(
            {"address": "customers:42:points", "metadata": {}, "volumes": {"PTS": {"input": 5, "output": 0, "balance": 5}}}
        )
    )
    with make_client(router) as client:
        state = client.account("customers:42:points", pit=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert state.volumes == {} and state.balance("PTS") == 0


def test_unknown_account_is_unknown_entity(router: respx.Router) -> None:
    router.get(f"{BASE}/v2/loyalty/accounts/customers:404:points").mock(
        return_value=error(404, "NOT_FOUND", "account not found")
    )
    with make_client(router) as client, pytest.raises(UnknownEntity):
        client.account("customers:404:points")


def test_transactions_filter_oldest_first_and_follow_cursors(router: respx.Router) -> None:
    route = router.get(TX_URL).mock(
        side_effect=[cursor([tx_json(1, "earn:a")], next_cursor="n-1"), cursor([tx_json(2, "earn:b", amount=BIG)])]
    )
    with make_client(router) as client:
        found = list(
            client.transactions(
                account="customers:42:points",
                metadata={"operation": "earn"},
                start=datetime(2024, 1, 1, tzinfo=timezone.utc),
                end=datetime(2024, 2, 1, tzinfo=timezone.utc),
            )
        )

    first, second = (call.request for call in route.calls)
    assert body_of(first) == {
        "$and": [
            {"$match": {"account": "customers:42:points"}},
            {"$match": {"metadata[operation]": "earn"}},
            {"$gte": {"timestamp": "2024-01-01T00:00:00Z"}},
            {"$lt": {"timestamp": "2024-02-01T00:00:00Z"}},
        ]
    }
    assert first.url.params["reverse"] == "true" and first.url.params["pageSize"] == "100"
    assert second.url.params["cursor"] == "n-1"
    assert [tx.id for tx in found] == [1, 2]
    assert found[1].postings[0].amount == BIG


def test_aggregate_balances_parse_big_ints(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/aggregate/balances").mock(
        return_value=ok({"PTS": BIG, "USD/2": -250})
    )
    with make_client(router) as client:
        balances = client.aggregate_balances("customers:...", use_insertion_date=True)
    request = route.calls.last.request
    assert body_of(request) == {"$match": {"address": "customers:..."}}
    assert request.url.params["useInsertionDate"] == "true"
    assert balances == {"PTS": BIG, "USD/2": -250}
    assert isinstance(balances["PTS"], int)


def test_aggregate_balances_as_of_an_instant_are_effective(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/aggregate/balances").mock(return_value=ok({"PTS": 100}))
    with make_client(router) as client:
        assert client.aggregate_balances("customers:...", pit=datetime(2026, 6, 1, tzinfo=timezone.utc)) == {"PTS": 100}
    params = route.calls.last.request.url.params
    assert params["pit"] == "2026-06-01T00:00:00Z"
    assert "useInsertionDate" not in params and "use_insertion_date" not in params


def test_aggregate_balances_without_filter_covers_every_account(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/aggregate/balances").mock(return_value=ok({"PTS": 0}))
    with make_client(router) as client:
        assert client.aggregate_balances("") == {"PTS": 0}
    assert body_of(route.calls.last.request) == {}


def test_volumes_window_group_by_and_big_ints(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/volumes").mock(
        return_value=cursor([{"account": "customers", "asset": "PTS", "input": BIG, "output": 5, "balance": BIG - 5}])
    )
    with make_client(router) as client:
        rows = client.volumes(
            "customers:...",
            start=datetime(2024, 1, 1, tzinfo=timezone.utc),
            end=datetime(2024, 2, 1, tzinfo=timezone.utc),
            group_by=1,
            insertion_date=True,
        )
    params = route.calls.last.request.url.params
    assert params["startTime"] == "2024-01-01T00:00:00Z" and params["endTime"] == "2024-02-01T00:00:00Z"
    assert params["groupBy"] == "1" and params["insertionDate"] == "true"
    assert rows[0].account == "customers" and rows[0].input == BIG and rows[0].balance == BIG - 5


def test_volumes_up_to_an_instant_are_effective(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/volumes").mock(return_value=cursor([]))
    with make_client(router) as client:
        assert client.volumes("customers:...", end=datetime(2026, 6, 1, tzinfo=timezone.utc)) == []
    params = route.calls.last.request.url.params
    assert params["endTime"] == "2026-06-01T00:00:00Z"
    assert "insertionDate" not in params and "startTime" not in params


def test_transactions_as_of_an_instant_send_the_pit(router: respx.Router) -> None:
    route = router.get(TX_URL).mock(return_value=cursor([tx_json(1, "earn:a")]))
    with make_client(router) as client:
        found = list(client.transactions(metadata={"operation": "hold"}, pit=datetime(2026, 6, 1, tzinfo=timezone.utc)))
    request = route.calls.last.request
    assert request.url.params["pit"] == "2026-06-01T00:00:00Z"
    assert body_of(request) == {"$match": {"metadata[operation]": "hold"}}
    assert [tx.id for tx in found] == [1]


def test_logs_are_read_oldest_first(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/logs").mock(
        side_effect=[
            cursor([{"id": 0, "type": "NEW_TRANSACTION"}], next_cursor="l-1"),
            cursor([{"id": 1, "type": "INSERTED_SCHEMA"}]),
        ]
    )
    with make_client(router) as client:
        logs = list(client.logs())
    assert route.calls[0].request.url.params["sort"] == "id:asc"
    assert [entry["id"] for entry in logs] == [0, 1]


@pytest.mark.parametrize("bad_filter", ["customers'; drop table x; --", "customers:*", "a::b c"])
def test_address_filters_are_checked_before_sending(router: respx.Router, bad_filter: str) -> None:
    with make_client(router) as client, pytest.raises(InvalidCommand):
        client.aggregate_balances(bad_filter)
    assert not router.calls


# -- ledger and schemas -------------------------------------------------------------


def test_create_ledger_true_then_false_when_it_exists(router: respx.Router) -> None:
    route = router.post(f"{BASE}/v2/loyalty").mock(
        side_effect=[httpx.Response(204), error(400, "LEDGER_ALREADY_EXISTS", "ledger already exists")]
    )
    with make_client(router) as client:
        assert client.create_ledger(metadata={"programme": "loyalty"}) is True
        assert client.create_ledger() is False
    assert body_of(route.calls[0].request) == {"metadata": {"programme": "loyalty"}}


def test_insert_schema_true_then_false_when_version_exists(router: respx.Router) -> None:
    schema = {
        "chart": {"world": {}, "customers": {"$id": {".pattern": "^[0-9]+$", "points": {}}}},
        "transactions": {"EARN": {"script": "send [PTS 1] (source = @world destination = @customers:1:points)"}},
    }
    route = router.post(f"{BASE}/v2/loyalty/schemas/v1").mock(
        side_effect=[httpx.Response(204), error(409, "SCHEMA_ALREADY_EXISTS", "schema v1 already exists")]
    )
    with make_client(router) as client:
        assert client.insert_schema("v1", schema) is True
        assert client.insert_schema("v1", schema) is False
    assert body_of(route.calls[0].request) == schema


def test_list_schema_versions_follows_cursors(router: respx.Router) -> None:
    def schema(version: str) -> dict[str, Any]:
        return {"version": version, "createdAt": "2024-01-01T00:00:00Z", "chart": {"world": {}}}

    router.get(f"{BASE}/v2/loyalty/schemas").mock(
        side_effect=[cursor([schema("v1")], next_cursor="s-1"), cursor([schema("v2")])]
    )
    with make_client(router) as client:
        assert client.list_schema_versions() == ["v1", "v2"]


# -- settings -----------------------------------------------------------------------


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


def test_add_transaction_metadata_is_idempotent_by_content(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/7/metadata").mock(return_value=httpx.Response(204))
    with make_client(router) as client:
        client.add_transaction_metadata(7, {"b": "2", "a": "1"}, schema_version="v3")
        client.add_transaction_metadata(7, {"a": "1", "b": "2"})
        client.add_transaction_metadata(7, {"a": "1", "b": "3"})
    first, second, third = (call.request for call in route.calls)
    assert body_of(first) == {"a": "1", "b": "2"}
    assert first.url.params["schemaVersion"] == "v3"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert third.headers["Idempotency-Key"] != first.headers["Idempotency-Key"]
