"""The registry service on an in-memory store: ids, sealing, updates, erasure, audit, key checks.

The SQL store and PostgreSQL are tested in tests/integration/test_members.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from support.fake_registry import FakeRegistryStore

from loyalty_accounts.errors import InvalidCommand, OperationRefused, RegistryKeyMismatch, RegistryUnavailable, UnknownEntity
from loyalty_accounts.members import MemberRegistry, RegistryKey, changes
from loyalty_accounts.vocabulary.ids import CUSTOMER_PATTERN

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)
KEY = RegistryKey(bytes(range(32)))
EMAIL = "ann.lee@example.com"


class Ticking:
    """A clock one minute later at each call."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def store() -> FakeRegistryStore:
    return FakeRegistryStore()


@pytest.fixture
def registry(store: FakeRegistryStore) -> Iterator[MemberRegistry]:
    yield MemberRegistry(store, KEY, clock=Ticking())


def _ann(registry: MemberRegistry) -> str:
    return registry.add("Ann Lee", email=EMAIL, phone="+14155550100", country="US", consents={"email_marketing": True}).member_id


def test_a_member_id_is_random_opaque_and_a_ledger_customer_id(registry: MemberRegistry) -> None:
    ids = [_ann(registry) for _ in range(50)]
    assert len(set(ids)) == 50  # the same profile fifty times: fifty ids, none derived from it
    for member in ids:
        assert re.fullmatch(r"m_[A-Za-z0-9_-]{22}", member) and re.fullmatch(CUSTOMER_PATTERN, member)


def test_a_profile_is_stored_sealed_and_shown_opened(registry: MemberRegistry, store: FakeRegistryStore) -> None:
    member = _ann(registry)
    raw = store.every_byte()
    for plaintext in (b"Ann Lee", EMAIL.encode(), b"+14155550100", b"email_marketing"):
        assert plaintext not in raw
    shown = registry.show(member)
    assert shown.state == "active" and shown.holder == "Ann Lee"
    assert shown.profile is not None and (shown.profile.email, shown.profile.phone, shown.profile.country) == (EMAIL, "+14155550100", "US")
    assert shown.profile.consents["email_marketing"].granted is True
    assert shown.created_at == shown.updated_at == T0 + timedelta(minutes=1)


def test_an_update_seals_the_new_profile_and_moves_the_digests(registry: MemberRegistry, store: FakeRegistryStore) -> None:
    member = _ann(registry)
    sealed_before = store.profiles[member]
    updated = registry.update(member, changes({"email": "ann@example.org"}, {"email_marketing": False}, ("phone",)))
    assert store.profiles[member] != sealed_before and b"ann@example.org" not in store.every_byte()
    assert registry.show(member).profile == updated.profile
    assert updated.profile is not None and updated.profile.phone is None and updated.profile.consents["email_marketing"].granted is False
    assert registry.known("email", [registry.digests.email("ann@example.org"), registry.digests.email(EMAIL)]) == {
        registry.digests.email("ann@example.org")
    }
    assert registry.known_digests("phone") == frozenset()


def test_an_empty_update_is_bad_input(registry: MemberRegistry) -> None:
    with pytest.raises(InvalidCommand, match="nothing to update"):
        registry.update(_ann(registry), changes({}, {}))


def test_forget_destroys_key_profile_and_digests_and_keeps_a_pseudonym(registry: MemberRegistry, store: FakeRegistryStore) -> None:
    member, other = _ann(registry), registry.add("Bob Stone", email="bob@example.com").member_id
    wrapped, sealed = store.keys[member][1], store.profiles[member]
    erasure = registry.forget(member, actor="ops-17", reason="erasure-request")
    assert not erasure.replayed and erasure.pseudonym == f"forgotten member {member}"
    assert member not in store.keys and member not in store.profiles
    assert all(entry[0] != member for entry in store.lookup)
    raw = store.every_byte()
    assert wrapped not in raw and sealed not in raw
    shown = registry.show(member)
    assert (shown.state, shown.profile, shown.holder) == ("forgotten", None, f"forgotten member {member}")
    assert shown.forgotten_at == erasure.forgotten_at
    assert registry.show(other).holder == "Bob Stone"  # the others are untouched
    assert registry.known("email", [registry.digests.email(EMAIL)]) == frozenset()
    assert registry.known("email", [registry.digests.email("bob@example.com")]) == {registry.digests.email("bob@example.com")}


