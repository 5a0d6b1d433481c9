"""The in-memory ledger proven equal to a real Formance Ledger, scenario by scenario.

Each scenario of ``support.scenarios`` runs on a fresh ``FakeLedger`` and on a
fresh ledger of the real server (through ``LedgerClient``), and the two lists
of answers are compared step by step, field by field. Without a server the
whole module is skipped by the integration fixtures: nothing is compared
against the fake itself.

Reads "as of" an instant: the port means the state *effective* at that
instant. ``account()``/``accounts()`` with ``pit`` are therefore taken here
from the server's ``expand=effectiveVolumes`` (``internal/storage/ledger/
resource_accounts.go``: ``volumes`` at a pit follow insertion order,
``effectiveVolumes`` the transaction dates) whatever the client asks for;
every other read goes through the client as it is.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

import httpx
import pytest
from support.fake_ledger import FakeLedger
from support.scenarios import SCENARIOS, Run

from loyalty_accounts.errors import UnknownEntity
from loyalty_accounts.ledger_client import PAGE_SIZE, LedgerClient, LedgerConnection
from loyalty_accounts.types import AccountState, Volume

pytestmark = pytest.mark.integration


class EffectiveAsOf:
    """A LedgerClient whose account reads at a ``pit`` return the server's effective volumes."""

    def __init__(self, client: LedgerClient, url: str) -> None:
        self._client = client
        self._http = httpx.Client(base_url=f"{url}/v2/{client.ledger}", timeout=30)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def close(self) -> None:
        self._http.close()

    def account(self, address: str, *, pit: datetime | None = None) -> AccountState:
        if pit is None:
            return self._client.account(address)
        response = self._http.get(f"/accounts/{address}", params={"expand": "effectiveVolumes", "pit": _rfc3339(pit)})
        if response.status_code == 404:
            raise UnknownEntity(f"account {address} not found at {pit}", code="NOT_FOUND")
        response.raise_for_status()
        return _account(response.json()["data"])

    def accounts(self, address_filter: str, *, pit: datetime | None = None) -> Iterator[AccountState]:
        if pit is None:
            return self._client.accounts(address_filter)
        return self._effective_accounts(address_filter, pit)

    def _effective_accounts(self, address_filter: str, pit: datetime) -> Iterator[AccountState]:
        params: dict[str, Any] = {"expand": "effectiveVolumes", "pit": _rfc3339(pit), "pageSize": PAGE_SIZE}
        body: dict[str, Any] | None = {"$match": {"address": address_filter}}
        while True:
            response = self._http.request("GET", "/accounts", params=params, json=body)
            response.raise_for_status()
            page = response.json()["cursor"]
            yield from (_account(item) for item in page["data"])
            if not page.get("hasMore"):
                return
            params, body = {"cursor": page["next"]}, None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _account(data: dict[str, Any]) -> AccountState:
    volumes = data.get("effectiveVolumes") or {}
    return AccountState(
        address=data["address"],
        metadata=data.get("metadata") or {},
        volumes={asset: Volume(input=int(v["input"]), output=int(v["output"])) for asset, v in volumes.items()},
    )


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
def server_ledger(ledger_url: str, ledger_name: str) -> Iterator[EffectiveAsOf]:
    client = LedgerClient(LedgerConnection(url=ledger_url, ledger=ledger_name))
    wrapped = EffectiveAsOf(client, ledger_url)
    try:
        yield wrapped
    finally:
        wrapped.close()
        client.close()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_fake_answers_as_the_server_does(name: str, server_ledger: EffectiveAsOf) -> None:
    scenario = SCENARIOS[name]
    on_fake = Run(FakeLedger(ledger=server_ledger.ledger))
    scenario(on_fake)
    on_server = Run(server_ledger)  # type: ignore[arg-type]
    scenario(on_server)

    assert len(on_fake.steps) > 10, "a scenario compares more than a handful of answers"
    diff = differences(on_fake.steps, on_server.steps)
    refusals = sum(1 for _, answer in on_server.steps if isinstance(answer, dict) and "refused" in answer)
    summary = f"{name}: {len(on_server.steps)} answers compared ({refusals} refusals), {len(diff)} differ"
    print(summary)
    assert not diff, summary + "\n" + "\n".join(diff)
