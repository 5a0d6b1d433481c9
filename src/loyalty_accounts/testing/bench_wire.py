"""The benchmark's eyes on the wire: every HTTP request the project sends, counted and kept.

:class:`Recorder` wraps ``handle_request`` of httpx's transports
(``httpx.HTTPTransport`` and ``httpx.MockTransport``) for the whole process
while it is installed, so it sees every request that reaches the wire, whether
an ``httpx.Client`` sent it (the SDK's cold paths) or the project's hot path
handed it to its transport directly, without reaching into the project's
private objects. Transports listed in ``ignore`` (those of the benchmark's own
raw clients, :attr:`~.bench_raw.RawLedger.transport`) are not seen.

For each request it keeps the method, the path, the query, the body bytes,
the ``Idempotency-Key`` header, the HTTP status and the thread that sent it
(:class:`Sent`); the raw side of the benchmark replays exactly the accepted
transaction posts (:meth:`Recorder.accepted_posts`). Keeping a request costs a
list append (about a microsecond), which is charged to the project's CPU.

``sink``: a callable to hand each accepted bulk or transaction post to instead
of keeping it (the import keeps the client's memory flat by writing them to a
file).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Sent", "Recorder", "is_transaction_post", "is_bulk_post"]


@dataclass(frozen=True)
class Sent:
    """One request as sent: ``path`` without host, ``query`` as sent, ``content`` the body bytes."""

    method: str
    path: str
    query: bytes
    content: bytes
    idempotency_key: str | None
    status: int
    thread: int

    @property
    def kind(self) -> str:
        """A short label for counting: ``POST transactions``, ``GET accounts``, ``POST _bulk``..."""

        parts = [p for p in self.path.split("/") if p]
        # /v2/{ledger}/{what}[/...]: the word after the ledger name says what it is.
        what = parts[2] if len(parts) > 2 else (parts[-1] if parts else "/")
        return f"{self.method} {what}"


def is_transaction_post(sent: Sent) -> bool:
    """A single transaction post: ``POST /v2/{ledger}/transactions``."""

    parts = [p for p in sent.path.split("/") if p]
    return sent.method == "POST" and len(parts) == 3 and parts[2] == "transactions"


def is_bulk_post(sent: Sent) -> bool:
    """A bulk post: ``POST /v2/{ledger}/_bulk``."""

    parts = [p for p in sent.path.split("/") if p]
    return sent.method == "POST" and len(parts) == 3 and parts[2] == "_bulk"


class Recorder:
    """Counts and keeps what the project sends while installed (a context manager; installs once per process)."""

    _TRANSPORTS: tuple[type[httpx.BaseTransport], ...] = (httpx.HTTPTransport, httpx.MockTransport)

    def __init__(self, *, ignore: Iterable[httpx.BaseTransport] = (), sink: Callable[[Sent], None] | None = None) -> None:
        self._ignore = {id(transport) for transport in ignore}
        self._sink = sink
        self._lock = threading.Lock()
        self.sent: list[Sent] = []
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        # Posts only: what a raw replay (posts, no reads) should run side by side to be like for like.
        self.posts_in_flight = 0
        self.peak_posts_in_flight = 0
        self._original: Any = None

    def ignore(self, transport: httpx.BaseTransport) -> None:
        """Do not see what ``transport`` sends (a raw client's: :attr:`~.bench_raw.RawLedger.transport`)."""

        self._ignore.add(id(transport))

    def reset(self) -> None:
        """Forget what was sent so far (counts, kept requests, peak concurrency)."""

        with self._lock:
            self.sent = []
            self.counts = Counter()
            self.peak_in_flight = self.in_flight
            self.peak_posts_in_flight = self.posts_in_flight

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    def accepted_posts(self) -> list[Sent]:
        """The transaction posts the server accepted (2xx), in the order they were answered."""

        return [s for s in self.sent if is_transaction_post(s) and 200 <= s.status < 300]

    def __enter__(self) -> Recorder:
        recorder = self
        originals = {cls: cls.handle_request for cls in self._TRANSPORTS}

        def wrapping(original: Callable[[Any, httpx.Request], httpx.Response]) -> Callable[[Any, httpx.Request], httpx.Response]:
            def handle_request(transport: Any, request: httpx.Request) -> httpx.Response:
                if id(transport) in recorder._ignore:
                    return original(transport, request)
                with recorder._lock:
                    recorder.in_flight += 1
                    recorder.peak_in_flight = max(recorder.peak_in_flight, recorder.in_flight)
                    if request.method == "POST":
                        recorder.posts_in_flight += 1
                        recorder.peak_posts_in_flight = max(recorder.peak_posts_in_flight, recorder.posts_in_flight)
                status = 0
                try:
                    response = original(transport, request)
                    status = response.status_code
                    return response
                finally:
                    recorder._note(request, status)

            return handle_request

        self._original = originals
        for cls, original in originals.items():
            cls.handle_request = wrapping(original)  # type: ignore[method-assign]
        return self

    def _note(self, request: httpx.Request, status: int) -> None:
        sent = Sent(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            content=request.content if request.method != "GET" or request.content else b"",
            idempotency_key=request.headers.get("Idempotency-Key"),
            status=status,
            thread=threading.get_ident(),
        )
        keep = self._sink is None or not (200 <= status < 300 and (is_transaction_post(sent) or is_bulk_post(sent)))
        with self._lock:
            self.in_flight -= 1
            if request.method == "POST":
                self.posts_in_flight -= 1
            self.counts[sent.kind] += 1
            if keep:
                self.sent.append(sent)
        if not keep and self._sink is not None:
            self._sink(sent)

    def __exit__(self, *exc_info: object) -> None:
        if self._original is not None:
            for cls, original in self._original.items():
                cls.handle_request = original  # type: ignore[method-assign]
            self._original = None
