"""A loopback HTTP/1.1 proxy that loses answers on purpose: the network faults a soak run injects.

:class:`FaultProxy` listens on ``127.0.0.1`` on a port the system picks and
forwards each request to the ledger, one upstream connection per request
(asked with ``Connection: close``, so the upstream answer ends when the
connection does). Every request IS forwarded and fully answered by the
server; then, decided by a seeded draw per request:

- ``drop``: the client connection is closed without a byte of the answer
  (the write happened; the caller cannot know);
- ``delay``: the answer is held ``delay_s`` seconds (set it past the client's
  timeout) before it is sent, by when the caller has usually given up;
- otherwise the answer is passed on unchanged.

The proxy runs its own asyncio loop in a daemon thread; ``with FaultProxy(...)
as proxy:`` starts and stops it, ``proxy.url`` is its address and
``proxy.faults`` counts what it did (``{"drop": n, "delay": m}``).
Requests are read with their ``Content-Length`` body (what httpx sends);
a chunked request body is not supported and is answered ``501``.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "Fault"]

Fault = Literal["drop", "delay", "none"]
_MAX_HEADER = 64 * 1024


class FaultProxy:
    """Forward to ``upstream`` (``http://host:port``), dropping a share ``drop`` and delaying a share ``delay`` of answers.

    ``seed`` makes the sequence of draws reproducible (the n-th request gets the
    n-th draw; which request is n-th depends on the callers' timing).
    """

    def __init__(self, upstream: str, *, seed: int, drop: float = 0.0, delay: float = 0.0, delay_s: float = 1.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://host[:port], got {upstream!r}")
        if not (0 <= drop and 0 <= delay and drop + delay <= 1):
            raise ValueError("drop and delay are shares: each at least 0, together at most 1")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._drop = drop
        self._delay = delay
        self._delay_s = delay_s
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._port_ready = threading.Event()
        self.port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:{port}`` once started."""
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._port_ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        """Stop listening, cancel the connections still open (a delayed answer is then never sent), end the loop."""

        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._port_ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    # -- faults ---------------------------------------------------------------

    def draw(self) -> Fault:
        """The next fault: ``drop``, ``delay`` or ``none``, from the seeded sequence (and counted)."""

        with self._lock:
            self.requests += 1
            x = self._random.random()
            fault: Fault = "drop" if x < self._drop else "delay" if x < self._drop + self._delay else "none"
            if fault != "none":
                self.faults[fault] += 1
            return fault

    # -- one client connection ----------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if request is _CHUNKED:
                    writer.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
                answer = await self._forward(request)
                fault = self.draw()
                if fault == "drop":
                    return
                if fault == "delay":
                    await asyncio.sleep(self._delay_s)
                writer.write(answer)
                await writer.drain()
                return  # the upstream answer said Connection: close
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            writer.close()

    async def _forward(self, request: bytes) -> bytes:
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        try:
            up_writer.write(request)
            await up_writer.drain()
            return await up_reader.read(-1)
        finally:
            up_writer.close()


_CHUNKED = b"chunked"


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request, re-headed ``Connection: close``; None at end of stream, :data:`_CHUNKED` for a chunked body."""

    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        return None
    if len(head) > _MAX_HEADER:
        return None
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            return _CHUNKED
        if lowered in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    kept.append(b"Connection: close")
    body = await reader.readexactly(length) if length else b""
    return b"\r\n".join(kept) + b"\r\n\r\n" + body
