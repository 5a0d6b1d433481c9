"""The in-memory ledger proven equal to a real Formance Ledger, scenario by scenario.

Each scenario of ``support.scenarios`` runs on a fresh ``FakeLedger`` and on a
fresh ledger of the real server (through ``LedgerClient``), and the two lists
of answers are compared step by step, field by field. Without a server the
whole module is skipped by the integration fixtures: nothing is compared
against the fake itself.

Reads "as of" an instant mean the state *effective* at that instant on
both sides (the client asks the server for ``expand=effectiveVolumes``).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from support.fake_ledger import FakeLedger
from support.scenarios import SCENARIOS, Run

from loyalty_accounts.ledger import LedgerClient, LedgerConnection

pytestmark = pytest.mark.integration


def differences(fake: list[tuple[str, Any]], server: list[tuple[str, Any]]) -> list[str]:
    """One line per step whose answers differ (labels must match one to one)."""

    out = []
    for index in range(max(len(fake), len(server))):
        mine = fake[index] if index < len(fake) else ("<missing>", None)
        theirs = server[index] if index < len(server) else ("<missing>", None)
        if mine != theirs:
            out.append(f"step {index} {mine[0]!r} / {theirs[0]!r}:\n  fake:   {mine[1]!r}\n  server: {theirs[1]!r}")
    return out


@pytest.fixture
def server_ledger(ledger_url: str, ledger_name: str) -> Iterator[LedgerClient]:
    with LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name)) as client:
        yield client


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_fake_answers_as_the_server_does(name: str, server_ledger: LedgerClient) -> None:
    scenario = SCENARIOS[name]
    on_fake = Run(FakeLedger(ledger=server_ledger.ledger))
    scenario(on_fake)
    on_server = Run(server_ledger)
    scenario(on_server)

    assert len(on_fake.steps) > 10, "a scenario compares more than a handful of answers"
    diff = differences(on_fake.steps, on_server.steps)
    refusals = sum(1 for _, answer in on_server.steps if isinstance(answer, dict) and "refused" in answer)
    summary = f"{name}: {len(on_server.steps)} answers compared ({refusals} refusals), {len(diff)} differ"
    print(summary)
    assert not diff, summary + "\n" + "\n".join(diff)
