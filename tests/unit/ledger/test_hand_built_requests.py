"""The hot path's hand-built requests at the HTTP edge: paths, query parameters, headers, bodies, auth, errors.

These requests no longer go through formance-sdk-python's request models, so
what the SDK used to guarantee is checked here: the URL under ``/v2/{ledger}``
(with the gateway prefix when there is one), parameters in name order and in
the server's spelling, compact JSON bodies, the SDK's OAuth2 scopes.
Response shapes follow Formance Ledger v2.4.12 (see ``ledgersupport``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
import typer
from ledgersupport import BASE, TX_URL, body_of, cursor, error, make_client, make_plan, ok, tx_json

from loyalty_accounts.ledger.reads import PAGE_SIZE
from loyalty_accounts.errors import (
    DuplicateOperation,
    InvalidCommand,
    LedgerRejected,
    LoyaltyError,
    UnknownEntity,
)
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.ledger.bulk import bulk_timeout_s
from loyalty_accounts.ledger.reads import query_params
from loyalty_accounts.ledger.transport import json_content

PIT = datetime(2026, 6, 1, 2, 3, 4, 567891, tzinfo=timezone(timedelta(hours=2)))
PIT_TEXT = "2026-06-01T00:03:04.567891Z"
ACCOUNT = {"address": "customers:1:points", "metadata": {}, "effectiveVolumes": {"PTS": {"input": 3, "output": 1}}}


class _NoSdk:
    """Stands in for the SDK's ledger.v2 operations: any use of them on the hot path fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the hot path called the SDK's {name}")


def _no_sdk(client: LedgerClient) -> LedgerClient:
    client._transport.v2 = _NoSdk()  # type: ignore[assignment]
    return client


# -- query parameters and bodies -------------------------------------------------


def test_query_params_are_in_name_order_in_the_servers_spelling() -> None:
    params = query_params(pit=PIT, reverse=True, pageSize=100, cursor=None, insertionDate=False)
    assert list(params) == ["insertionDate", "pageSize", "pit", "reverse"]
    assert params == {"insertionDate": "false", "pageSize": "100", "pit": PIT_TEXT, "reverse": "true"}


def test_a_naive_instant_is_refused_before_anything_is_sent(router: respx.Router) -> None:
    with make_client(router) as client, pytest.raises(InvalidCommand):
        client.account("customers:1:points", pit=datetime(2026, 6, 1))
    assert not router.calls


def test_json_bodies_are_compact_utf8_in_the_given_key_order() -> None:
    content = json_content({"b": {"z": 1, "a": [True, None]}, "a": "café"})
    assert content == '{"b":{"z":1,"a":[true,null]},"a":"café"}'.encode()


# -- every hot-path call: method, path, parameters, body ---------------------------


def _routes(router: respx.Router, root: str) -> dict[str, respx.Route]:
    ledger = f"{root}/v2/loyalty"
    return {
        "post": router.post(f"{ledger}/transactions").mock(return_value=ok(tx_json(7, "earn:order-1"))),
        "revert": router.post(f"{ledger}/transactions/5/revert").mock(return_value=ok(tx_json(8, ""), status=201)),
        "metadata": router.post(f"{ledger}/transactions/5/metadata").mock(return_value=httpx.Response(204)),
        "transaction": router.get(f"{ledger}/transactions/5").mock(return_value=ok(tx_json(5, "earn:a"))),
        "transactions": router.get(f"{ledger}/transactions").mock(return_value=cursor([tx_json(5, "earn:a")])),
        "account": router.get(f"{ledger}/accounts/customers:1:points").mock(return_value=ok(ACCOUNT)),
        "accounts": router.get(f"{ledger}/accounts").mock(return_value=cursor([ACCOUNT])),
        "balances": router.get(f"{ledger}/aggregate/balances").mock(return_value=ok({"PTS": 2})),
        "volumes": router.get(f"{ledger}/volumes").mock(return_value=cursor([])),
        "logs": router.get(f"{ledger}/logs").mock(return_value=cursor([{"id": 0}])),
        "bulk": router.post(f"{ledger}/_bulk").mock(
            return_value=ok([{"responseType": "CREATE_TRANSACTION", "data": tx_json(9, "earn:b")}])
        ),
    }


