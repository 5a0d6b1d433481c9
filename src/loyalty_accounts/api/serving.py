"""Running the API under uvicorn: ``loyalty serve``.

Bound to 127.0.0.1 unless told otherwise. On SIGTERM or Ctrl-C uvicorn stops accepting connections and
lets the requests in flight finish (up to :data:`GRACEFUL_S` seconds): a write that reached the ledger
gets its answer, and its idempotency record, before the process ends.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

import uvicorn

from ..app import LocalRegistry, registry_location
from ..errors import LedgerUnavailable
from ..registry import open_database
from ..settings import Settings
from .context import ApiContext
from .programmes import Programmes, load_programmes
from .server import REQUEST_TIMEOUT_S, create_api

__all__ = ["GRACEFUL_S", "build_context", "serve"]

GRACEFUL_S = 30
"""Seconds in-flight requests get to finish after SIGTERM."""
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 100
"""Concurrent connections beyond this are answered 503 by uvicorn."""


def build_context(
    settings: Settings,
    programmes_file: Path | None,
    *,
    find_ledger: Callable[[], str] | None = None,
    find_registry: Callable[[], LocalRegistry] | None = None,
) -> ApiContext:
    """The server's context: its programmes, the ledger's URL and the registry database (checked and migrated now).

    Raises InvalidCommand (the programmes file), LedgerUnavailable (no ledger URL), RegistryUnavailable.
    """

    programmes = load_programmes(settings, programmes_file)
    if not settings.ledger_url:
        if find_ledger is None:
            raise LedgerUnavailable("no ledger to serve: set LOYALTY_LEDGER_URL or run `loyalty ledger up`")
        settings = settings.model_copy(update={"ledger_url": find_ledger()})
    url, _, create = registry_location(settings, find_registry)
    open_database(url, create=create).close()
    return ApiContext(settings, Programmes(settings, programmes), lambda: open_database(url))


class _Server(uvicorn.Server):
    """uvicorn's server, but a stop by SIGTERM or Ctrl-C returns from :meth:`run` (uvicorn raises the signal
    again once it has shut down, which killed the process before ``serve`` could close its context and exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(context: ApiContext, *, host: str, port: int, request_timeout_s: float = REQUEST_TIMEOUT_S) -> None:
    """Serve ``context`` on ``host:port`` until SIGTERM or Ctrl-C (in-flight requests finish first)."""

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    api_log = logging.getLogger("loyalty_accounts.api")
    api_log.addHandler(handler)
    api_log.setLevel(logging.INFO)
    api_log.propagate = False
    config = uvicorn.Config(
        create_api(context, request_timeout_s=request_timeout_s),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_S,
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=MAX_CONNECTIONS,
        server_header=False,
    )
    try:
        _Server(config).run()
    finally:
        context.close()
        api_log.removeHandler(handler)
