"""Webhook signatures: HMAC-SHA256 over the delivery's timestamp and body, with the webhook's secret.

Every delivery carries the header::

    Loyalty-Signature: t=1764561600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``t`` is when the delivery was signed (Unix seconds) and ``v1`` the lowercase hex of
``HMAC-SHA256(key = the secret's UTF-8 bytes, message = f"{t}.".encode() + body)``. A receiver
recomputes it over the raw body it received, compares in constant time, and refuses a ``t`` too far
from its own clock (a replayed delivery): :func:`verify_signature`, or the few lines in the README.
A retry is signed afresh (a new ``t``); the event id stays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

__all__ = ["SIGNATURE_HEADER", "TOLERANCE_S", "new_secret", "sign", "verify_signature"]

SIGNATURE_HEADER = "Loyalty-Signature"
TOLERANCE_S = 300
"""How far (seconds) a signature's ``t`` may be from the receiver's clock, by default."""
SECRET_PREFIX = "whsec_"
_MAX_DIGITS = 18
"""The longest ``t`` read (a Unix time in seconds has 10 digits until 2286; ``int`` refuses 4,301 and more)."""


def new_secret() -> str:
    """A fresh webhook secret: ``whsec_`` and the URL-safe base64 of 32 random bytes."""

    return SECRET_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``Loyalty-Signature`` value for ``body`` signed at ``timestamp`` (default: now, Unix seconds)."""

    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether ``header`` (a ``Loyalty-Signature`` value) signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``.

    Any ``v1`` entry may match (a header can carry several). False for a malformed header, never an exception.
    """

    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()) or len(stamps[0]) > _MAX_DIGITS:
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = _mac(secret, t, body)
    return any(hmac.compare_digest(expected.encode("ascii"), candidate.encode("utf-8")) for candidate in fields.get("v1", []))
