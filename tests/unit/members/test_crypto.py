"""Envelope encryption: a profile opens only with its member's data key, which opens only with the registry key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import threading
from pathlib import Path

import pytest

from loyalty_accounts.errors import InvalidCommand, MemberDataUnreadable
from loyalty_accounts.members.crypto import RegistryKey, key_file, new_data_key, open_profile, seal_profile

SECRET = bytes(range(32))
OTHER = bytes(range(1, 33))
PLAINTEXT = b'{"name":"Ann Lee","email":"ann.lee@example.com"}'


def _hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    """RFC 5869 with no salt and 32 bytes out, written here with the standard library only."""

    prk = hmac.new(b"\x00" * 32, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_a_profile_round_trips_through_its_data_key() -> None:
    data_key = new_data_key()
    sealed = seal_profile(data_key, PLAINTEXT, "m_a")
    assert PLAINTEXT not in sealed and b"ann.lee" not in sealed
    assert open_profile(data_key, sealed, "m_a") == PLAINTEXT


def test_sealing_twice_gives_different_bytes() -> None:
    data_key = new_data_key()
    assert seal_profile(data_key, PLAINTEXT, "m_a") != seal_profile(data_key, PLAINTEXT, "m_a")  # a fresh nonce each time


def test_a_data_key_round_trips_through_the_registry_key() -> None:
    data_key = new_data_key()
    wrapped = RegistryKey(SECRET).wrap(data_key, "m_a")
    assert data_key not in wrapped
    assert RegistryKey(SECRET).unwrap(wrapped, "m_a") == data_key


def test_another_registry_key_does_not_unwrap() -> None:
    wrapped = RegistryKey(SECRET).wrap(new_data_key(), "m_a")
    with pytest.raises(MemberDataUnreadable, match="m_a's data key does not decrypt"):
        RegistryKey(OTHER).unwrap(wrapped, "m_a")


def test_another_data_key_does_not_open_a_profile() -> None:
    sealed = seal_profile(new_data_key(), PLAINTEXT, "m_a")
    with pytest.raises(MemberDataUnreadable):
        open_profile(new_data_key(), sealed, "m_a")


@pytest.mark.parametrize("position", [0, 1, 13, -1])
def test_a_tampered_byte_is_refused(position: int) -> None:
    data_key = new_data_key()
    sealed = bytearray(seal_profile(data_key, PLAINTEXT, "m_a"))
    sealed[position] ^= 0x01
    with pytest.raises(MemberDataUnreadable):
        open_profile(data_key, bytes(sealed), "m_a")


def test_bytes_moved_to_another_member_do_not_open() -> None:
    registry = RegistryKey(SECRET)
    data_key = new_data_key()
    wrapped, sealed = registry.wrap(data_key, "m_a"), seal_profile(data_key, PLAINTEXT, "m_a")
    with pytest.raises(MemberDataUnreadable):
        registry.unwrap(wrapped, "m_b")
    with pytest.raises(MemberDataUnreadable):
        open_profile(data_key, sealed, "m_b")


def test_without_its_data_key_a_forgotten_profile_opens_with_nothing_the_registry_keeps() -> None:
    """Erasure deletes the wrapped data key: what remains (the registry key, other members' keys) opens nothing."""

    registry = RegistryKey(SECRET)
    forgotten_key = new_data_key()
    sealed = seal_profile(forgotten_key, PLAINTEXT, "m_a")
    survivor_key = registry.unwrap(registry.wrap(new_data_key(), "m_b"), "m_b")
    candidates = [SECRET, survivor_key, _hkdf_sha256(SECRET, b"loyalty-accounts registry wrap v1"), registry.lookup_key]
    for candidate in candidates:
        with pytest.raises(MemberDataUnreadable):
            open_profile(candidate, sealed, "m_a")


def test_the_derived_keys_are_hkdf_of_the_registry_key() -> None:
    key = RegistryKey(SECRET)
    assert key.lookup_key == _hkdf_sha256(SECRET, b"loyalty-accounts registry lookup v1")
    assert key.key_id == _hkdf_sha256(SECRET, b"loyalty-accounts registry key id v1")[:8].hex()
    assert RegistryKey(OTHER).key_id != key.key_id
    assert SECRET.hex() not in repr(key) and key.key_id in repr(key)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("not base64!", "this is not base64"),
        (base64.b64encode(b"short").decode(), "got 5 bytes"),
        (base64.b64encode(bytes(33)).decode(), "got 33 bytes"),
        ("", "got 0 bytes"),
    ],
)
def test_a_malformed_key_is_one_line_naming_where_it_came_from(text: str, reason: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        RegistryKey.from_text(text, source="LOYALTY_REGISTRY_KEY")
    message = caught.value.message
    assert message.startswith("LOYALTY_REGISTRY_KEY: registry key must be the base64 of 32 bytes") and reason in message
    assert "\n" not in message and (not text or text not in message)


def test_a_key_file_is_made_once_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "registry.key"
    made, created = key_file(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text().strip(), validate=True)) == 32
    again, created_again = key_file(path)
    assert not created_again and again.key_id == made.key_id
    assert [p.name for p in path.parent.iterdir()] == ["registry.key"]  # no draft left behind


def test_processes_making_the_key_file_at_once_get_one_key(tmp_path: Path) -> None:
    path = tmp_path / "registry.key"
    ids: list[str] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        ids.append(key_file(path)[0].key_id)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert RegistryKey.from_file(path).key_id == ids[0]


def test_a_key_file_holding_no_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.key"
    path.write_text("hello\n")
    with pytest.raises(InvalidCommand, match=f"registry key file {path}: registry key must be the base64 of 32 bytes"):
        key_file(path)
    with pytest.raises(InvalidCommand, match="No such file"):
        RegistryKey.from_file(tmp_path / "missing.key")
    os.chmod(path, 0o600)
