"""The HTTP API served on loopback for a test: ``with running_api(...) as api: httpx.post(api.url + ...)``.

The server is the project's own (:func:`loyalty_accounts.api.serving.build_context`, :func:`create_api`)
under uvicorn in a thread of the test's process, against the session's ledger server and the test's
registry database; :meth:`RunningApi.key` makes API keys straight in that registry.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Sequence

import httpx
import uvicorn

from loyalty_accounts.api.keys import ApiKeys, KeyStore
from loyalty_accounts.api.serving import build_context
from loyalty_accounts.api.server import create_api
from loyalty_accounts.members import new_key_text
from loyalty_accounts.registry import open_database
from loyalty_accounts.settings import load_settings


class RunningApi:
    def __init__(self, url: str, registry_url: str) -> None:
        self.url = url
        self._registry_url = registry_url

    def key(
        self, programme: str, *scopes: str, member: str | None = None, expires_in: timedelta = timedelta(days=1),
        partners: Sequence[str] | None = None,
    ) -> str:
        """A new API key's text for ``programme`` with ``scopes``."""

        keys = ApiKeys(KeyStore(open_database(self._registry_url)))
        try:
            now = datetime.now(timezone.utc)
            _, text = keys.create(
                programme=programme, scopes=scopes, label="test", expires_at=now + expires_in, now=now, member=member, partners=partners
            )
            return text
        finally:
            keys.close()

    def revoke(self, text: str) -> None:
        keys = ApiKeys(KeyStore(open_database(self._registry_url)))
        try:
            key_id = text.split("_")[1]
            programme = next(k.programme for k in keys.keys() if k.key_id == key_id)
            keys.revoke(key_id, datetime.now(timezone.utc), programme=programme)
        finally:
            keys.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_api(ledger_url: str, registry_url: str, ledger: str, *, programmes_file: Path | None = None) -> Iterator[RunningApi]:
    """Serve the API for ``ledger`` (or the programmes of ``programmes_file``) until the block ends."""

    settings = load_settings(ledger_url=ledger_url, ledger_name=ledger, registry_url=registry_url, registry_key=new_key_text())
    context = build_context(settings, programmes_file)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(context), host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/v1/openapi.json", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield RunningApi(url, registry_url)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        context.close()
