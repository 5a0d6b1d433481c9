"""The wire recorder counts and keeps what reaches httpx's transports, skips ignored ones, and uninstalls itself."""

from __future__ import annotations

import httpx

from loyalty_accounts.testing.bench_raw import RawLedger
from loyalty_accounts.testing.bench_wire import Recorder, is_bulk_post, is_transaction_post


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/transactions") and request.method == "POST":
        return httpx.Response(400 if b"bad" in request.content else 200, json={})
    return httpx.Response(200, json={"cursor": {"data": []}})


def test_recorder_counts_keeps_and_restores() -> None:
    original = httpx.MockTransport.handle_request, httpx.HTTPTransport.handle_request
    mine = httpx.Client(transport=httpx.MockTransport(_answer), base_url="http://ledger")
    ignored = httpx.MockTransport(_answer)
    other = httpx.Client(transport=ignored, base_url="http://ledger")
    with Recorder(ignore=[ignored]) as recorder:
        mine.get("/v2/l1/accounts", params={"pageSize": 1})
        mine.post("/v2/l1/transactions", params={"schemaVersion": "v1"}, content=b'{"ok":1}', headers={"Idempotency-Key": "k1"})
        mine.post("/v2/l1/transactions", content=b'{"bad":1}')
        other.post("/v2/l1/transactions", content=b"{}")
        assert recorder.requests == 3
        assert recorder.counts == {"GET accounts": 1, "POST transactions": 2}
        [accepted] = recorder.accepted_posts()
        assert accepted.content == b'{"ok":1}' and accepted.idempotency_key == "k1" and accepted.query == b"schemaVersion=v1"
        recorder.reset()
        assert recorder.requests == 0 and recorder.sent == []
    assert (httpx.MockTransport.handle_request, httpx.HTTPTransport.handle_request) == original


def test_recorder_sink_takes_accepted_posts() -> None:
    client = httpx.Client(transport=httpx.MockTransport(_answer), base_url="http://ledger")
    sunk = []
    with Recorder(sink=sunk.append) as recorder:
        client.post("/v2/l1/transactions", content=b"{}")
        client.get("/v2/l1/accounts")
    assert [s.path for s in sunk] == ["/v2/l1/transactions"]
    assert [s.path for s in recorder.sent] == ["/v2/l1/accounts"]


def test_route_kinds_and_raw_paths() -> None:
    with Recorder() as recorder:
        client = httpx.Client(transport=httpx.MockTransport(_answer), base_url="http://ledger")
        client.post("/v2/l1/_bulk", content=b"[]")
        client.post("/v2/l1/transactions", content=b"{}")
    bulk, post = recorder.sent
    assert is_bulk_post(bulk) and not is_transaction_post(bulk)
    assert is_transaction_post(post) and not is_bulk_post(post)
    raw = RawLedger("http://ledger", "other")
    assert raw.path(post) == "/v2/other/transactions"
    raw.close()


def test_recorder_counts_posts_in_flight_apart_from_reads() -> None:
    import threading

    inside = threading.Barrier(2, timeout=5)

    def slow(request: httpx.Request) -> httpx.Response:
        inside.wait()  # a read and a post are on the wire together
        return _answer(request)

    client = httpx.Client(transport=httpx.MockTransport(slow), base_url="http://ledger")
    with Recorder() as recorder:
        reader = threading.Thread(target=lambda: client.get("/v2/l1/accounts"))
        reader.start()
        client.post("/v2/l1/transactions", content=b"{}")
        reader.join()
        assert (recorder.peak_in_flight, recorder.peak_posts_in_flight) == (2, 1)
        assert (recorder.in_flight, recorder.posts_in_flight) == (0, 0)


def test_recorder_sees_requests_handed_to_a_transport_directly() -> None:
    transport = httpx.MockTransport(_answer)
    with Recorder() as recorder:
        request = httpx.Request("POST", "http://ledger/v2/l1/transactions", content=b"{}", headers={"Idempotency-Key": "k2"})
        assert transport.handle_request(request).status_code == 200
    [sent] = recorder.accepted_posts()
    assert sent.idempotency_key == "k2" and recorder.counts == {"POST transactions": 1}