@pytest.mark.parametrize(
    ("url", "gateway", "root"),
    [
        (BASE, False, BASE),
        (f"{BASE}/proxy", False, f"{BASE}/proxy"),
        (BASE, True, f"{BASE}/api/ledger"),
        (f"{BASE}/api/ledger", True, f"{BASE}/api/ledger"),
    ],
)
def test_every_hot_path_call_is_built_by_hand_at_the_right_url(
    router: respx.Router, url: str, gateway: bool, root: str
) -> None:
    routes = _routes(router, root)
    with _no_sdk(make_client(router, url=url, gateway=gateway)) as client:
        assert client.post(make_plan(timestamp=PIT), schema_version="v1").id == 7
        assert client.revert(5, force=True, metadata={"b": "2", "a": "1"}, schema_version="v1").id == 8
        client.add_transaction_metadata(5, {"b": "2", "a": "1"}, schema_version="v1")
        assert client.get_transaction(5).id == 5
        assert client.find_by_reference("earn:a") is not None
        assert client.account("customers:1:points", pit=PIT).balance("PTS") == 2
        assert [a.address for a in client.accounts("customers::points")] == ["customers:1:points"]
        assert client.aggregate_balances("customers:...", pit=PIT, use_insertion_date=True) == {"PTS": 2}
        assert client.volumes("customers:...", start=PIT, end=PIT, group_by=2, insertion_date=True) == []
        assert [entry["id"] for entry in client.logs()] == [0]
        assert [tx.id for tx in client.post_many([make_plan("earn:b")], schema_version="v1", looked_up=True)] == [9]

    def only(name: str) -> httpx.Request:
        assert routes[name].call_count == 1, name
        return routes[name].calls.last.request

    post = only("post")
    assert str(post.url) == f"{root}/v2/loyalty/transactions?schemaVersion=v1"
    assert post.headers["Content-Type"] == "application/json" and post.headers["Accept"] == "application/json"
    assert post.headers["Idempotency-Key"].startswith("loyalty:earn:order-1#")
    assert post.content.startswith(b'{"metadata":{"command_hash":"hash-1",')
    assert body_of(post)["timestamp"] == PIT_TEXT

    revert = only("revert")
    assert revert.url.params.multi_items() == [("force", "true"), ("schemaVersion", "v1")]
    assert revert.content == b'{"metadata":{"a":"1","b":"2"}}'
    assert revert.headers["Idempotency-Key"].startswith("loyalty:revert:5#")

    metadata = only("metadata")
    assert metadata.url.params.multi_items() == [("schemaVersion", "v1")]
    assert metadata.content == b'{"a":"1","b":"2"}'
    assert metadata.headers["Idempotency-Key"].startswith("loyalty:meta:5:")

    assert only("transaction").content == b"" and "Content-Type" not in only("transaction").headers
    lookup = only("transactions")
    assert lookup.url.params.multi_items() == [("pageSize", "1"), ("reverse", "true")]
    assert body_of(lookup) == {"$match": {"reference": "earn:a"}}
    assert only("account").url.params.multi_items() == [("expand", "effectiveVolumes"), ("pit", PIT_TEXT)]
    assert only("accounts").url.params.multi_items() == [("expand", "effectiveVolumes"), ("pageSize", str(PAGE_SIZE))]
    assert body_of(only("accounts")) == {"$match": {"address": "customers::points"}}
    assert only("balances").url.params.multi_items() == [("pit", PIT_TEXT), ("useInsertionDate", "true")]
    assert body_of(only("balances")) == {"$match": {"address": "customers:..."}}
    assert only("volumes").url.params.multi_items() == [
        ("endTime", PIT_TEXT),
        ("groupBy", "2"),
        ("insertionDate", "true"),
        ("pageSize", str(PAGE_SIZE)),
        ("startTime", PIT_TEXT),
    ]
    assert only("logs").url.params.multi_items() == [("pageSize", str(PAGE_SIZE)), ("sort", "id:asc")]
    assert body_of(only("logs")) == {}
    bulk = only("bulk")
    assert bulk.url.params.multi_items() == [("continueOnFailure", "true"), ("schemaVersion", "v1")]
    [element] = body_of(bulk)
    assert list(element) == ["action", "data", "ik"] and element["action"] == "CREATE_TRANSACTION"
    assert element["ik"].startswith("loyalty:earn:b#") and element["data"]["reference"] == "earn:b"
    assert bulk.headers["Content-Type"] == "application/json"
    # one element: the connection's timeout plus the per-element allowance
    assert bulk.extensions["timeout"]["read"] == pytest.approx(bulk_timeout_s(client.connection.timeout_s, 1))


