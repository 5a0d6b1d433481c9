"""API keys: who may call the HTTP API, on which programme, for what (scopes).

A key is made by ``loyalty key create`` and shown once: ``lk_<key id>_<secret>`` (the id: 16 hex digits;
the secret: 32 random bytes, URL-safe base64). The registry database keeps the id, the programme, the
scopes, an expiry and SHA-256 of the secret, never the secret (``registry/migrations/0003_api_access.sql``).
A key belongs to one programme and is refused on any other.

Scopes (:func:`scope`):

============== =====================================================================
``member:read`` one member's own balance, history, statement and tier (the key names the member)
``pos:earn``    earn, refund, quote (a till)
``checkout:spend`` hold, capture, void, redeem (a checkout)
``partner:NAME`` exchanges with partner NAME only, and its own settlement statement
``finance:read`` the finance reports and reconciliation
``admin``       everything, the other operations (release, expire, transfer, convert, adjust, engage) included
============== =====================================================================
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Sequence

from ..errors import InvalidCommand, LoyaltyError, UnknownEntity
from ..members.store import RegistryStore
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import customer_id

__all__ = [
    "FIXED_SCOPES",
    "ApiKey",
    "ApiKeys",
    "KeyRefused",
    "KeyStore",
    "NotAllowed",
    "scope",
]

FIXED_SCOPES = ("member:read", "pos:earn", "checkout:spend", "finance:read", "admin")
"""Every scope but ``partner:NAME``."""
_PARTNER_SCOPE = re.compile(r"^partner:([a-z0-9][a-z0-9_-]{0,31})$")
_KEY_TEXT = re.compile(r"^lk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PROGRAMME_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


class KeyRefused(LoyaltyError):
    """No key, a malformed, unknown, revoked or expired key, or a key of another programme (HTTP 401)."""


class NotAllowed(LoyaltyError):
    """A valid key whose scopes do not cover the request (HTTP 403)."""


def scope(text: str, *, partners: Sequence[str] | None = None) -> str:
    """A scope, checked (see the module docstring); with ``partners``, a partner scope must name one of them.

    Raises InvalidCommand naming the scopes there are.
    """

    value = text.strip()
    if value in FIXED_SCOPES:
        return value
    match = _PARTNER_SCOPE.match(value)
    if match is None:
        raise InvalidCommand(f"--scope {value!r}: not a scope (scopes: {', '.join(FIXED_SCOPES)}, partner:NAME)")
    if partners is not None and match.group(1) not in partners:
        raise InvalidCommand(f"--scope {value}: the programme's chart has no partner {match.group(1)!r} (partners: {', '.join(partners) or 'none'})")
    return value


class ApiKey(Frozen):
    """A key as the registry holds it (never the secret)."""

    key_id: str
    programme: str
    scopes: tuple[str, ...]
    member: str | None
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def allows(self, wanted: str) -> bool:
        """Whether the key's scopes cover ``wanted`` (``admin`` covers everything)."""

        return "admin" in self.scopes or wanted in self.scopes

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


_COLUMNS = "key_id, programme, scopes, member, label, created_at, expires_at, revoked_at"


def _key(row: Sequence[object]) -> ApiKey:
    key_id, programme, scopes, member, label, created, expires, revoked = row
    return ApiKey(
        key_id=key_id, programme=programme, scopes=tuple(scopes), member=member, label=label,  # type: ignore[arg-type]
        created_at=created, expires_at=expires, revoked_at=revoked,  # type: ignore[arg-type]
    )


class KeyStore(RegistryStore):
    """The ``api_keys`` table (see :class:`~loyalty_accounts.members.store.RegistryStore` for transactions and errors)."""

    def add(self, key: ApiKey, digest: bytes) -> None:
        self._conn.execute(
            f"INSERT INTO api_keys ({_COLUMNS}, secret_digest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (key.key_id, key.programme, list(key.scopes), key.member, key.label, key.created_at, key.expires_at, None, digest),
        )

    def find(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        row = self._conn.execute(f"SELECT {_COLUMNS}, secret_digest FROM api_keys WHERE key_id = %s", (key_id,)).fetchone()
        return (_key(row[:-1]), bytes(row[-1])) if row is not None else None

    def keys(self, programme: str | None) -> list[ApiKey]:
        if programme is None:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        else:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE programme = %s ORDER BY created_at, key_id", (programme,))
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        cursor = self._conn.execute("UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL", (at, key_id))
        return cursor.rowcount == 1


class ApiKeys:
    """Make, list, revoke and check API keys in ``store``."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store

    def close(self) -> None:
        self._store.close()

    def create(
        self, *, programme: str, scopes: Sequence[str], label: str, expires_at: datetime, now: datetime,
        member: str | None = None, partners: Sequence[str] | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and the text to give the client (shown once). Raises InvalidCommand for a bad programme
        name, scope, label, expiry, a member that is no customer id, or a ``member:read`` key without its member
        (or a member without it)."""

        if not PROGRAMME_NAME.match(programme):
            raise InvalidCommand("--programme: letters, digits, '_' or '-', 1 to 63 of them")
        checked = tuple(dict.fromkeys(scope(s, partners=partners) for s in scopes))
        if not checked:
            raise InvalidCommand("--scope: give at least one")
        if not _LABEL.match(label):
            raise InvalidCommand("--label: a code of letters, digits, '_', '.' or '-' (up to 64), never a person's name")
        if expires_at <= now:
            raise InvalidCommand("--expires: must be in the future")
        if ("member:read" in checked) != (member is not None):
            raise InvalidCommand("a member:read key names its one member (--member ID), and only such a key does")
        if member is not None:
            customer_id(member)
        key_id = secrets.token_hex(8)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        key = ApiKey(
            key_id=key_id, programme=programme, scopes=checked, member=member, label=label,
            created_at=now, expires_at=expires_at, revoked_at=None,
        )
        with self._store.transaction():
            self._store.add(key, _digest(secret))
        return key, f"lk_{key_id}_{secret}"

    def keys(self, programme: str | None = None) -> list[ApiKey]:
        with self._store.transaction():
            return self._store.keys(programme)

    def revoke(self, key_id: str, now: datetime, *, programme: str) -> ApiKey:
        """Revoke ``programme``'s key at once (the next request with it is refused). Raises UnknownEntity for a key
        that is not one of the programme's."""

        with self._store.transaction():
            found = self._store.find(key_id)
            if found is None or found[0].programme != programme:
                raise UnknownEntity(f"no API key {key_id} in programme {programme}")
            self._store.revoke(key_id, now)
            again = self._store.find(key_id)
        assert again is not None
        return again[0]

    def authenticate(self, text: str | None, programme: str, now: datetime) -> ApiKey:
        """The key ``text`` presents, valid now for ``programme``. Raises KeyRefused, saying only missing, malformed or
        not valid: an unknown, wrong, revoked or expired key and another programme's all read the same, so a caller
        learns nothing about keys it does not hold (``loyalty key list`` tells the operator which)."""

        if not text:
            raise KeyRefused("no API key: send Authorization: Bearer lk_...")
        match = _KEY_TEXT.match(text.strip())
        if match is None:
            raise KeyRefused("malformed API key")
        with self._store.transaction():
            found = self._store.find(match.group(1))
        if found is None:
            raise KeyRefused("API key not valid")
        key, digest = found
        if not hmac.compare_digest(digest, _digest(match.group(2))):
            raise KeyRefused("API key not valid")
        if key.state(now) != "active" or key.programme != programme:
            raise KeyRefused("API key not valid")
        return key
