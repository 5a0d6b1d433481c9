"""An in-memory stand-in for the registry's SQL store, for unit tests of the service and the CLI.

It keeps the same tables as dictionaries of bytes, so a test can read "the raw tables" the way the
integration suite reads PostgreSQL's. The integration suite runs the real store (SQL) instead.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterable, Iterator

from loyalty_accounts.errors import RegistryUnavailable
from loyalty_accounts.members.lookup import LookupDigest, LookupKind
from loyalty_accounts.members.store import AuditAction, AuditRecord, MemberRow, SealedMember


class FakeRegistryStore:
    """The store's methods over dictionaries; ``down = True`` makes every transaction fail as a lost server would."""

    def __init__(self) -> None:
        self.registry_keys: dict[str, datetime] = {}
        self.members_table: dict[str, MemberRow] = {}
        self.keys: dict[str, tuple[str, bytes]] = {}
        self.profiles: dict[str, bytes] = {}
        self.lookup: set[tuple[str, str, bytes]] = set()
        self.audit_table: list[AuditRecord] = []
        self.down = False
        self.compacted = 0

    def every_byte(self) -> bytes:
        """Every value stored, concatenated: what a raw read of all tables would give."""

        parts = [k.encode() for k in self.registry_keys]
        for row in self.members_table.values():
            parts.append(row.model_dump_json().encode())
        for key_id, wrapped in self.keys.values():
            parts += [key_id.encode(), wrapped]
        parts += list(self.profiles.values())
        parts += [digest for _, _, digest in self.lookup]
        parts += [record.model_dump_json().encode() for record in self.audit_table]
        return b"\x00".join(parts)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.down:
            raise RegistryUnavailable("member registry unavailable: connection refused")
        saved = (dict(self.registry_keys), dict(self.members_table), dict(self.keys), dict(self.profiles), set(self.lookup), list(self.audit_table))
        try:
            yield
        except BaseException:
            self.registry_keys, self.members_table, self.keys, self.profiles, self.lookup, self.audit_table = saved
            raise

    def close(self) -> None:
        pass

    def key_ids(self) -> frozenset[str]:
        return frozenset(self.registry_keys)

    def record_key(self, key_id: str, at: datetime) -> None:
        self.registry_keys.setdefault(key_id, at)

    def insert(self, member_id: str, at: datetime, key_id: str, wrapped_key: bytes, sealed: bytes, digests: Iterable[LookupDigest]) -> bool:
        if member_id in self.members_table:
            return False
        self.members_table[member_id] = MemberRow(member_id=member_id, created_at=at, updated_at=at)
        self.keys[member_id] = (key_id, wrapped_key)
        self.profiles[member_id] = sealed
        self.lookup |= {(member_id, d.kind, d.digest) for d in digests}
        return True

    def read(self, member_id: str, *, for_update: bool = False) -> SealedMember | None:
        row = self.members_table.get(member_id)
        if row is None:
            return None
        key_id, wrapped = self.keys.get(member_id, (None, None))
        return SealedMember(row=row, key_id=key_id, wrapped_key=wrapped, sealed_profile=self.profiles.get(member_id))

    def replace_profile(self, member_id: str, at: datetime, sealed: bytes, digests: Iterable[LookupDigest]) -> None:
        self.profiles[member_id] = sealed
        self.lookup = {entry for entry in self.lookup if entry[0] != member_id} | {(member_id, d.kind, d.digest) for d in digests}
        self.members_table[member_id] = self.members_table[member_id].model_copy(update={"updated_at": at})

    def erase(self, member_id: str, at: datetime) -> None:
        self.profiles.pop(member_id, None)
        self.keys.pop(member_id, None)
        self.lookup = {entry for entry in self.lookup if entry[0] != member_id}
        self.members_table[member_id] = self.members_table[member_id].model_copy(update={"forgotten_at": at, "updated_at": at})

    def members(self) -> list[MemberRow]:
        return sorted(self.members_table.values(), key=lambda r: (r.created_at, r.member_id))

    def add_audit(self, at: datetime, actor: str, action: AuditAction, reason: str, member_id: str) -> AuditRecord:
        record = AuditRecord(audit_id=len(self.audit_table) + 1, at=at, actor=actor, action=action, reason=reason, member_id=member_id)
        self.audit_table.append(record)
        return record

    def audit(self, member_id: str | None = None) -> list[AuditRecord]:
        return [r for r in self.audit_table if member_id is None or r.member_id == member_id]

    def known(self, kind: LookupKind, digests: Iterable[bytes]) -> frozenset[bytes]:
        wanted = set(digests)
        return frozenset(d for _, k, d in self.lookup if k == kind and d in wanted)

    def all_digests(self, kind: LookupKind) -> frozenset[bytes]:
        return frozenset(d for _, k, d in self.lookup if k == kind)

    def compact(self) -> None:
        self.compacted += 1
