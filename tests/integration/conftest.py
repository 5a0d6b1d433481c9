"""Fixtures for the integration suite: a real Formance Ledger on a real PostgreSQL.

The server is brought up once per session by the project's own bring-up code
(``LocalStack``) in a throw-away state folder, or taken from
``LOYALTY_LEDGER_URL`` when the developer already runs one. Each test gets a
ledger of its own, so tests never see each other's transactions.

The server binary is found as ``loyalty ledger up`` finds it (an installed
v2.4.12 on ``PATH`` or in ``~/.local/bin``, the cached build, a build from the
module proxy; ``LOYALTY_LEDGER_BIN`` first). The one condition under which
ledger-backed tests do not run is that none of these yields a server: no
installed v2.4.12 binary and no build possible (no Go, or the Go module proxy
refusing to serve the Formance Ledger module). That is reported as a skip
starting ``BLOCKED:`` that says what was searched and the exact ``go`` error,
never silently; every other failure to bring the server up is an error.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from loyalty_accounts.errors import LedgerServerNotFound
from loyalty_accounts.ledger import LedgerClient, LedgerConnection
from loyalty_accounts.local import LocalStack
from loyalty_accounts.local.paths import LEDGER_VERSION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def local_stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loyalty-state")


@pytest.fixture(scope="session")
def ledger_url(local_stack_dir: Path) -> Iterator[str]:
    external = os.environ.get("LOYALTY_LEDGER_URL")
    if external:
        yield external.rstrip("/")
        return
    stack = LocalStack(local_stack_dir)
    try:
        status = stack.up()
    except LedgerServerNotFound as exc:  # LedgerBuildRefused is one
        stack.destroy()
        pytest.skip(f"BLOCKED: no Formance Ledger {LEDGER_VERSION} server is installed or can be built on this machine: {exc.message}")
    assert status.url and status.running, status
    try:
        yield status.url
    finally:
        stack.destroy()


@pytest.fixture
def ledger_name() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(ledger_url: str, ledger_name: str) -> Iterator[LedgerClient]:
    """A client of the test's own ledger; the trial balance must be zero for every asset when the test ends."""

    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as c:
        yield c
        trial = c.aggregate_balances("")
        assert all(v == 0 for v in trial.values()), f"trial balance broken: {trial}"


RACING_CLIENTS = 20
"""How many ledger clients the ``clients`` fixture opens."""


@pytest.fixture
def clients(ledger_url: str, ledger_name: str) -> Iterator[list[LedgerClient]]:
    """RACING_CLIENTS clients of the test's ledger, one per racer: nothing in the process makes them take turns."""

    opened = [LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) for _ in range(RACING_CLIENTS)]
    try:
        yield opened
    finally:
        for c in opened:
            c.close()


@pytest.fixture(scope="session")
def postgres_admin_uri(ledger_url: str, local_stack_dir: Path) -> str:
    """The URI of the session's PostgreSQL (the local stack's cluster), as its owning role: it may create databases."""

    if os.environ.get("LOYALTY_LEDGER_URL"):
        pytest.skip("the session uses a ledger of LOYALTY_LEDGER_URL: there is no PostgreSQL of the session to make registries in")
    return LocalStack(local_stack_dir).postgres_uri()


@pytest.fixture
def registry_url(postgres_admin_uri: str) -> Iterator[str]:
    """A fresh, empty database of the session's cluster for one test's member registry; dropped afterwards."""

    name = f"reg_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(postgres_admin_uri)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_admin_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