def test_forget_is_audited_once_without_personal_data(registry: MemberRegistry, store: FakeRegistryStore) -> None:
    member = _ann(registry)
    first = registry.forget(member, actor="ops-17", reason="erasure-request")
    again = registry.forget(member, actor="ops-18", reason="erasure-request")
    assert again.replayed and again.forgotten_at == first.forgotten_at and again.audit is None
    records = registry.audit(member)
    assert [(r.actor, r.action, r.reason, r.member_id, r.at) for r in records] == [
        ("ops-17", "forget", "erasure-request", member, first.forgotten_at)
    ]
    assert b"Ann" not in store.every_byte() and EMAIL.encode() not in store.every_byte()


def test_a_forgotten_member_cannot_be_updated(registry: MemberRegistry) -> None:
    member = _ann(registry)
    registry.forget(member, actor="ops-17", reason="erasure-request")
    with pytest.raises(OperationRefused, match=f"member {member} was forgotten on"):
        registry.update(member, changes({"name": "Ann Again"}, {}))


def test_an_export_is_audited_and_gives_the_opened_member(registry: MemberRegistry) -> None:
    member = _ann(registry)
    opened, record = registry.record_access(member, actor="dpo-1", reason="access-request")
    assert opened.holder == "Ann Lee" and (record.actor, record.action, record.reason) == ("dpo-1", "export", "access-request")
    assert registry.audit() == [record]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda r: r.show("ann.lee@example.com"), "member id given is not valid"),  # an email is not repeated
        (lambda r: r.show("alice"), "member id 'alice' is not valid"),
        (lambda r: r.show(""), "member id empty is not valid"),
        (lambda r: r.forget("m_" + "a" * 22, actor="Ann Lee", reason="erasure-request"), "operator id is not valid"),
        (lambda r: r.forget("m_" + "a" * 22, actor="ann@example.com", reason="x"), "operator id is not valid"),
        (lambda r: r.forget("m_" + "a" * 22, actor="ops-1", reason="Because she asked"), "reason is not valid"),
        (lambda r: r.add("Ann", email="nope"), "invalid profile: email: not an email address"),
    ],
)
def test_bad_input_is_refused_before_the_store_is_used(registry: MemberRegistry, store: FakeRegistryStore, call, message: str) -> None:  # type: ignore[no-untyped-def]
    store.down = True  # any use of the store would say so
    with pytest.raises(InvalidCommand, match=re.escape(message)):
        call(registry)
    assert store.audit_table == []


def test_an_unknown_member_is_refused(registry: MemberRegistry) -> None:
    for call in (
        lambda: registry.show("m_" + "a" * 22),
        lambda: registry.update("m_" + "a" * 22, changes({"name": "X"}, {})),
        lambda: registry.forget("m_" + "a" * 22, actor="ops-1", reason="erasure-request"),
        lambda: registry.record_access("m_" + "a" * 22, actor="ops-1", reason="access-request"),
    ):
        with pytest.raises(UnknownEntity, match="no member m_a+ in the registry"):
            call()
    assert registry.audit() == []


def test_another_registry_key_is_refused_before_anything_is_written(store: FakeRegistryStore) -> None:
    member = _ann(MemberRegistry(store, KEY, clock=Ticking()))
    other = MemberRegistry(store, RegistryKey(bytes(32)), key_source="LOYALTY_REGISTRY_KEY", clock=Ticking())
    with pytest.raises(RegistryKeyMismatch, match=f"LOYALTY_REGISTRY_KEY \\(key id .*\\) is not the key .* \\(key id {KEY.key_id}\\)"):
        other.add("Bob")
    with pytest.raises(RegistryKeyMismatch, match=f"member {member}'s data key is wrapped with key id {KEY.key_id}"):
        other.show(member)
    with pytest.raises(RegistryKeyMismatch, match="is not the key"):  # a key from elsewhere erases nothing either
        other.forget(member, actor="dpo-1", reason="erasure-request")
    assert len(store.members_table) == 1 and store.audit_table == []
    assert KEY.key_id and _opened_name(MemberRegistry(store, KEY, clock=Ticking()), member) is not None


def test_an_unavailable_store_is_registry_unavailable(registry: MemberRegistry, store: FakeRegistryStore) -> None:
    member = _ann(registry)
    store.down = True
    with pytest.raises(RegistryUnavailable):
        registry.show(member)
    with pytest.raises(RegistryUnavailable):
        registry.forget(member, actor="ops-1", reason="erasure-request")
    store.down = False
    assert registry.show(member).state == "active"


def _opened_name(registry: MemberRegistry, member: str) -> str | None:
    shown = registry.show(member)
    return shown.profile.name if shown.profile is not None else None
