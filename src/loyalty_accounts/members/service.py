"""The member registry: members' personal data outside the ledger, sealed, erasable, audited.

A member is an opaque id (``m_`` and 22 random URL-safe characters: never derived from personal
data, and a valid ledger customer id) and a :class:`~.profile.Profile` sealed with a data key of the
member's own, itself wrapped by the registry key (:mod:`.crypto`). Every operation names the member
by that id only. The registry never talks to the ledger: the ledger knows the id as a customer, and
nothing else about the person.

Erasure (:meth:`MemberRegistry.forget`) deletes the member's wrapped data key, sealed profile and
lookup digests in one transaction and keeps the id, marked forgotten, whose
:func:`pseudonym` stands in for the name from then on; the books are not touched, so every balance,
report and reconciliation stays as it was. Erasures and exports are audited (who: an operator id;
when; why: a reason code; which member), without personal data.

Errors: a malformed id, field, operator or reason is InvalidCommand (exit 2); an id the registry never
gave is UnknownEntity (exit 1); changing a forgotten member OperationRefused (exit 1); a registry key
other than the one the registry was made with RegistryKeyMismatch (exit 2); altered bytes
MemberDataUnreadable (exit 1); no database RegistryUnavailable (exit 3).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone
from typing import Callable, Literal, Mapping

from ..errors import InvalidCommand, OperationRefused, RegistryKeyMismatch, UnknownEntity
from ..settings import OPERATOR_PATTERN
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import REASON_PATTERN
from .crypto import RegistryKey, new_data_key, open_profile, seal_profile
from .lookup import LookupDigests, LookupKind
from .profile import Profile, ProfileChanges, apply, checked, new_profile
from .store import AuditAction, AuditRecord, RegistryStore, SealedMember

MEMBER_ID_PATTERN = r"^m_[A-Za-z0-9_-]{22}$"
"""What a member id is: ``m_`` and 22 characters of a URL-safe random token (16 random bytes)."""
ID_ATTEMPTS = 5
"""New ids drawn before giving up: a clash of 128-bit random ids does not happen; five in a row is a fault."""

Clock = Callable[[], datetime]
_ID_LIKE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_member_id() -> str:
    """A fresh member id: ``m_`` and 22 URL-safe characters from 16 random bytes."""

    return "m_" + secrets.token_urlsafe(16)


def member_id(value: object) -> str:
    """``value`` if it is a member id, else InvalidCommand (the registry looks members up by id only)."""

    if not isinstance(value, str) or not re.fullmatch(MEMBER_ID_PATTERN.strip("^$"), value):
        # Repeated only when it has the look of an id: an email or a name typed in its place stays out of messages.
        shown = "empty" if value == "" else (repr(value) if isinstance(value, str) and _ID_LIKE.fullmatch(value) else "given")
        raise InvalidCommand(
            f"member id {shown} is not valid: members are named by the id `loyalty member add` printed (m_ and 22 characters)"
        )
    return value


def pseudonym(member: str) -> str:
    """What stands in for a forgotten member's name: ``forgotten member m_...``."""

    return f"forgotten member {member}"


def operator_id(value: object) -> str:
    """``value`` if it is an operator id (an id, not a name or an email), else InvalidCommand."""

    if not isinstance(value, str) or not OPERATOR_PATTERN.match(value):
        raise InvalidCommand(
            "operator id is not valid: use 1-64 letters, digits, '_' or '-' starting with a letter or digit "
            "(an id such as ops-17, never a name or an email)"
        )
    return value


def reason_code(value: object) -> str:
    """``value`` if it is a reason code (lower-case, e.g. ``erasure-request``), else InvalidCommand."""

    if not isinstance(value, str) or not re.fullmatch(REASON_PATTERN.strip("^$"), value):
        raise InvalidCommand("reason is not valid: a code of 1-64 lower-case letters, digits, '_', '.' or '-' (e.g. erasure-request)")
    return value


