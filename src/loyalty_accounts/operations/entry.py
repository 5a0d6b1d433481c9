"""The registry entry of an operation: everything about it, in one value its module defines.

Each operation module ends with ``OPERATION = Operation(...)`` (a command
that posts one transaction) or ``OPERATION = Sweep(...)`` (a programme-wide
run posting one transaction per due account); :mod:`loyalty_accounts.operations`
finds them and builds the registry from them, and the services' generic executor
(:mod:`loyalty_accounts.services.executor`) runs any entry: read the state,
plan, post, re-plan when the ledger refuses the plan for funds.

An entry holds:

- ``command``: the command type; its ``operation`` names the entry, its
  ``key_field`` and :meth:`~.base.Command.reference` give the business key
  and the transaction's reference;
- ``templates``: the Numscript templates (``numscript/<name>.num``) its plans use;
- ``read``: the state the plan needs, read through a
  :class:`~.reading.Reading` (read-only; may raise a business refusal);
- ``plan``: the pure plan, ``plan(command, chart, catalogue, state)`` (no I/O, no clock);
- ``writes``: the metadata its transactions carry (:class:`Writes`: the keys
  always written, those written only in some cases, key prefixes, and which
  key holds the business key), besides the ``operation``, ``template`` and
  ``command_hash`` every plan adds. The reconciliation's metadata check and
  the customer statement read it from here: it is the one table of it;
- optionally ``setup``: transactions to post before the plan's (pure; see
  :mod:`.engage`, which opens its award counters), ``no_plan_note``: what
  the answer says when the plan has nothing to post, and ``watch``: the
  address filters of the accounts its read needs, ``watch(command, chart)``,
  read with the guard in the same request (:class:`~.reading.Snapshot`), so
  an operation dated after the customer's latest transaction reads nothing
  more than that one listing.

Adding an operation: one module of this package (its command, its read, its
pure plan and its ``OPERATION``) plus its ``numscript/<template>.num``;
nothing else to edit: the registry finds every module defining ``OPERATION``
(:func:`loyalty_accounts.operations.discover_operations`), and
``LoyaltyProgram.execute`` runs its commands. A service method or a CLI
command is optional, for what the generic answer does not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Generic, Iterable, Mapping, Sequence, TypeVar

from pydantic import model_validator

from ..chart import Chart
from ..numscript import Catalogue
from ..types import TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.personal_data import PersonalDataPort
from .base import GUARD_METADATA, RESERVED_METADATA, Command, refuse_personal_commands
from .reading import Reading

C = TypeVar("C", bound=Command)
S = TypeVar("S")


class Writes(Frozen):
    """Metadata keys an operation's plans always write, may write, and which one is its business key.

    ``optional_prefixes`` admits families of keys (an earn's pricing
    breakdown, ``r_*``, whose number of keys depends on the campaigns).
    Keys are optional when the plans write them only in some cases, or when
    transactions posted by earlier versions of the plans lack them.
    ``business_key`` is the key holding the caller's business key (one of
    ``required``); operations without one (release, expire, open_counter) are
    identified by their reference (run instant, customer, dates).
    """

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    business_key: str | None = None
    optional_prefixes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _business_key_is_required(self) -> Writes:
        if self.business_key is not None and self.business_key not in self.required:
            raise ValueError(f"business key {self.business_key!r} must be one of the required keys")
        return self

    def allows(self, key: str) -> bool:
        """Whether a transaction of this operation may carry ``key`` (the keys every plan adds included)."""

        return (
            key in RESERVED_METADATA
            or key in GUARD_METADATA
            or key in self.required
            or key in self.optional
            or any(key.startswith(prefix) for prefix in self.optional_prefixes)
        )


@dataclass(frozen=True)
class Entry(Generic[C]):
    """What every entry says: its command type, templates and the metadata it writes."""

    command: type[C]
    templates: tuple[str, ...]
    writes: Writes

    @property
    def name(self) -> str:
        """The operation's name: its command's ``operation``."""

        return self.command.operation


@dataclass(frozen=True)
class Operation(Entry[C], Generic[C, S]):
    """An operation posting one transaction per command, run by the executor exactly once."""

    read: Callable[[C, Reading], S]
    plan: Callable[[C, Chart, Catalogue, S], TransactionPlan | None]
    setup: Callable[[C, Chart, Catalogue, S], Sequence[TransactionPlan]] | None = None
    no_plan_note: Callable[[S], str | None] | None = None
    watch: Callable[[C, Chart], Sequence[str]] | None = None

    def reference(self, command: C) -> str:
        """The reference of the command's transaction (its business key under the operation's name)."""

        return command.reference()


@dataclass(frozen=True)
class Sweep(Entry[C], Generic[C, S]):
    """A programme-wide run: one command per customer with something due, several plans per command.

    ``read(reading, customer)`` gives the state per customer (of that customer
    only, or of every customer for None); each plan carries its own reference
    (bucket and as-of instant), so running again posts nothing new.
    """

    read: Callable[[Reading, str | None], Mapping[str, S]]
    plan: Callable[[C, Chart, Catalogue, S], Sequence[TransactionPlan]]
    counts: Callable[[Chart], str] | None = None
    """The asset whose units its results count as ``points`` (None: the chart's points asset)."""

    def command_for(self, customer: str, as_of: datetime) -> C:
        """The run's command for one customer."""

        command: C = self.command.model_validate({"customer": customer, "as_of": as_of})
        return command

    def commands_for(self, customers: Iterable[str], as_of: datetime, personal_data: PersonalDataPort | None = None) -> dict[str, C]:
        """The run's command for each of ``customers`` (sorted), their ids screened for personal data as a
        command's fields are, all at once (:func:`~.base.refuse_personal_commands`: InvalidCommand)."""

        commands = {customer: self.command_for(customer, as_of) for customer in sorted(customers)}
        refuse_personal_commands(list(commands.values()), personal_data)
        return commands
