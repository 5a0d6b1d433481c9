"""Where the registry and its key come from, and the schema files shipped: no database needed."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from loyalty_accounts.app import open_registry, registry_key
from loyalty_accounts.errors import InvalidCommand, RegistryUnavailable
from loyalty_accounts.local import LocalStack
from loyalty_accounts.members import RegistryKey
from loyalty_accounts.registry import shipped_migrations, where
from loyalty_accounts.settings import Settings

KEY_TEXT = base64.b64encode(bytes(range(32))).decode()


def test_the_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = shipped_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "member_registry"
    first = migrations[0].sql
    for table in ("registry_keys", "members", "member_keys", "member_profiles", "member_lookup", "member_audit"):
        assert re.search(rf"CREATE TABLE {table} \(", first), table
    # ANALYZE must never copy a sealed value or a digest into pg_statistic
    for column in ("member_keys ALTER COLUMN wrapped_key", "member_profiles ALTER COLUMN sealed_profile", "member_lookup ALTER COLUMN digest"):
        assert f"ALTER TABLE {column} SET STATISTICS 0" in first


def test_the_key_comes_from_the_variable_then_the_file_then_the_local_file(tmp_path: Path) -> None:
    given = tmp_path / "given.key"
    given.write_text(base64.b64encode(bytes(32)).decode() + "\n")
    local = tmp_path / "state" / "registry.key"
    from_variable, source = registry_key(Settings(registry_key=KEY_TEXT, registry_key_file=given), local)
    assert (from_variable.key_id, source) == (RegistryKey(bytes(range(32))).key_id, "LOYALTY_REGISTRY_KEY")
    from_file, source = registry_key(Settings(registry_key_file=given), local)
    assert (from_file.key_id, source) == (RegistryKey(bytes(32)).key_id, f"registry key file {given}")
    assert not local.exists()
    made, source = registry_key(Settings(), local)
    assert source == f"registry key file {local} (made now)" and local.exists()
    again, source = registry_key(Settings(), local)
    assert again.key_id == made.key_id and source == f"registry key file {local}"


def test_a_registry_named_by_url_needs_its_key_from_configuration() -> None:
    with pytest.raises(InvalidCommand, match="needs its key: set LOYALTY_REGISTRY_KEY"):
        registry_key(Settings(registry_url="postgresql://u:p@127.0.0.1:1/members"), None)


def test_no_registry_named_and_none_local_is_unavailable() -> None:
    with pytest.raises(RegistryUnavailable, match="set LOYALTY_REGISTRY_URL"):
        open_registry(Settings())


def test_a_stack_without_postgres_offers_no_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOYALTY_POSTGRES_URI", raising=False)
    stack = LocalStack(tmp_path / "state")
    with pytest.raises(RegistryUnavailable, match="run `loyalty ledger up`, or set LOYALTY_REGISTRY_URL"):
        stack.registry_uri()
    assert stack.registry_key_file == (tmp_path / "state" / "registry.key").resolve()


def test_a_stack_on_an_external_postgres_keeps_its_registry_in_a_database_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOYALTY_POSTGRES_URI", "postgresql://ledger:secret@127.0.0.1:5433/ledger")
    uri = LocalStack(tmp_path / "state").registry_uri()
    assert where(uri) == "127.0.0.1:5433/loyalty_registry" and "secret" in uri


def test_an_unreachable_registry_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://reg:pa55word@127.0.0.1:9/members"  # port 9 (discard): nothing listens
    with pytest.raises(RegistryUnavailable) as caught:
        open_registry(Settings(registry_url=url, registry_key=KEY_TEXT))
    assert caught.value.message.startswith("member registry at 127.0.0.1:9/members unreachable: ")
    assert "pa55word" not in caught.value.message and "\n" not in caught.value.message