class Member(Frozen):
    """A member as ``member show`` gives it: the profile opened, or None once forgotten."""

    member_id: str
    created_at: datetime
    updated_at: datetime
    forgotten_at: datetime | None = None
    profile: Profile | None = None

    @property
    def state(self) -> Literal["active", "forgotten"]:
        return "forgotten" if self.forgotten_at is not None else "active"

    @property
    def holder(self) -> str:
        """The name to show for the member: the profile's, or the pseudonym once forgotten."""

        return self.profile.name if self.profile is not None else pseudonym(self.member_id)


class Erasure(Frozen):
    """What ``member forget`` did: when the member was forgotten, and whether it was by this call."""

    member_id: str
    forgotten_at: datetime
    replayed: bool
    audit: AuditRecord | None = None
    """The audit record of this erasure; None when the member was already forgotten (``replayed``)."""

    @property
    def pseudonym(self) -> str:
        return pseudonym(self.member_id)


def require_registry_key(store: RegistryStore, key: RegistryKey, source: str) -> None:
    """Refuse ``key`` (from ``source``, named in the message) unless it is one that has sealed data in ``store``'s
    registry, or the registry has sealed nothing yet. Raises RegistryKeyMismatch (exit 2)."""

    known = store.key_ids()
    if known and key.key_id not in known:
        raise RegistryKeyMismatch(
            f"{source} (key id {key.key_id}) is not the key this registry's members are sealed "
            f"with (key id {', '.join(sorted(known))}): configure that key (LOYALTY_REGISTRY_KEY or registry_key_file)"
        )


