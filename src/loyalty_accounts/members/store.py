"""The member registry's tables, in SQL: the only module that reads or writes them.

Tables (``registry/migrations/0001_member_registry.sql``): ``members`` (id and instants),
``member_keys`` (the wrapped data key), ``member_profiles`` (the sealed profile), ``member_lookup``
(keyed digests), ``member_audit`` (erasures and exports), ``registry_keys`` (which registry keys
wrapped data keys here). The store moves bytes only: it never sees a key or a plaintext value.

Every method runs inside :meth:`RegistryStore.transaction`; a lost or refused connection is
:class:`~loyalty_accounts.errors.RegistryUnavailable` (exit 3), and nothing of the transaction is kept.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterable, Iterator, Literal

import psycopg
from psycopg import errors as pg_errors

from ..errors import RegistryUnavailable
from ..vocabulary.frozen import Frozen
from .lookup import LookupDigest, LookupKind

AuditAction = Literal["forget", "export"]
REGISTRY_TABLES = ("members", "member_keys", "member_profiles", "member_lookup")
"""The tables a member's data lives in (the audit keeps only ids and codes)."""


class MemberRow(Frozen):
    """A member as the registry lists it: no personal data."""

    member_id: str
    created_at: datetime
    updated_at: datetime
    forgotten_at: datetime | None = None


class SealedMember(Frozen):
    """A member's row with its wrapped data key and sealed profile (None for both once forgotten)."""

    row: MemberRow
    key_id: str | None = None
    wrapped_key: bytes | None = None
    sealed_profile: bytes | None = None


class AuditRecord(Frozen):
    """Who erased or exported which member, when and why: an operator id and codes, no personal data."""

    audit_id: int
    at: datetime
    actor: str
    action: AuditAction
    reason: str
    member_id: str


