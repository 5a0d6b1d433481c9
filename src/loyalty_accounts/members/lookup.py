"""Keyed digests of members' personal data: "is this value a member's?" without decrypting anything.

Beside each sealed profile the registry keeps HMAC-SHA256 digests, under a key derived from the
registry key (:attr:`~.crypto.RegistryKey.lookup_key`), of the profile's values in a normal form:

==============  ==========================================================================
kind            normal form of the value
==============  ==========================================================================
``email``       the address stripped and case-folded: ``Ann.Lee@Example.com`` -> ``ann.lee@example.com``
``phone``       E.164: blanks, dots, dashes and brackets dropped: ``+1 (415) 555-0100`` -> ``+14155550100``
``name``        the name's tokens (below) joined by one space: ``Élodie O'Brien`` -> ``elodie obrien``
``name_token``  each token of the name: letters and digits, accents dropped, case-folded, apostrophes
                removed, split on anything else, tokens of one character left out
==============  ==========================================================================

A number typed in its national form (``4155550100``, ``06 12 34 56 78``) has no country code to put it
in E.164; :func:`national_phone_forms` gives every E.164 number it may be the national form of (one per
country calling code whose numbering plan admits it, from ``phonenumbers``' metadata), each of which is
digested as a ``phone``: so a national form is matched against the digests already stored, with no
digest of its own.

A scan for personal data (in the ledger's metadata, say) puts each candidate it finds in text through
the same :class:`LookupDigests` and asks the registry which digests it knows
(:meth:`~.service.MemberRegistry.known`), or loads every digest of a kind once
(:meth:`~.service.MemberRegistry.known_digests`) and matches in memory: 32 bytes a value, no profile
decrypted. Without the registry key the digests cannot be tested against guesses; with it they can,
so they are personal data too, and ``member forget`` deletes them with the profile.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import cache, lru_cache
from typing import Literal

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from ..vocabulary.frozen import Frozen
from .profile import Profile, e164

LookupKind = Literal["email", "phone", "name", "name_token"]
LOOKUP_KINDS: tuple[LookupKind, ...] = ("email", "phone", "name", "name_token")
MIN_TOKEN = 2
"""The shortest name token digested: a lone initial would match half of any text."""
_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
_NOT_WORD = re.compile(r"[\W_]+")


class LookupDigest(Frozen):
    """One digest of one of a member's values."""

    kind: LookupKind
    digest: bytes


def email_form(text: str) -> str:
    """An email address as digested: stripped and case-folded."""

    return text.strip().casefold()


def phone_form(text: str) -> str | None:
    """A phone number as digested (E.164), or None when ``text`` is not one once punctuation is dropped."""

    return e164(text)


@cache
def _numbering_plans() -> tuple[tuple[str, re.Pattern[str] | None, str | None, frozenset[int]], ...]:
    """Per country calling code and region: (code, national prefix as parsed, its transform rule, the lengths
    of a national significant number), from ``phonenumbers``' metadata; regions that share all four once."""

    plans = set()
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            meta = PhoneMetadata.metadata_for_region(region)  # None for non-geographic codes (+800...)
            if meta is not None:
                lengths = frozenset(n for n in meta.general_desc.possible_length if n > 0)
                plans.add((str(code), meta.national_prefix_for_parsing, meta.national_prefix_transform_rule, lengths))
    return tuple((code, re.compile(prefix) if prefix else None, rule, lengths) for code, prefix, rule, lengths in sorted(plans, key=str))


@lru_cache(maxsize=4096)
def national_phone_forms(digits: str) -> frozenset[str]:
    """The E.164 numbers ``digits`` (a number written without ``+``, digits only) may be the national form of.

    ``4155550100`` -> ``+14155550100`` (and ``+44...``, ``+33...``: one per country whose numbering plan
    has national numbers of that length); ``0612345678`` -> ``+33612345678`` too, its national prefix
    (the trunk ``0``) dropped as the country's plan says. Every one is a possible number, none is known
    to be in service: the registry's digests say which is a member's.
    """

    forms = set()
    for code, prefix, rule, lengths in _numbering_plans():
        numbers = [digits]
        if prefix is not None and (match := prefix.match(digits)) is not None and match.end():
            numbers.append((match.expand(rule) if rule and match.lastindex else "") + digits[match.end() :])
        forms.update(f"+{code}{number}" for number in numbers if len(number) in lengths)
    return frozenset(forms)


def name_tokens(text: str) -> tuple[str, ...]:
    """The tokens of a name (or of any text) as digested, in order (see the module docstring)."""

    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = _NOT_WORD.split(_APOSTROPHES.sub("", plain).casefold())
    return tuple(word for word in words if len(word) >= MIN_TOKEN)


class LookupDigests:
    """Digests of values under the registry's lookup key: the same value always gives the same digest."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, kind: LookupKind, normal: str) -> bytes:
        """HMAC-SHA256 of a value already in its ``kind``'s normal form (32 bytes)."""

        return hmac.new(self._key, kind.encode() + b"\x00" + normal.encode("utf-8"), hashlib.sha256).digest()

    def email(self, text: str) -> bytes:
        return self.digest("email", email_form(text))

    def phone(self, text: str) -> bytes | None:
        normal = phone_form(text)
        return self.digest("phone", normal) if normal is not None else None

    def name(self, text: str) -> bytes | None:
        tokens = name_tokens(text)
        return self.digest("name", " ".join(tokens)) if tokens else None

    def tokens(self, text: str) -> tuple[bytes, ...]:
        """A digest per distinct token of ``text``, in order of first appearance."""

        return tuple(self.digest("name_token", token) for token in dict.fromkeys(name_tokens(text)))

    def of_profile(self, profile: Profile) -> tuple[LookupDigest, ...]:
        """Every digest the registry keeps for ``profile``: email, phone, name and each name token."""

        found: list[LookupDigest] = []
        if profile.email is not None:
            found.append(LookupDigest(kind="email", digest=self.email(profile.email)))
        if profile.phone is not None:
            phone = self.phone(profile.phone)
            if phone is not None:
                found.append(LookupDigest(kind="phone", digest=phone))
        name = self.name(profile.name)
        if name is not None:
            found.append(LookupDigest(kind="name", digest=name))
        found.extend(LookupDigest(kind="name_token", digest=d) for d in self.tokens(profile.name))
        return tuple(found)
