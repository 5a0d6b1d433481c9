"""Fixtures for the ledger adapter tests: a respx router standing in for the server."""

from __future__ import annotations

import pytest
import respx


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)
