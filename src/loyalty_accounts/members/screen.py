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
  of some member's name, in any order, whose joined form is a member's full name (``zoe_martin``,
  ``Martin Zoe`` or ``martin.zoe`` for Zoë Martin; ``martin`` alone is no member's full name). A token
  that is no member's is cut where letters meet digits and each run of letters into member's tokens
  joined with nothing between them (``zoemartin``, ``martinzoe42``), when it can be: a run of up to
  :data:`MAX_REORDERED` tokens is tried in every order, a longer one in its own.

``preload`` loads every digest of each kind once (:meth:`~.service.MemberRegistry.known_digests`) and
matches in memory: for a scan of the whole ledger. Otherwise each call asks the registry (one
indexed query per kind that has candidates): for the few values of one plan.
"""

from __future__ import annotations

import re
from functools import partial
from itertools import permutations
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from ..vocabulary.personal_data import DIGIT_RUN, EMAIL, MAX_PHONE_DIGITS, MIN_E164_DIGITS, MIN_PHONE_DIGITS, PersonalKind
from .lookup import LOOKUP_KINDS, MIN_TOKEN, LookupDigests, LookupKind, name_tokens, national_phone_forms
from .service import MemberRegistry

_E164_DIGITS = range(MIN_E164_DIGITS, MAX_PHONE_DIGITS + 1)
_NATIONAL_DIGITS = range(MIN_PHONE_DIGITS, MAX_PHONE_DIGITS + 1)
_GROUP_SEPARATORS = re.compile(r"[ ().-]+")
T = TypeVar("T")
_CACHED = 65536
"""Values whose digests a screen remembers (the same dates, codes and ids come back in every transaction of a scan)."""
_LETTERS = re.compile(r"[^\W\d_]+")
_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|[0-9]+")
MAX_REORDERED = 5
"""The longest run of name tokens tried in every order (5! = 120 digests); a longer one is tried as it stands."""
MAX_JOINED = 4
"""The most member's tokens one token is cut into (``zoemartin``: two)."""


class RegistryScreen:
    """Values matched against the member registry's digests (see the module docstring)."""

    def __init__(self, registry: Callable[[], MemberRegistry], *, preload: bool = False) -> None:
        """``registry`` gives the registry when first needed (opening it is left until a value is screened)."""

        self._registry = registry
        self._preload = preload
        self._loaded: dict[LookupKind, frozenset[bytes]] | None = None
        self._remembered: dict[tuple[str, str], Any] = {}

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
        known = self._known_tokens({t for ts in tokens.values() for t in ts})
        names: dict[bytes, str] = {}
        for name, ts in tokens.items():
            for run in _known_runs(_as_known(ts, known)):
                for order in _orders(run):
                    names[self._digests.digest("name", " ".join(order))] = name
        for digest in self._known("name", list(names)):
            found.setdefault(names[digest], "member name")
        return found

    def _known_tokens(self, tokens: set[str]) -> set[str]:
        """Which of ``tokens``, and of the pieces their runs of letters may be cut into (``zoe`` and ``martin``
        of ``zoemartin``), are tokens of a member's name. One query a piece further into the runs: one for
        tokens whose runs no member's token begins, two for ``zoemartin``, at most :data:`MAX_JOINED`."""

        known: set[str] = set()
        asked: set[str] = set()
        pieces = set(tokens)
        reached = {(part, 0) for t in tokens for part in _LETTERS.findall(t) if len(part) >= MIN_TOKEN}
        for _ in range(MAX_JOINED):
            pieces |= {part[at:end] for part, at in reached for end in range(at + MIN_TOKEN, len(part) + 1)}
            known |= self._known_texts("name_token", pieces - asked)
            asked |= pieces
            reached = {(part, end) for part, at in reached for end in range(at + MIN_TOKEN, len(part)) if part[at:end] in known}
            if not reached:
                break
            pieces = set()
        return known

    def _known_texts(self, kind: LookupKind, texts: set[str]) -> set[str]:
        """Which of ``texts`` (each in ``kind``'s normal form) the registry knows."""

        digested = {text: self._remember((kind, text), partial(self._digests.digest, kind, text)) for text in texts}
        known = self._known(kind, list(digested.values()))
        return {text for text, digest in digested.items() if digest in known}

    def _remember(self, key: tuple[str, str], make: Callable[[], T]) -> T:
        """``make()``, computed once for ``key`` (up to :data:`_CACHED` keys): digests depend on nothing else."""

        if key not in self._remembered:
            if len(self._remembered) >= _CACHED:
                self._remembered.clear()
            self._remembered[key] = make()
        remembered: T = self._remembered[key]
        return remembered

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
        ``international``)."""

        def digests() -> tuple[bytes, ...]:
            forms = {"+" + digits} if len(digits) in _E164_DIGITS and digits[0] != "0" else set()
            if not international and len(digits) in _NATIONAL_DIGITS:
                forms |= national_phone_forms(digits)
            return tuple(self._digests.digest("phone", form) for form in sorted(forms))

        return self._remember(("+phone" if international else "phone", digits), digests)


def _as_known(tokens: Sequence[str], known: set[str]) -> list[str | None]:
    """``tokens`` as members' tokens: each known one, each other cut into known ones (``zoemartin42``: ``zoe``,
    ``martin``, None), None for each part that cannot be (a run of digits, letters no member's tokens make)."""

    found: list[str | None] = []
    for token in tokens:
        if token in known:
            found.append(token)
            continue
        for part in _LETTERS_OR_DIGITS.findall(token):
            cut = _cut(part, known)
            found.extend(cut if cut else [None])
    return found


def _cut(part: str, known: set[str]) -> tuple[str, ...] | None:
    """``part`` as the fewest known tokens joined with nothing between them (at most :data:`MAX_JOINED`), or None."""

    fewest: dict[int, tuple[str, ...]] = {0: ()}
    for at in range(len(part)):
        if at in fewest:
            for end in range(at + MIN_TOKEN, len(part) + 1):
                piece = part[at:end]
                if piece in known and (end not in fewest or len(fewest[at]) + 1 < len(fewest[end])):
                    fewest[end] = fewest[at] + (piece,)
    cut = fewest.get(len(part))
    return cut if cut and len(cut) <= MAX_JOINED else None


def _known_runs(tokens: Sequence[str | None]) -> Iterable[tuple[str, ...]]:
    """Every run of consecutive ``tokens`` none of which is None (each start, each length)."""

    for start in range(len(tokens)):
        run: tuple[str, ...] = ()
        for token in tokens[start:]:
            if token is None:
                break
            run += (token,)
            yield run


def _orders(run: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    """``run`` in every order when it has at most :data:`MAX_REORDERED` tokens, else as it stands."""

    return set(permutations(run)) if len(run) <= MAX_REORDERED else (run,)
