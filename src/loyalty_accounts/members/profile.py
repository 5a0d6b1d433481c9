"""A member's profile: the personal data the registry keeps sealed, checked when it enters.

A :class:`Profile` is a name, an email address, a phone number, a country and consents; only the
name is required. Each field is checked and put in one canonical form, so that equal values are
equal bytes (and equal lookup digests, see :mod:`.lookup`):

- ``name``: 1-200 characters after surrounding blanks are stripped and inner runs of blanks made one
  space; no control characters.
- ``email``: an address's syntax (``email-validator``, no DNS lookup); the domain lower-cased.
- ``phone``: E.164, ``+`` then 8 to 15 digits, the first not 0; blanks, dots, dashes and brackets
  are dropped first (``+1 (415) 555-0100`` is ``+14155550100``). Nothing else is read into it.
- ``country``: an ISO 3166-1 alpha-2 code, upper-cased (``fr`` is ``FR``).
- ``consents``: named booleans, each with the instant it was given or withdrawn
  (:data:`CONSENT_NAMES`).

A malformed field is :class:`~loyalty_accounts.errors.InvalidCommand` (exit 2) naming the field and
never repeating its value (it is personal data): ``invalid profile: email: not an email address``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal, Mapping

from email_validator import EmailNotValidError, validate_email
from iso3166 import countries_by_alpha2
from pydantic import AfterValidator, BeforeValidator, ValidationError

from ..errors import InvalidCommand
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import Instant, utc

CONSENT_NAMES = ("email_marketing", "sms_marketing", "partner_sharing", "profiling")
"""The consents a member gives or withdraws: marketing by email, marketing by text message, sharing
with the programme's partners, profiling (personalised offers)."""
ConsentName = Literal["email_marketing", "sms_marketing", "partner_sharing", "profiling"]
CLEARABLE = ("email", "phone", "country")
"""The optional fields an update may remove."""
MAX_NAME = 200
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s.()\-]")


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a name is text")
    text = " ".join(value.split())
    if not text:
        raise ValueError("a name cannot be blank")
    if len(text) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise ValueError("a name has no control characters")
    return text


def _email(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("an email address is text")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("not an email address") from None
    return str(checked.normalized)


def e164(text: str) -> str | None:
    """``text`` as an E.164 phone number once blanks, dots, dashes and brackets are dropped; None if it is not one."""

    compact = _PHONE_PUNCTUATION.sub("", text)
    return compact if E164.match(compact) else None


def _phone(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a phone number is text")
    number = e164(value)
    if number is None:
        raise ValueError("not an E.164 phone number (+ then 8 to 15 digits, e.g. +14155550100)")
    return number


def _country(value: object) -> str:
    if not isinstance(value, str) or value.strip().upper() not in countries_by_alpha2:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (e.g. FR, US)")
    return value.strip().upper()


PersonName = Annotated[str, BeforeValidator(_name)]
EmailAddress = Annotated[str, BeforeValidator(_email)]
PhoneNumber = Annotated[str, BeforeValidator(_phone)]
CountryCode = Annotated[str, BeforeValidator(_country)]


class Consent(Frozen):
    """One consent: given (True) or withdrawn / never given (False), and since when (UTC)."""

    granted: bool
    at: Annotated[Instant, AfterValidator(utc)]


class Profile(Frozen):
    """What the registry keeps about a member, sealed: see the module docstring for each field's rule."""

    name: PersonName
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    country: CountryCode | None = None
    consents: Mapping[ConsentName, Consent] = {}


class ProfileChanges(Frozen):
    """What ``member update`` changes: each field given replaces the profile's, each consent given is set
    (its instant is the update's), each field of ``clear`` is removed."""

    name: PersonName | None = None
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    country: CountryCode | None = None
    consents: Mapping[ConsentName, bool] = {}
    clear: tuple[Literal["email", "phone", "country"], ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to change."""
        return not (self.consents or self.clear) and all(
            getattr(self, field) is None for field in ("name", "email", "phone", "country")
        )


def consents_at(given: Mapping[str, bool], at: datetime, before: Mapping[str, Consent] | None = None) -> dict[str, Consent]:
    """``before`` with each consent of ``given`` set as of ``at``; a consent whose value does not change
    keeps the instant it was given or withdrawn."""

    out = dict(before or {})
    for name, granted in given.items():
        previous = out.get(name)
        if previous is None or previous.granted != granted:
            out[name] = Consent(granted=granted, at=at)
    return dict(sorted(out.items()))


def new_profile(fields: Mapping[str, Any], consents: Mapping[str, bool], at: datetime) -> Profile:
    """A profile of ``fields`` (name, email, phone, country) whose ``consents`` are given as of ``at``.

    Raises InvalidCommand naming each malformed field (never its value).
    """

    return checked(Profile, {**fields, "consents": consents_at(_consent_names(consents), at)})


def changes(fields: Mapping[str, Any], consents: Mapping[str, bool], clear: tuple[str, ...] = ()) -> ProfileChanges:
    """The changes an update asks for. Raises InvalidCommand naming each malformed field, a field both
    given and cleared, or a field that cannot be cleared."""

    given = {name: value for name, value in fields.items() if value is not None}
    both = sorted(set(given) & set(clear))
    if both:
        raise InvalidCommand(f"invalid profile changes: {both[0]} is both given and cleared")
    unknown = sorted(set(clear) - set(CLEARABLE))
    if unknown:
        raise InvalidCommand(f"invalid profile changes: {unknown[0]} cannot be cleared (only {', '.join(CLEARABLE)})")
    return checked(ProfileChanges, {**given, "consents": _consent_names(consents), "clear": tuple(dict.fromkeys(clear))})


def apply(profile: Profile, update: ProfileChanges, at: datetime) -> Profile:
    """``profile`` with ``update`` applied as of ``at``."""

    fields = profile.model_dump(exclude={"consents"})
    fields.update({name: getattr(update, name) for name in ("name", "email", "phone", "country") if getattr(update, name)})
    fields.update({name: None for name in update.clear})
    return Profile(**fields, consents=consents_at(update.consents, at, profile.consents))


def _consent_names(consents: Mapping[str, bool]) -> dict[str, bool]:
    unknown = sorted(set(consents) - set(CONSENT_NAMES))
    if unknown:
        raise InvalidCommand(f"invalid profile: no consent named {unknown[0]!r} (consents: {', '.join(CONSENT_NAMES)})")
    return dict(consents)


def checked(model: type[Frozen], data: Mapping[str, Any]) -> Any:
    """``model(**data)``, a validation failure as InvalidCommand naming each field and why, never its value."""

    try:
        return model(**data)
    except ValidationError as exc:
        parts = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "(profile)"
            parts.append(f"{field}: {str(error['msg']).removeprefix('Value error, ')}")
        raise InvalidCommand("invalid profile: " + "; ".join(parts)) from None
