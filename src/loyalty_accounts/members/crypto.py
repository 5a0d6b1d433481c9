"""Envelope encryption of members' profiles: a data key per member, wrapped by the registry key.

::

    registry key (32 bytes, configuration)      -- never stored in the registry
      ├─ HKDF-SHA256 "wrap" ──> wrapping key    seals each member's data key
      ├─ HKDF-SHA256 "lookup" ─> lookup key     keys the HMAC digests of :mod:`.lookup`
      └─ HKDF-SHA256 "key id" ─> key id         16 hex digits naming the key (not secret)

    member's data key (32 random bytes, one per member)
      wrapped = seal(wrapping key, data key, bound to "member-key:<id>")      -> member_keys
      sealed  = seal(data key, profile JSON, bound to "member-profile:<id>")  -> member_profiles

``seal`` is AES-256-GCM (the ``cryptography`` package): a version byte, a random 96-bit nonce, the
ciphertext and its 128-bit tag. The member's id is the associated data, so bytes moved to another
member's row do not open. Destroying the wrapped data key leaves the sealed profile, wherever a copy
of it survives, without a key: that is the erasure (``member forget`` deletes both).

Errors: a key that does not open what it is given, or bytes altered, is
:class:`~loyalty_accounts.errors.MemberDataUnreadable`; a malformed registry key
:class:`~loyalty_accounts.errors.InvalidCommand` (exit 2), never repeating the key.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import InvalidCommand, MemberDataUnreadable
from ..settings import REGISTRY_KEY_BYTES, decode_registry_key

FORMAT = b"\x01"
"""The first byte of every sealed value: AES-256-GCM with a 12-byte nonce."""
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
_KEY_AD = b"loyalty-accounts member-key:"
_PROFILE_AD = b"loyalty-accounts member-profile:"
_SECRET_AD = b"loyalty-accounts secret:"


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"loyalty-accounts registry " + purpose).derive(secret)


class RegistryKey:
    """The registry's key-encryption key (from configuration) and the keys derived from it.

    ``key_id`` names the key in the registry (which key wrapped which data key) and in messages; it
    reveals nothing of the key. The key itself is never printed (``repr`` shows the id only).
    """

    __slots__ = ("_wrapping", "_lookup", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != REGISTRY_KEY_BYTES:
            raise InvalidCommand(f"registry key must be {REGISTRY_KEY_BYTES} bytes, got {len(secret)}")
        self._wrapping = _derive(secret, b"wrap v1")
        self._lookup = _derive(secret, b"lookup v1")
        self.key_id = _derive(secret, b"key id v1")[:8].hex()

    def __repr__(self) -> str:
        return f"RegistryKey(key_id={self.key_id!r})"

    @classmethod
    def from_text(cls, text: str, *, source: str) -> RegistryKey:
        """The key written as base64 in ``source`` (a variable or a file, named by errors).

        Raises InvalidCommand naming ``source`` when the text is not the base64 of 32 bytes.
        """

        try:
            return cls(decode_registry_key(text))
        except ValueError as exc:
            raise InvalidCommand(f"{source}: {exc}") from None

    @classmethod
    def from_file(cls, path: Path) -> RegistryKey:
        """The key in the file ``path`` (its base64 text). Raises InvalidCommand naming the file."""

        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not base64 text"
            raise InvalidCommand(f"registry key file {path}: {reason}") from None
        return cls.from_text(text, source=f"registry key file {path}")

    @property
    def lookup_key(self) -> bytes:
        """The key of the lookup digests (:mod:`.lookup`)."""
        return self._lookup

    def wrap(self, data_key: bytes, member_id: str) -> bytes:
        """``data_key`` sealed for ``member_id`` (see the module docstring)."""
        return _seal(self._wrapping, data_key, _KEY_AD + member_id.encode())

    def unwrap(self, wrapped: bytes, member_id: str) -> bytes:
        """The data key ``wrapped`` holds for ``member_id``. Raises MemberDataUnreadable."""
        return _open(self._wrapping, wrapped, _KEY_AD + member_id.encode(), f"member {member_id}'s data key")


    def seal_secret(self, secret: bytes, owner: str) -> bytes:
        """``secret`` (a webhook's signing secret, say) sealed for ``owner`` (its id) under the registry key."""
        return _seal(self._wrapping, secret, _SECRET_AD + owner.encode())

    def open_secret(self, sealed: bytes, owner: str) -> bytes:
        """The secret ``sealed`` holds for ``owner``. Raises MemberDataUnreadable."""
        return _open(self._wrapping, sealed, _SECRET_AD + owner.encode(), f"{owner}'s secret")


def new_key_text() -> str:
    """A fresh registry key as configuration holds it: the base64 of 32 random bytes."""

    return base64.b64encode(secrets.token_bytes(REGISTRY_KEY_BYTES)).decode("ascii")


def key_file(path: Path) -> tuple[RegistryKey, bool]:
    """The key in the file ``path``, made first (a fresh key, mode 0600, its folder 0700 if new) when there is
    none; and whether it was made now. Two processes making it at once read the same key.

    Raises InvalidCommand naming the file when it cannot be read or made, or holds no valid key.
    """

    if path.exists():
        return RegistryKey.from_file(path), False
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(new_key_text() + "\n")
        os.link(draft, path)  # atomic, and refused when another process made the file first
    except FileExistsError:
        return RegistryKey.from_file(path), False
    except OSError as exc:
        raise InvalidCommand(f"registry key file {path}: cannot be made ({exc.strerror})") from None
    finally:
        draft.unlink(missing_ok=True)
    return RegistryKey.from_file(path), True


def new_data_key() -> bytes:
    """A fresh member data key: 32 random bytes."""

    return AESGCM.generate_key(bit_length=256)


def seal_profile(data_key: bytes, plaintext: bytes, member_id: str) -> bytes:
    """``plaintext`` sealed with the member's ``data_key``, bound to ``member_id``."""

    return _seal(data_key, plaintext, _PROFILE_AD + member_id.encode())


def open_profile(data_key: bytes, sealed: bytes, member_id: str) -> bytes:
    """The plaintext of ``sealed`` for ``member_id``. Raises MemberDataUnreadable."""

    return _open(data_key, sealed, _PROFILE_AD + member_id.encode(), f"member {member_id}'s profile")


def _seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def _open(key: bytes, sealed: bytes, associated: bytes, what: str) -> bytes:
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != FORMAT:
        raise MemberDataUnreadable(f"{what} is not in a format this release reads")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, associated)
    except InvalidTag:
        raise MemberDataUnreadable(f"{what} does not decrypt: its bytes were altered or moved from another member") from None
