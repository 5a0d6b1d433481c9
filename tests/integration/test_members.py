"""The member registry on a real PostgreSQL: schema migrations, the SQL store, the audit, first use.

Each test gets a fresh database of the session's cluster (``registry_url``, conftest). The erasure
acceptance (books unchanged, no byte left) is tests/integration/test_member_erasure.py.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from loyalty_accounts.cli import app as cli
from loyalty_accounts.errors import RegistryKeyMismatch, RegistryUnavailable
from loyalty_accounts.local import LocalStack
from loyalty_accounts.members import MemberRegistry, RegistryKey, RegistryStore, changes
from loyalty_accounts.registry import open_database, shipped_migrations

pytestmark = pytest.mark.integration

KEY = RegistryKey(bytes(range(32)))
EMAIL = "ann.lee@example.com"


@pytest.fixture
def registry(registry_url: str) -> Iterator[MemberRegistry]:
    members = MemberRegistry(RegistryStore(open_database(registry_url)), KEY)
    yield members
    members.close()


def _rows(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(query, params).fetchall())


def test_the_schema_is_made_once_and_recorded(registry_url: str) -> None:
    open_database(registry_url).close()
    with open_database(registry_url) as conn:
        from loyalty_accounts.registry import migrate

        assert migrate(conn) == ()
    recorded = _rows(registry_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(m.version, m.name) for m in shipped_migrations()]


def test_processes_opening_a_new_registry_at_once_migrate_it_once(registry_url: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        start.wait()
        try:
            open_database(registry_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _rows(registry_url, "SELECT count(*) FROM schema_migrations") == [(len(shipped_migrations()),)]


def test_a_database_a_newer_release_migrated_is_refused(registry_url: str) -> None:
    open_database(registry_url).close()
    with psycopg.connect(registry_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')")
    with pytest.raises(RegistryUnavailable, match="schema version 999, which this release of loyalty-accounts does not know"):
        open_database(registry_url)


def test_the_tables_hold_sealed_bytes_and_forget_deletes_them(registry: MemberRegistry, registry_url: str) -> None:
    member = registry.add("Ann Lee", email=EMAIL, phone="+14155550100", country="GB", consents={"profiling": True}).member_id
    other = registry.add("Bob Stone", email="bob@example.com").member_id
    [(wrapped, key_id)] = _rows(registry_url, "SELECT wrapped_key, key_id FROM member_keys WHERE member_id = %s", member)
    [(sealed,)] = _rows(registry_url, "SELECT sealed_profile FROM member_profiles WHERE member_id = %s", member)
    assert key_id == KEY.key_id and len(bytes(wrapped)) == 1 + 12 + 32 + 16  # version, nonce, AES-256 key, tag
    for plaintext in (b"Ann", EMAIL.encode(), b"+14155550100", b"GB", b"profiling"):
        assert plaintext not in bytes(sealed)
    digests = {bytes(d) for (d,) in _rows(registry_url, "SELECT digest FROM member_lookup WHERE member_id = %s", member)}
    assert registry.digests.email(EMAIL) in digests and registry.digests.digest("name_token", "lee") in digests
    assert len(digests) == 5  # email, phone, name, "ann", "lee"

    updated = registry.update(member, changes({"country": "IE"}, {}))
    [(resealed,)] = _rows(registry_url, "SELECT sealed_profile FROM member_profiles WHERE member_id = %s", member)
    assert bytes(resealed) != bytes(sealed) and registry.show(member).profile == updated.profile

    registry.forget(member, actor="ops-17", reason="erasure-request")
    for table in ("member_keys", "member_profiles", "member_lookup"):
        assert _rows(registry_url, f"SELECT count(*) FROM {table} WHERE member_id = %s", member) == [(0,)], table
    [(forgotten_at,)] = _rows(registry_url, "SELECT forgotten_at FROM members WHERE member_id = %s", member)
    assert forgotten_at is not None
    assert registry.show(other).holder == "Bob Stone"
    assert registry.known("email", [registry.digests.email(EMAIL), registry.digests.email("BOB@example.com")]) == {
        registry.digests.email("bob@example.com")
    }
    assert registry.known_digests("email") == {registry.digests.email("bob@example.com")}


def test_the_audit_keeps_ids_and_codes_and_cannot_be_changed(registry: MemberRegistry, registry_url: str) -> None:
    member = registry.add("Ann Lee", email=EMAIL).member_id
    registry.record_access(member, actor="dpo-1", reason="access-request")
    registry.forget(member, actor="ops-17", reason="erasure-request")
    rows = _rows(registry_url, "SELECT actor, action, reason, member_id FROM member_audit ORDER BY audit_id")
    assert rows == [("dpo-1", "export", "access-request", member), ("ops-17", "forget", "erasure-request", member)]
    for statement in ("UPDATE member_audit SET actor = 'x'", "DELETE FROM member_audit", "TRUNCATE member_audit"):
        with psycopg.connect(registry_url) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement)
    assert len(_rows(registry_url, "SELECT 1 FROM member_audit")) == 2


def test_another_key_cannot_read_or_add(registry: MemberRegistry, registry_url: str) -> None:
    member = registry.add("Ann Lee").member_id
    stranger = MemberRegistry(RegistryStore(open_database(registry_url)), RegistryKey(bytes(32)), key_source="LOYALTY_REGISTRY_KEY")
    try:
        with pytest.raises(RegistryKeyMismatch, match="is not the key this registry's members are sealed with"):
            stranger.add("Bob")
        with pytest.raises(RegistryKeyMismatch, match=f"member {member}'s data key is wrapped with key id {KEY.key_id}"):
            stranger.show(member)
    finally:
        stranger.close()
    assert _rows(registry_url, "SELECT count(*) FROM members") == [(1,)]


def test_the_local_stack_makes_its_registry_and_key_on_first_use(
    postgres_admin_uri: str, local_stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ledger up` makes the database loyalty_registry in the stack's cluster; with no registry URL, `member`
    commands use it, make it again if it is missing, and a key made in the state folder (0600)."""

    for variable in ("LOYALTY_REGISTRY_URL", "LOYALTY_REGISTRY_KEY", "LOYALTY_REGISTRY_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)
    with psycopg.connect(postgres_admin_uri, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'loyalty_registry'").fetchone() == (1,), "made by `up`"
        conn.execute(sql.SQL("DROP DATABASE loyalty_registry WITH (FORCE)"))
    key_path = LocalStack(local_stack_dir).registry_key_file
    key_path.unlink(missing_ok=True)
    runner = CliRunner()
    base = ["--state-dir", str(local_stack_dir), "member"]
    added = runner.invoke(cli, [*base, "add", "--name", "Ann Lee", "--email", EMAIL])
    assert added.exit_code == 0, added.output
    member = added.stdout.strip()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with psycopg.connect(postgres_admin_uri) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'loyalty_registry'").fetchone() == (1,)
    shown = json.loads(runner.invoke(cli, [*base, "show", member, "-f", "json"]).stdout)
    assert (shown["name"], shown["email"]) == ("Ann Lee", EMAIL)
