"""Fixtures for the integration suite: a real Formance Ledger on a real PostgreSQL.

The server is brought up once per session by the project's own bring-up code
(``LocalStack``) in a throw-away state folder, or taken from
``LOYALTY_LEDGER_URL`` when the developer already runs one. Each test gets a
ledger of its own, so tests never see each other's transactions.

The one condition under which ledger-backed tests do not run is the one the
project cannot fix from here: the Go module proxy refusing to serve the
Formance Ledger module. That is reported as a skip carrying the exact ``go``
error, never silently; every other failure to bring the server up is an error.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from loyalty_accounts.errors import LedgerBuildRefused
from loyalty_accounts.local import LocalStack

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
    except LedgerBuildRefused as exc:
        stack.destroy()
        pytest.skip(f"BLOCKED: no Formance Ledger server can be built on this machine: {exc.message}")
    assert status.url and status.running, status
    try:
        yield status.url
    finally:
        stack.destroy()


@pytest.fixture
def ledger_name() -> str:
    return f"t{uuid.uuid4().hex[:12]}"
