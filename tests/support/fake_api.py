"""In-memory stand-ins for the API's registry tables and its context, for unit tests of :mod:`loyalty_accounts.api`.

:class:`FakeKeyStore` and :class:`FakeIdempotencyStore` keep ``api_keys`` and ``api_idempotency`` as
dictionaries with the SQL stores' answers (``registry/migrations/0003_api_access.sql``);
:class:`FakeApiContext` is an :class:`~loyalty_accounts.api.context.ApiContext` over them and one
:class:`~loyalty_accounts.app.App` per programme (on a :class:`~support.fake_ledger.FakeLedger`), so
``create_api`` runs with no database and no ledger server.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator, Mapping

from loyalty_accounts.api.context import ApiContext
from loyalty_accounts.api.idempotency import LEASE, Begun
from loyalty_accounts.api.keys import ApiKey, ApiKeys
from loyalty_accounts.api.programmes import Programme, Programmes
from loyalty_accounts.app import App
from loyalty_accounts.errors import RegistryUnavailable, UnknownEntity
from loyalty_accounts.settings import Settings


class FakeKeyStore:
    """``api_keys`` as a dictionary: key id → (the key, SHA-256 of its secret). ``down``: every transaction fails."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[ApiKey, bytes]] = {}
        self.down = False
        self.closed = False
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.down:
            raise RegistryUnavailable("member registry unavailable: connection refused")
        self.transactions += 1
        saved = dict(self.rows)
        try:
            yield
        except BaseException:
            self.rows = saved
            raise

    def close(self) -> None:
        self.closed = True

    def add(self, key: ApiKey, digest: bytes) -> None:
        assert key.key_id not in self.rows, "key_id is the table's primary key"
        self.rows[key.key_id] = (key.model_copy(update={"revoked_at": None}), digest)

    def find(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        return self.rows.get(key_id)

    def keys(self, programme: str | None) -> list[ApiKey]:
        found = [key for key, _ in self.rows.values() if programme is None or key.programme == programme]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))

    def revoke(self, key_id: str, at: datetime) -> bool:
        found = self.rows.get(key_id)
        if found is None or found[0].revoked_at is not None:
            return False
        self.rows[key_id] = (found[0].model_copy(update={"revoked_at": at}), found[1])
        return True


@dataclass
class IdempotencyRow:
    digest: bytes
    operation: str
    business_key: str
    state: str
    started_at: datetime
    status: int | None = None
    response: bytes | None = None


class FakeIdempotencyStore:
    """``api_idempotency`` as a dictionary keyed by (programme, API key id, Idempotency-Key), deciding as
    :meth:`loyalty_accounts.api.idempotency.IdempotencyStore.begin` does."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], IdempotencyRow] = {}

    def begin(
        self, *, programme: str, key_id: str, key: str, digest: bytes, operation: str, business_key: str, now: datetime
    ) -> Begun:
        row = self.rows.get((programme, key_id, key))
        if row is None:
            self.rows[(programme, key_id, key)] = IdempotencyRow(digest, operation, business_key, "in_progress", now)
            return Begun("new")
        if row.digest != digest:
            return Begun("conflict", operation=row.operation, business_key=row.business_key)
        if row.state == "done":
            return Begun("replay", status=row.status, response=row.response)
        if row.started_at > now - LEASE:
            return Begun("busy", operation=row.operation, business_key=row.business_key)
        row.started_at = now
        return Begun("new")

    def finish(self, *, programme: str, key_id: str, key: str, status: int, response: bytes, now: datetime) -> None:
        row = self.rows[(programme, key_id, key)]
        row.state, row.status, row.response = "done", status, response

    def release(self, *, programme: str, key_id: str, key: str) -> None:
        row = self.rows.get((programme, key_id, key))
        if row is not None and row.state == "in_progress":
            del self.rows[(programme, key_id, key)]


def _no_database() -> object:
    raise AssertionError("a FakeApiContext opens no registry database")


class FakeApiContext(ApiContext):
    """The server's context over in-memory stores: ``apps`` by programme name, the keys in ``key_store``."""

    def __init__(
        self, settings: Settings, apps: Mapping[str, App], *, clock: Callable[[], datetime],
        key_store: FakeKeyStore | None = None, idempotency_store: FakeIdempotencyStore | None = None,
    ) -> None:
        served = tuple(Programme(name=name, chart=app.settings.chart, rules=app.settings.rules) for name, app in apps.items())
        super().__init__(settings, Programmes(settings, served), _no_database, clock=clock)  # type: ignore[arg-type]
        self.apps = dict(apps)
        self.key_store = key_store or FakeKeyStore()
        self.idempotency_store = idempotency_store or FakeIdempotencyStore()

    def keys(self) -> ApiKeys:
        return ApiKeys(self.key_store)  # type: ignore[arg-type]

    def idempotency(self) -> FakeIdempotencyStore:  # type: ignore[override]
        return self.idempotency_store

    def app(self, programme: str) -> App:
        if programme not in self.apps:
            raise UnknownEntity(f"no programme {programme!r} here")
        return self.apps[programme]