class MemberRegistry:
    """Members' profiles in the registry database (``store``), sealed under ``key``.

    ``key_source`` names where the key came from in messages; ``clock`` gives the instants recorded.
    """

    def __init__(
        self, store: RegistryStore, key: RegistryKey, *, key_source: str = "the registry key", clock: Clock = _now
    ) -> None:
        self._store = store
        self._key = key
        self._key_source = key_source
        self._clock = clock
        self._key_checked = False
        self.digests = LookupDigests(key.lookup_key)
        """The lookup digests of this registry's key (:mod:`.lookup`): what a scan for personal data computes."""

    def close(self) -> None:
        self._store.close()

    # -- members ------------------------------------------------------------

    def add(self, name: str, *, email: str | None = None, phone: str | None = None, country: str | None = None,
            consents: Mapping[str, bool] | None = None) -> Member:
        """A new member with this profile (consents given as of now); its id is random.

        Raises InvalidCommand naming each malformed field (never its value).
        """

        at = self._clock()
        profile = new_profile({"name": name, "email": email, "phone": phone, "country": country}, consents or {}, at)
        data_key = new_data_key()
        with self._store.transaction():
            self._require_key()
            self._store.record_key(self._key.key_id, at)
            for _ in range(ID_ATTEMPTS):
                member = new_member_id()
                sealed = seal_profile(data_key, _plain(profile), member)
                wrapped = self._key.wrap(data_key, member)
                if self._store.insert(member, at, self._key.key_id, wrapped, sealed, self.digests.of_profile(profile)):
                    return Member(member_id=member, created_at=at, updated_at=at, profile=profile)
        raise RuntimeError(f"{ID_ATTEMPTS} random member ids in a row were taken: the random source is broken")

    def show(self, member: str) -> Member:
        """The member with its profile opened (None once forgotten). Raises UnknownEntity."""

        member_id(member)
        with self._store.transaction():
            sealed = self._read(member)
        return self._opened(sealed)

    def update(self, member: str, changes: ProfileChanges) -> Member:
        """The member's profile with ``changes`` applied (consents set as of now), sealed again.

        Raises InvalidCommand when there is nothing to change, UnknownEntity, OperationRefused for a
        forgotten member.
        """

        member_id(member)
        if changes.empty:
            raise InvalidCommand("nothing to update: give a field, a consent or --clear")
        at = self._clock()
        with self._store.transaction():
            sealed = self._read(member, for_update=True)
            current = self._opened(sealed)
            if current.profile is None:
                raise OperationRefused(f"member {member} was forgotten on {_iso(current.forgotten_at)}: nothing to update")
            assert sealed.wrapped_key is not None
            profile = apply(current.profile, changes, at)
            data_key = self._key.unwrap(sealed.wrapped_key, member)
            self._store.replace_profile(member, at, seal_profile(data_key, _plain(profile), member), self.digests.of_profile(profile))
        return current.model_copy(update={"profile": profile, "updated_at": at})

    def forget(self, member: str, *, actor: str, reason: str) -> Erasure:
        """Erase the member: delete its wrapped data key, sealed profile and lookup digests, keep its id
        (forgotten, named by its pseudonym) and audit who (``actor``, an operator id), when and why
        (``reason``, a code). The ledger is not touched.

        Forgetting a forgotten member again erases nothing and is answered with the first erasure
        (``replayed``; no new audit record). Raises InvalidCommand, UnknownEntity.
        """

        member_id(member)
        operator_id(actor)
        reason_code(reason)
        self._require_key()  # a registry key from elsewhere erases nothing: it is refused like every other command's
        at = self._clock()
        with self._store.transaction():
            sealed = self._read(member, for_update=True)
            if sealed.row.forgotten_at is not None:
                return Erasure(member_id=member, forgotten_at=sealed.row.forgotten_at, replayed=True)
            self._store.erase(member, at)
            record = self._store.add_audit(at, actor, "forget", reason, member)
        return Erasure(member_id=member, forgotten_at=at, replayed=False, audit=record)

    def record_access(self, member: str, *, actor: str, reason: str, action: AuditAction = "export") -> tuple[Member, AuditRecord]:
        """The member, opened, and the audit record of handing its data out (``action``) to ``actor`` for ``reason``.

        Raises InvalidCommand, UnknownEntity.
        """

        member_id(member)
        operator_id(actor)
        reason_code(reason)
        at = self._clock()
        with self._store.transaction():
            opened = self._opened(self._read(member))
            record = self._store.add_audit(at, actor, action, reason, member)
        return opened, record

    def audit(self, member: str | None = None) -> list[AuditRecord]:
        """Every erasure and export recorded (of ``member`` only, when given), oldest first."""

        if member is not None:
            member_id(member)
        with self._store.transaction():
            return self._store.audit(member)

    # -- for a scan for personal data -----------------------------------------

    def known(self, kind: LookupKind, digests: list[bytes]) -> frozenset[bytes]:
        """Which of ``digests`` (made with :attr:`digests`) are of a member's value of ``kind``."""

        with self._store.transaction():
            return self._store.known(kind, digests)

    def known_digests(self, kind: LookupKind) -> frozenset[bytes]:
        """Every digest of ``kind`` the registry holds: a scan loads them once and matches in memory."""

        with self._store.transaction():
            return self._store.all_digests(kind)

    def compact(self) -> None:
        """Rewrite the member tables so that erased rows' bytes leave their files (see the README)."""

        self._store.compact()

    # -- helpers ------------------------------------------------------------

    def _require_key(self) -> None:
        """Refuse a registry key other than those this registry's data keys are wrapped with (none yet: any)."""

        if self._key_checked:
            return
        require_registry_key(self._store, self._key, self._key_source)
        self._key_checked = True

    def _read(self, member: str, *, for_update: bool = False) -> SealedMember:
        sealed = self._store.read(member, for_update=for_update)
        if sealed is None:
            raise UnknownEntity(f"no member {member} in the registry")
        return sealed

    def _opened(self, sealed: SealedMember) -> Member:
        row = sealed.row
        profile = None
        if row.forgotten_at is None and sealed.wrapped_key is not None and sealed.sealed_profile is not None:
            if sealed.key_id != self._key.key_id:
                raise RegistryKeyMismatch(
                    f"member {row.member_id}'s data key is wrapped with key id {sealed.key_id}, and {self._key_source} "
                    f"is key id {self._key.key_id}: configure that key (LOYALTY_REGISTRY_KEY or registry_key_file)"
                )
            data_key = self._key.unwrap(sealed.wrapped_key, row.member_id)
            profile = checked(Profile, json.loads(open_profile(data_key, sealed.sealed_profile, row.member_id)))
        return Member(
            member_id=row.member_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            forgotten_at=row.forgotten_at,
            profile=profile,
        )


def _plain(profile: Profile) -> bytes:
    return profile.model_dump_json().encode("utf-8")


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at is not None else "(unknown)"