class RegistryStore:
    """The registry's SQL over one open connection in autocommit mode (:meth:`transaction` makes transactions)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One database transaction: committed when the block ends, rolled back when it raises."""

        try:
            with self._conn.transaction():
                yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise RegistryUnavailable(f"member registry unavailable: {str(exc).strip().splitlines()[0]}") from None

    def close(self) -> None:
        self._conn.close()

    # -- registry keys ------------------------------------------------------

    def key_ids(self) -> frozenset[str]:
        """The ids of every registry key that has wrapped a data key here."""

        return frozenset(str(row[0]) for row in self._conn.execute("SELECT key_id FROM registry_keys"))

    def record_key(self, key_id: str, at: datetime) -> None:
        """Record that the registry key ``key_id`` wraps data keys here (once)."""

        self._conn.execute(
            "INSERT INTO registry_keys (key_id, first_used_at) VALUES (%s, %s) ON CONFLICT DO NOTHING", (key_id, at)
        )

    # -- members ------------------------------------------------------------

    def insert(
        self, member_id: str, at: datetime, key_id: str, wrapped_key: bytes, sealed: bytes, digests: Iterable[LookupDigest]
    ) -> bool:
        """A new member with its wrapped key, sealed profile and digests; False (nothing written) when the id is taken."""

        try:
            with self._conn.transaction():  # a savepoint: a taken id leaves the outer transaction usable
                self._conn.execute(
                    "INSERT INTO members (member_id, created_at, updated_at) VALUES (%s, %s, %s)", (member_id, at, at)
                )
        except pg_errors.UniqueViolation:
            return False
        self._conn.execute(
            "INSERT INTO member_keys (member_id, key_id, wrapped_key) VALUES (%s, %s, %s)", (member_id, key_id, wrapped_key)
        )
        self._conn.execute(
            "INSERT INTO member_profiles (member_id, sealed_profile) VALUES (%s, %s)", (member_id, sealed)
        )
        self._insert_digests(member_id, digests)
        return True

    def read(self, member_id: str, *, for_update: bool = False) -> SealedMember | None:
        """The member ``member_id`` with its sealed data; None if the registry never had it.

        ``for_update``: the member's row stays locked until the transaction ends (an update or an erasure).
        """

        lock = " FOR UPDATE OF m" if for_update else ""
        row = self._conn.execute(
            "SELECT m.member_id, m.created_at, m.updated_at, m.forgotten_at, k.key_id, k.wrapped_key, p.sealed_profile"
            " FROM members m LEFT JOIN member_keys k USING (member_id) LEFT JOIN member_profiles p USING (member_id)"
            " WHERE m.member_id = %s" + lock,
            (member_id,),
        ).fetchone()
        if row is None:
            return None
        member = MemberRow(member_id=row[0], created_at=row[1], updated_at=row[2], forgotten_at=row[3])
        return SealedMember(
            row=member,
            key_id=row[4],
            wrapped_key=bytes(row[5]) if row[5] is not None else None,
            sealed_profile=bytes(row[6]) if row[6] is not None else None,
        )

    def replace_profile(self, member_id: str, at: datetime, sealed: bytes, digests: Iterable[LookupDigest]) -> None:
        """The member's sealed profile and digests replaced by these."""

        self._conn.execute("UPDATE member_profiles SET sealed_profile = %s WHERE member_id = %s", (sealed, member_id))
        self._conn.execute("DELETE FROM member_lookup WHERE member_id = %s", (member_id,))
        self._insert_digests(member_id, digests)
        self._conn.execute("UPDATE members SET updated_at = %s WHERE member_id = %s", (at, member_id))

    def erase(self, member_id: str, at: datetime) -> None:
        """Delete the member's sealed profile, wrapped data key and digests; the member's row says since when."""

        self._conn.execute("DELETE FROM member_profiles WHERE member_id = %s", (member_id,))
        self._conn.execute("DELETE FROM member_keys WHERE member_id = %s", (member_id,))
        self._conn.execute("DELETE FROM member_lookup WHERE member_id = %s", (member_id,))
        self._conn.execute(
            "UPDATE members SET forgotten_at = %s, updated_at = %s WHERE member_id = %s", (at, at, member_id)
        )

    def members(self) -> list[MemberRow]:
        """Every member, oldest first (no personal data)."""

        rows = self._conn.execute(
            "SELECT member_id, created_at, updated_at, forgotten_at FROM members ORDER BY created_at, member_id"
        )
        return [MemberRow(member_id=r[0], created_at=r[1], updated_at=r[2], forgotten_at=r[3]) for r in rows]

    # -- audit --------------------------------------------------------------

    def add_audit(self, at: datetime, actor: str, action: AuditAction, reason: str, member_id: str) -> AuditRecord:
        """Record an erasure or an export."""

        row = self._conn.execute(
            "INSERT INTO member_audit (at, actor, action, reason, member_id) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING audit_id, at",
            (at, actor, action, reason, member_id),
        ).fetchone()
        assert row is not None
        return AuditRecord(audit_id=row[0], at=row[1], actor=actor, action=action, reason=reason, member_id=member_id)

    def audit(self, member_id: str | None = None) -> list[AuditRecord]:
        """The audit records (of ``member_id`` only, when given), oldest first."""

        where, params = ("WHERE member_id = %s", (member_id,)) if member_id is not None else ("", ())
        rows = self._conn.execute(
            f"SELECT audit_id, at, actor, action, reason, member_id FROM member_audit {where} ORDER BY audit_id", params
        )
        return [
            AuditRecord(audit_id=r[0], at=r[1], actor=r[2], action=r[3], reason=r[4], member_id=r[5]) for r in rows
        ]

    # -- lookup digests -----------------------------------------------------

    def known(self, kind: LookupKind, digests: Iterable[bytes]) -> frozenset[bytes]:
        """Which of ``digests`` of ``kind`` belong to a member (one indexed query)."""

        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return frozenset()
        rows = self._conn.execute(
            "SELECT DISTINCT digest FROM member_lookup WHERE kind = %s AND digest = ANY(%s)", (kind, wanted)
        )
        return frozenset(bytes(row[0]) for row in rows)

    def all_digests(self, kind: LookupKind) -> frozenset[bytes]:
        """Every digest of ``kind`` the registry holds (32 bytes each)."""

        rows = self._conn.execute("SELECT DISTINCT digest FROM member_lookup WHERE kind = %s", (kind,))
        return frozenset(bytes(row[0]) for row in rows)

    def _insert_digests(self, member_id: str, digests: Iterable[LookupDigest]) -> None:
        unique = {(d.kind, d.digest) for d in digests}
        with self._conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO member_lookup (member_id, kind, digest) VALUES (%s, %s, %s)",
                [(member_id, kind, digest) for kind, digest in sorted(unique)],
            )

    # -- upkeep -------------------------------------------------------------

    def compact(self) -> None:
        """Rewrite the member tables (``VACUUM FULL``), then ``CHECKPOINT`` when the role may: deleted rows'
        bytes leave the tables' files. Locks each table while it is rewritten; not inside :meth:`transaction`."""

        try:
            self._conn.execute("VACUUM (FULL) " + ", ".join(REGISTRY_TABLES))
            try:
                self._conn.execute("CHECKPOINT")
            except pg_errors.InsufficientPrivilege:
                pass  # the server's next checkpoint removes the old files
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise RegistryUnavailable(f"member registry unavailable: {str(exc).strip().splitlines()[0]}") from None
