"""The registry's side of the personal-data screen: which values hold a member's email, phone or name.

:class:`RegistryScreen` is the :class:`~loyalty_accounts.vocabulary.personal_data.PersonalDataPort`
the app wires into the executor (and ``reconcile``) when a member registry is configured. It digests
the candidates it finds in each value with the registry's :class:`~.lookup.LookupDigests` and asks the
registry which digests it knows; no profile is decrypted, nothing is stored. Candidates:

- ``email``: each email-shaped run (:data:`~loyalty_accounts.vocabulary.personal_data.EMAIL`);
- ``phone``: each run of digits (and of its groups, ``42-4155550100`` holds ``4155550100``) of 8 to 15
  digits, with ``+`` put in front when it has none (a number typed without it, ``14155550100`` or
  ``1-415-555-0100``, is still the member's), and, without ``+``, of 7 to 15 digits as the national form
  of a number (:func:`~.lookup.national_phone_forms`: ``4155550100`` or ``06 12 34 56 78`` is the
  member's ``+1 415 555 0100`` or ``+33 6 12 34 56 78``), each form digested as a ``phone``;
- ``member name``: each run of consecutive tokens (:func:`~.lookup.name_tokens`) that are all tokens
  of some member's name, whose joined form is a member's full name (``zoe_martin`` for Zoë Martin;
  ``martin`` alone is no member's full name).

``preload`` loads every digest of each kind once (:meth:`~.service.MemberRegistry.known_digests`) and
matches in memory: for a scan of the whole ledger. Otherwise each call asks the registry (one
indexed query per kind that has candidates): for the few values of one plan.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Mapping

from ..vocabulary.personal_data import DIGIT_RUN, EMAIL, MAX_PHONE_DIGITS, MIN_E164_DIGITS, MIN_PHONE_DIGITS, PersonalKind
from .lookup import LOOKUP_KINDS, LookupDigests, LookupKind, name_tokens, national_phone_forms
from .service import MemberRegistry

_E164_DIGITS = range(MIN_E164_DIGITS, MAX_PHONE_DIGITS + 1)
_NATIONAL_DIGITS = range(MIN_PHONE_DIGITS, MAX_PHONE_DIGITS + 1)
_GROUP_SEPARATORS = re.compile(r"[ ().-]+")
_CACHED_NUMBERS = 65536


class RegistryScreen:
    """Values matched against the member registry's digests (see the module docstring)."""

    def __init__(self, registry: Callable[[], MemberRegistry], *, preload: bool = False) -> None:
        """``registry`` gives the registry when first needed (opening it is left until a value is screened)."""

        self._registry = registry
        self._preload = preload
        self._loaded: dict[LookupKind, frozenset[bytes]] | None = None
        self._numbers: dict[tuple[str, bool], tuple[bytes, ...]] = {}

    def _known(self, kind: LookupKind, digests: list[bytes]) -> frozenset[bytes]:
        if not self._preload:
            return self._registry().known(kind, digests) if digests else frozenset()
        if self._loaded is None:
            registry = self._registry()
            self._loaded = {kind: registry.known_digests(kind) for kind in LOOKUP_KINDS}
        return self._loaded[kind].intersection(digests)

    @property
    def _digests(self) -> LookupDigests:
        return self._registry().digests

    def members_data(self, values: Mapping[str, str]) -> dict[str, PersonalKind]:
        """The names of ``values`` holding a member's email, phone or full name, with which (never the value)."""

        found: dict[str, PersonalKind] = {}
        kinds: tuple[tuple[LookupKind, PersonalKind], ...] = (("email", "email"), ("phone", "phone"))
        for kind, label in kinds:
            by_digest = {d: name for name, value in values.items() for d in self._candidates(kind, value)}
            for digest in self._known(kind, list(by_digest)):
                found.setdefault(by_digest[digest], label)
        tokens = {name: name_tokens(value) for name, value in values.items() if name not in found}
        token_digest = {t: self._digests.digest("name_token", t) for ts in tokens.values() for t in ts}
        known_digests = self._known("name_token", list(token_digest.values()))
        known_tokens = {t for t, d in token_digest.items() if d in known_digests}
        names: dict[bytes, str] = {}
        for name, ts in tokens.items():
            for run in _known_runs(ts, known_tokens):
                names[self._digests.digest("name", " ".join(run))] = name
        for digest in self._known("name", list(names)):
            found.setdefault(names[digest], "member name")
        return found

    def _candidates(self, kind: str, value: str) -> Iterable[bytes]:
        if kind == "email":
            return [self._digests.email(m.group(0)) for m in EMAIL.finditer(value)]
        digests: list[bytes] = []
        for m in DIGIT_RUN.finditer(value):
            run = m.group(0)
            groups = [g for g in _GROUP_SEPARATORS.split(run.lstrip("+")) if g]
            for start in range(len(groups)):
                for end in range(start + 1, len(groups) + 1):
                    digits = "".join(groups[start:end])
                    if len(digits) > MAX_PHONE_DIGITS:
                        break
                    digests.extend(self._number(digits, international=start == 0 and run.startswith("+")))
        return digests

    def _number(self, digits: str, *, international: bool) -> tuple[bytes, ...]:
        """The ``phone`` digests of the numbers ``digits`` may be (``+`` put in front; its national forms unless
        ``international``), remembered: the same dates and ids come back in every transaction of a scan."""

        key = (digits, international)
        if key not in self._numbers:
            forms = {"+" + digits} if len(digits) in _E164_DIGITS and digits[0] != "0" else set()
            if not international and len(digits) in _NATIONAL_DIGITS:
                forms |= national_phone_forms(digits)
            if len(self._numbers) >= _CACHED_NUMBERS:
                self._numbers.clear()
            self._numbers[key] = tuple(self._digests.digest("phone", form) for form in sorted(forms))
        return self._numbers[key]


def _known_runs(tokens: tuple[str, ...], known: set[str]) -> Iterable[tuple[str, ...]]:
    """Every run of consecutive ``tokens`` all in ``known`` (each start, each length)."""

    for start in range(len(tokens)):
        end = start
        while end < len(tokens) and tokens[end] in known:
            end += 1
            yield tokens[start:end]
