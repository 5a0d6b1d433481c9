"""What looks like personal data in text: the ledger must never hold any.

The ledger is append-only; personal data lives in the member registry, where it can be erased.
So every value a plan writes to the ledger (its metadata, its account addresses, its reference) is
screened before it is posted, and ``reconcile`` screens everything the ledger holds:

- by pattern, always (:func:`personal_kind`): an email address (``local@domain.tld``), or a phone
  number: ``+`` and 8 to 15 digits (E.164, separators allowed), or 7 to 15 digits in at least two
  groups separated by blanks, dashes, dots or brackets (``415-555-0100``, ``06 12 34 56 78``).
  Not flagged: dates (``2026-10-06``), instants, versions (``2026.11.3``), amounts (``1234567.89``),
  digits inside an id (``o-1234567``, ``20260930T030000Z``) or a hash;
- by the registry, when one is wired in (:class:`PersonalDataPort`): the emails, phones and full
  names of registered members, matched through the registry's keyed digests.

A refusal names where the value was (a metadata key, an account variable) and never repeats it. A message
quoting a refused value (a malformed id, a validation error's ``(got ...)``) asks :func:`not_repeated`, which
is warier than the patterns: the ledger's ids need their digits, a message can do without an echo.
"""

from __future__ import annotations

import re
from typing import Literal, Mapping, Protocol

PersonalKind = Literal["email", "phone", "member name"]

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
"""An email address anywhere in text."""
_NUMBER_RUN = re.compile(r"(?<![A-Za-z0-9/])\+?\(?[0-9][0-9 ().-]*[0-9](?![A-Za-z0-9])")
DIGIT_RUN = re.compile(r"\+?[0-9][0-9 ().-]*[0-9]")
"""A run of digits and separators anywhere, glued to letters too (``zoe4155550100``)."""
_INNER_BLANK = re.compile(r"\S\s+\S")
_GROUP_SEPARATORS = re.compile(r"[ ().-]+")
_DATE_OR_VERSION = re.compile(r"[0-9]{4}[-./][0-9]{1,2}(?:[-./][0-9]{1,2})?")
_AMOUNT = re.compile(r"[0-9]+\.[0-9]{1,4}")
_DATED = re.compile(r"[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}[-./ ]")
"""A run that starts with a whole date and goes on (``2026-12-01-1234567``): a dated sequence number, not a phone."""
MIN_GLUED_DIGITS = 10
MAX_GLUED_GROUP = 4
"""Inside an id (``o-415-555-0100``) only a whole national number in short groups counts: ``INV-2026-000123``,
``o-20261201-1234567`` or ``PO-123-4567`` are the ids businesses number their orders with."""
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15
MIN_E164_DIGITS = 8


def _is_phone(run: str, *, glued: bool = False, loose: bool = False) -> bool:
    """Whether a run of digits and separators is a phone number; ``glued``: it follows an id's prefix (``o-``);
    ``loose``: one group of digits is enough (``4155550100``: a national number typed without separators)."""

    digits = sum(c.isdigit() for c in run)
    if digits > MAX_PHONE_DIGITS:
        return False
    if run.startswith("+"):
        return digits >= MIN_E164_DIGITS
    core = run.strip("()")
    if digits < MIN_PHONE_DIGITS or _DATE_OR_VERSION.fullmatch(core) or _AMOUNT.fullmatch(core):
        return False
    if _DATED.match(core):
        return False
    if loose:
        return True
    groups = [g for g in _GROUP_SEPARATORS.split(core) if g]
    if glued and (digits < MIN_GLUED_DIGITS or any(len(g) > MAX_GLUED_GROUP for g in groups)):
        return False
    return len(groups) >= 2


def phone_numbers(text: str) -> tuple[str, ...]:
    """The runs of ``text`` that look like a phone number (see the module docstring), in order."""

    return tuple(
        m.group(0)
        for m in _NUMBER_RUN.finditer(text)
        if _is_phone(m.group(0).strip(), glued=m.start() >= 2 and text[m.start() - 1] in "-_" and text[m.start() - 2].isalnum())
    )


def personal_kind(text: str) -> PersonalKind | None:
    """``"email"`` or ``"phone"`` when ``text`` holds something that looks like one; None otherwise."""

    if EMAIL.search(text):
        return "email"
    if phone_numbers(text):
        return "phone"
    return None


def _echo_kind(text: str) -> str | None:
    """What ``text`` may be, for a message about to quote it: :func:`personal_kind`, or else ``"email"`` for
    any ``@``, ``"phone"`` for 7 to 15 digits in one group, even glued to letters (``4155550100``,
    ``zoe4155550100``), ``"name"`` for blanks between words (``Zoe Martin``); None: it may be quoted."""

    if (kind := personal_kind(text)) is not None:
        return kind
    if "@" in text:
        return "email"
    if any(_is_phone(m.group(0), loose=True) for m in DIGIT_RUN.finditer(text)):
        return "phone"
    if _INNER_BLANK.search(text):
        return "name"
    return None


def not_repeated(text: str) -> str | None:
    """What a message shows instead of ``text`` when it may be personal data (``a value that looks like an
    email, not repeated``); None when it may be quoted (``'c42'``, ``'-5'``).

    Warier than :func:`personal_kind`: any ``@``, 7 to 15 digits in one group (``4155550100``) and blanks between
    words (``Zoe Martin``) are not repeated either. A registered member's name written without blanks in a
    malformed value (``zoe.martin`` as a customer id) cannot be told by pattern: the registry's screen sees
    the values of a command that was made, and a message made while a value is checked has no registry to ask."""

    kind = _echo_kind(text)
    return None if kind is None else f"a value that looks like {'an' if kind == 'email' else 'a'} {kind}, not repeated"


def contact_not_repeated(text: str) -> str | None:
    """:func:`not_repeated` for values that are not ids (amounts, instants, rates): an email or a phone number is
    not repeated, but blanks between words are (``2026-05-01 10:00`` is a malformed instant, not a name)."""

    kind = _echo_kind(text)
    return None if kind in (None, "name") else not_repeated(text)


class PersonalDataPort(Protocol):
    """Knows members' personal data (the registry): which of some values hold a member's email, phone or name."""

    def members_data(self, values: Mapping[str, str]) -> dict[str, PersonalKind]:
        """The names of ``values`` whose value holds a member's data, with what it is (no value repeated)."""
        ...


def screened(values: Mapping[str, str], port: PersonalDataPort | None = None) -> dict[str, PersonalKind]:
    """Which of ``values`` (by name) look like personal data: by pattern, then by ``port`` (if any) for the rest."""

    found: dict[str, PersonalKind] = {}
    for name, value in values.items():
        kind = personal_kind(value)
        if kind is not None:
            found[name] = kind
    if port is not None:
        rest = {name: value for name, value in values.items() if name not in found}
        if rest:
            found.update(port.members_data(rest))
    return found


def refusal(found: Mapping[str, PersonalKind], where: str) -> str:
    """The message refusing ``found`` in ``where``: names each place and what it looked like, never the value."""

    places = "; ".join(f"{name} looks like {'an' if kind == 'email' else 'a'} {kind}" for name, kind in sorted(found.items()))
    return (
        f"refused: personal data in {where} ({places}); the ledger keeps no personal data: "
        f"name the member by the opaque id `loyalty member add` gives, and use codes, not prose"
    )
