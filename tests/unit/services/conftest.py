"""Fixtures for the service tests: a fresh in-memory ledger whose scripts run in Formance's interpreter."""

from __future__ import annotations

import pytest
from support.fake_ledger import FakeLedger


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()