def test_the_hot_path_hands_requests_to_the_transport_not_the_client(
    router: respx.Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_client_send(*_args: Any, **_kwargs: Any) -> httpx.Response:
        raise AssertionError("the hot path went through httpx.Client.send")

    monkeypatch.setattr(httpx.Client, "send", no_client_send)
    router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))
    router.get(f"{TX_URL}/5").mock(return_value=ok(tx_json(5, "")))
    with _no_sdk(make_client(router, timeout_s=12.5)) as client:
        assert client.post(make_plan(), schema_version="v1").id == 7
        assert client.get_transaction(5).id == 5
    post = router.calls[0].request
    # the connection's timeout travels with the request, as the client would have set it
    assert post.extensions["timeout"] == {"connect": 12.5, "read": 12.5, "write": 12.5, "pool": 12.5}
    assert router.calls[0].response.is_closed


def test_with_a_proxy_in_the_environment_requests_go_through_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty_accounts.ledger import LedgerConnection

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    direct = LedgerClient(LedgerConnection(url=BASE, ledger="loyalty"))
    assert isinstance(direct._transport._wire, httpx.HTTPTransport)
    direct.close()
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    proxied = LedgerClient(LedgerConnection(url=BASE, ledger="loyalty"))
    # None: each attempt is sent by the client, which mounted the proxy the environment names
    assert proxied._transport._wire is None
    sent: list[httpx.Request] = []

    def send(_client: httpx.Client, request: httpx.Request, **_kwargs: Any) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": tx_json(5, "")}, request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    assert proxied.get_transaction(5).id == 5
    assert [str(r.url) for r in sent] == [f"{TX_URL}/5"]
    proxied.close()


def test_a_revert_without_metadata_sends_no_body(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/5/revert").mock(return_value=ok(tx_json(8, ""), status=201))
    with make_client(router) as client:
        client.revert(5)
    request = route.calls.last.request
    assert request.content == b"" and not request.url.params and "Content-Type" not in request.headers


def test_next_pages_carry_only_the_cursor_and_the_page_size(router: respx.Router) -> None:
    route = router.get(f"{BASE}/v2/loyalty/volumes").mock(
        side_effect=[cursor([], next_cursor="v-1"), cursor([], next_cursor="v-2"), cursor([])]
    )
    with make_client(router) as client:
        client.volumes("customers:...", end=PIT)
    first, second, third = (call.request for call in route.calls)
    assert first.url.params.multi_items() == [("endTime", PIT_TEXT), ("pageSize", str(PAGE_SIZE))]
    assert second.url.params.multi_items() == [("cursor", "v-1"), ("pageSize", str(PAGE_SIZE))]
    assert third.url.params["cursor"] == "v-2" and body_of(second) == {} and body_of(third) == {}


def test_a_kept_url_carries_exactly_the_params_of_its_request(router: respx.Router) -> None:
    # URLs are parsed once per path and params: the same read twice, then with another page
    # cursor, each goes out with its own query.
    route = router.get(f"{BASE}/v2/loyalty/volumes").mock(
        side_effect=[cursor([]), cursor([]), cursor([], next_cursor="v-9"), cursor([])]
    )
    with make_client(router) as client:
        client.volumes("customers:...", end=PIT)
        client.volumes("customers:...", end=PIT)
        client.volumes("customers:...", end=PIT + timedelta(days=1))
    sent = [call.request.url.params.multi_items() for call in route.calls]
    assert sent[0] == sent[1] == [("endTime", PIT_TEXT), ("pageSize", str(PAGE_SIZE))]
    assert sent[2] == [("endTime", "2026-06-02T00:03:04.567891Z"), ("pageSize", str(PAGE_SIZE))]
    assert sent[3] == [("cursor", "v-9"), ("pageSize", str(PAGE_SIZE))]


def test_metadata_written_twice_has_the_same_idempotency_key(router: respx.Router) -> None:
    route = router.post(f"{TX_URL}/5/metadata").mock(return_value=httpx.Response(204))
    with make_client(router) as client:
        client.add_transaction_metadata(5, {"a": "1", "b": "2"})
        client.add_transaction_metadata(5, {"b": "2", "a": "1"})
        client.add_transaction_metadata(5, {"a": "1", "b": "3"})
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys[0] == keys[1] != keys[2]


# -- OAuth2 through the SDK's hook ---------------------------------------------------


def test_oauth_scopes_follow_the_sdk_and_a_401_drops_the_token(router: respx.Router) -> None:
    client_id = f"hand-{uuid.uuid4().hex}"  # the SDK caches tokens per credentials, process-wide
    tokens = iter(["tok-read", "tok-write", "tok-read-2"])
    token = router.post("http://auth.test/oauth/token").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"access_token": next(tokens), "token_type": "Bearer", "expires_in": 3600}
        )
    )
    account = router.get(f"{BASE}/v2/loyalty/accounts/customers:1:points").mock(
        side_effect=[ok(ACCOUNT), httpx.Response(401, json={"errorCode": "UNAUTHORIZED", "errorMessage": "expired"}), ok(ACCOUNT)]
    )
    post = router.post(TX_URL).mock(return_value=ok(tx_json(7, "earn:order-1")))

    with make_client(
        router, client_id=client_id, client_secret="s3cret", token_url="http://auth.test/oauth/token"
    ) as client:
        client.account("customers:1:points")
        client.post(make_plan())
        with pytest.raises(LedgerRejected):  # a 401 is an answer, not retried
            client.account("customers:1:points")
        client.account("customers:1:points")

    scopes = [parse_qs(call.request.content.decode())["scope"] for call in token.calls]
    assert scopes == [["ledger:read"], ["ledger:write"], ["ledger:read"]]
    used = [call.request.headers["Authorization"] for call in account.calls]
    assert used == ["Bearer tok-read", "Bearer tok-read", "Bearer tok-read-2"]
    assert post.calls.last.request.headers["Authorization"] == "Bearer tok-write"


