"""The soak's fault proxy: answers passed on, dropped after the server answered, or delayed past a timeout."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest

from loyalty_accounts.testing.proxy import FaultProxy


class _Counter(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        answer = b'{"n": %d}' % len(type(self).received)
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    _Counter.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_answers_pass_unchanged_without_faults(upstream: str) -> None:
    with FaultProxy(upstream, seed=1) as proxy, httpx.Client(base_url=proxy.url) as client:
        for n in (1, 2, 3):
            assert client.post("/x", content=b"body%d" % n).json() == {"n": n}
    assert _Counter.received == [b"body1", b"body2", b"body3"]
    assert proxy.requests == 3 and sum(proxy.faults.values()) == 0


def test_a_dropped_answer_was_still_processed_by_the_server(upstream: str) -> None:
    with FaultProxy(upstream, seed=1, drop=1.0) as proxy, httpx.Client(base_url=proxy.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/x", content=b"lost")
    assert _Counter.received == [b"lost"]
    assert proxy.faults["drop"] == 1


def test_a_delayed_answer_outlives_the_client_timeout(upstream: str) -> None:
    with FaultProxy(upstream, seed=1, delay=1.0, delay_s=0.5) as proxy, httpx.Client(base_url=proxy.url, timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/x", content=b"late")
    assert _Counter.received == [b"late"]
    assert proxy.faults["delay"] == 1


def test_the_draws_follow_the_seed() -> None:
    def draws(seed: int) -> list[str]:
        proxy = FaultProxy("http://127.0.0.1:9", seed=seed, drop=0.3, delay=0.2)
        return [proxy.draw() for _ in range(200)]

    first = draws(5)
    assert first == draws(5) and first != draws(6)
    assert 30 < first.count("drop") < 90 and 15 < first.count("delay") < 65


def test_shares_are_checked() -> None:
    with pytest.raises(ValueError):
        FaultProxy("http://127.0.0.1:9", seed=1, drop=0.7, delay=0.4)
    with pytest.raises(ValueError):
        FaultProxy("https://example.invalid", seed=1)