def test_a_refused_token_request_is_an_unauthorized_refusal(router: respx.Router) -> None:
    router.post("http://auth.test/oauth/token").mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    ledger = router.get(f"{BASE}/v2/loyalty/accounts/customers:1:points").mock(return_value=ok(ACCOUNT))
    with make_client(
        router, client_id=f"bad-{uuid.uuid4().hex}", client_secret="x", token_url="http://auth.test/oauth/token"
    ) as client, pytest.raises(LedgerRejected) as caught:
        client.account("customers:1:points")
    assert caught.value.code == "UNAUTHORIZED" and ledger.call_count == 0


# -- errors on the hand-built path -----------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected", "code"),
    [
        (error(404, "NOT_FOUND", "account not found"), UnknownEntity, "NOT_FOUND"),
        (error(404, "LEDGER_NOT_FOUND", "ledger not found"), UnknownEntity, "LEDGER_NOT_FOUND"),
        (httpx.Response(400, text="bad request"), LedgerRejected, "HTTP_400"),
        (httpx.Response(409), DuplicateOperation, "CONFLICT"),
    ],
)
def test_refusals_of_a_read_are_mapped_and_name_the_request(
    router: respx.Router, answer: httpx.Response, expected: type[LoyaltyError], code: str
) -> None:
    route = router.get(f"{BASE}/v2/loyalty/accounts/customers:1:points").mock(return_value=answer)
    with make_client(router) as client, pytest.raises(LoyaltyError) as caught:
        client.account("customers:1:points")
    assert type(caught.value) is expected and caught.value.code == code
    assert "GET /v2/loyalty/accounts/customers:1:points" in caught.value.message
    assert route.call_count == 1
    if code == "LEDGER_NOT_FOUND":
        assert caught.value.message.startswith(f"ledger 'loyalty' does not exist at {BASE} (")


def test_a_missing_ledger_tells_the_cli_user_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    from loyalty_accounts.cli.shell import run_guarded

    def read() -> None:
        raise UnknownEntity("ledger 'loyalty' does not exist at http://ledger.test (...)", code="LEDGER_NOT_FOUND")

    with pytest.raises(typer.Exit) as stopped:
        run_guarded(read)
    assert stopped.value.exit_code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ledger 'loyalty' does not exist at http://ledger.test")
    assert "create it with `loyalty init`, or name another with --ledger" in line


def test_a_refusal_after_a_transient_failure_is_the_refusal(router: respx.Router) -> None:
    route = router.get(f"{TX_URL}/5").mock(
        side_effect=[httpx.Response(503, text="restarting"), error(404, "NOT_FOUND", "no transaction 5")]
    )
    with make_client(router) as client, pytest.raises(UnknownEntity) as caught:
        client.get_transaction(5)
    assert route.call_count == 2 and caught.value.code == "NOT_FOUND"
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_chart_changed_since_init_tells_the_cli_user_to_run_init(router: respx.Router, capsys: pytest.CaptureFixture[str]) -> None:
    from loyalty_accounts.cli.shell import run_guarded

    # v2.4.12's answer to a post naming a schema version the ledger does not have
    router.post(TX_URL).mock(
        return_value=error(404, "NOT_FOUND", "unexpected error while forging log: schema version `coa-new` not found, latest available version is `coa-old`")
    )
    router.get(TX_URL).mock(return_value=cursor([]))
    with make_client(router) as client, pytest.raises(typer.Exit) as stopped:
        run_guarded(lambda: client.post(make_plan(), schema_version="coa-new"))
    assert stopped.value.exit_code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "schema version `coa-new` not found" in line and line.endswith("run `loyalty init` to apply this chart as a new schema version")
