"""The generic executor: any registry entry run read → plan → post → re-plan, exactly once.

Each command is looked up in the registry (:data:`loyalty_accounts.operations.OPERATIONS`)
by its operation; the entry says what to read from the ledger for its plan,
how to plan (pure) and what to post first (``setup``). Nothing is kept on the
Python side: the ledger is the only book.

Exactly once: before planning, the command's reference is looked up. Found
with the same command fingerprint → the original is returned (``replayed``)
and nothing is posted; found with another fingerprint → ``DuplicateOperation``.
Not found → plan and post; the client resolves a concurrent duplicate the same
way, and the database's unique reference makes two posts impossible.

Never overspent: a plan lists the buckets the balances read say are needed,
but the ledger's own overdraft check decides. If a concurrent spend emptied a
bucket in between, the post fails with ``INSUFFICIENT_FUND`` and the plan is
rebuilt from fresh balances (up to ``PLAN_ATTEMPTS`` times), so the customer either has the
points at the instant of posting or gets :class:`InsufficientPoints`.
Before re-planning or refusing, the reference is looked up once more: the
server checks funds before the reference, so the losing twin of the same
command run twice at once (the whole balance spent, or an engagement
counter's last slot taken) is refused for funds although its twin posted it;
it is answered with the original (``replayed``) instead. The same holds when
the twin posted between the first lookup and the reads a plan is built from
(the plan then refuses, or has nothing left to post).

Sweeps (release, expire) read every due account at once, plan one
transaction per account, each with its own reference, and post them in
bulk, :data:`BATCH` at a time.
"""

from __future__ import annotations

import random
from datetime import datetime
from time import sleep
from typing import Any, Callable, Mapping, Sequence

from ..chart import Chart
from ..errors import (
    DuplicateOperation,
    InsufficientPoints,
    InvalidCommand,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
)
from ..numscript import Catalogue
from ..operations import OPERATIONS, Command, Operation, Reading, Registered, Sweep
from ..ports import LedgerPort
from ..rules import Rules
from ..types import PostedTransaction, TransactionPlan
from .results import BatchResult, OperationResult, batch_of, points_of

Progress = Callable[[int, int], None]
"""Called with (done, total) while a batch operation posts."""

PLAN_ATTEMPTS = 30
"""Plans tried for one command while the ledger refuses them for funds. Each refusal
means a concurrent spend took planned points first, so what the customer has shrinks
every round and a plan that no longer fits is refused by the plan itself (with the
customer's spendable points). Twenty racers on twenty one-bucket spends needed up to
nineteen re-plans on the v2.4.12 server; three left a third of them refused."""
REPLAN_JITTER_S = 0.01
"""Random wait before a re-plan, times the attempt number (at most 0.2 s): racers that
lost the same bucket do not all re-read and re-post in lockstep."""
BATCH = 100
"""Plans of a sweep posted per bulk request."""


class Executor:
    """Runs the registry's entries over one ledger, with the chart, the templates and the rules (None: none)."""

    def __init__(
        self,
        ledger: LedgerPort,
        chart: Chart,
        catalogue: Catalogue,
        rules: Rules | None = None,
        *,
        registry: Mapping[str, Registered] = OPERATIONS,
    ) -> None:
        self.ledger = ledger
        self.chart = chart
        self.catalogue = catalogue
        self.rules = rules
        self.registry = registry
        self.schema_version = chart.schema_version()
        self.reading = Reading(ledger, chart, rules)

    # -- one command ----------------------------------------------------------

    def operation(self, command: Command) -> Operation[Any, Any]:
        """The registry entry running ``command``; InvalidCommand if none (or only a sweep) is registered for it."""

        entry = self.registry.get(command.operation)
        if not isinstance(entry, Operation) or not isinstance(command, entry.command):
            raise InvalidCommand(f"no registered operation runs a {type(command).__name__} on its own")
        return entry

    def run(self, command: Command) -> OperationResult:
        """Run one command exactly once: replay it if its reference is taken, else read, plan and post it."""

        return self._once(self.operation(command), command)

    def _build(self, entry: Operation[Any, Any], command: Command) -> tuple[TransactionPlan | None, Any]:
        """Read the entry's state, post its setup transactions, and plan; (plan, state)."""

        state = entry.read(command, self.reading)
        if entry.setup is not None:
            for prior in entry.setup(command, self.chart, self.catalogue, state):
                self.ledger.post(prior, schema_version=self.schema_version)
        return entry.plan(command, self.chart, self.catalogue, state), state

    def _once(self, entry: Operation[Any, Any], command: Command) -> OperationResult:
        reference = entry.reference(command)
        fingerprint = command.fingerprint()
        existing = self.ledger.find_by_reference(reference)
        if existing is not None:
            return self._replay(command, reference, fingerprint, existing)
        for attempt in range(1, PLAN_ATTEMPTS + 1):
            # The balances, counters or earlier refunds read for the plan may already
            # include this very command, posted by another caller since the lookup
            # above: a refusal or an empty plan is then its replay, not the answer.
            try:
                plan, state = self._build(entry, command)
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError:
                if (meanwhile := self._posted_meanwhile(command, reference, fingerprint)) is not None:
                    return meanwhile
                raise
            if plan is None:
                if (meanwhile := self._posted_meanwhile(command, reference, fingerprint)) is not None:
                    return meanwhile
                note = entry.no_plan_note(state) if entry.no_plan_note is not None else None
                return OperationResult(operation=command.operation, reference=reference, replayed=False, points=0, note=note)
            try:
                tx = self.ledger.post(plan, schema_version=self.schema_version)
            except InsufficientPoints:
                # Balances moved between our read and the post and the ledger
                # refused. Funds are checked before the reference, so the mover
                # may be this very command run by another caller: then answer
                # with its transaction. Otherwise read again and re-plan.
                if (meanwhile := self._posted_meanwhile(command, reference, fingerprint)) is not None:
                    return meanwhile
                if attempt == PLAN_ATTEMPTS:
                    raise InsufficientPoints(
                        f"{reference}: concurrent spends took the points planned for it {PLAN_ATTEMPTS} times in a row; "
                        "nothing was posted: run the same command again",
                        code="INSUFFICIENT_FUND",
                    ) from None
                sleep(random.uniform(0, min(0.2, REPLAN_JITTER_S * attempt)))
                continue
            return self._result(command.operation, reference, tx, replayed=tx.replayed)
        raise AssertionError("unreachable")

    def _posted_meanwhile(self, command: Command, reference: str, fingerprint: str) -> OperationResult | None:
        """The replay of ``command`` if its reference has been taken since it was first looked up, else None.

        Raises DuplicateOperation when another command took it.
        """

        existing = self.ledger.find_by_reference(reference)
        return None if existing is None else self._replay(command, reference, fingerprint, existing)

    def _replay(self, command: Command, reference: str, fingerprint: str, existing: PostedTransaction) -> OperationResult:
        if existing.metadata.get("command_hash") != fingerprint:
            raise DuplicateOperation(
                f"{reference} was already used for a different {command.operation}; "
                "use a new business key for a new operation"
            )
        return self._result(command.operation, reference, existing, replayed=True)

    def _result(self, operation: str, reference: str, tx: PostedTransaction, *, replayed: bool) -> OperationResult:
        return OperationResult(
            operation=operation,
            reference=reference,
            replayed=replayed,
            points=points_of(tx, self.chart.points_asset),
            transactions=(tx,),
        )

    # -- programme-wide runs --------------------------------------------------

    def sweep(self, name: str, as_of: datetime, customer: str | None, progress: Progress | None) -> BatchResult:
        """Run the sweep ``name`` as of ``as_of`` over one customer (or all): read what is due, plan, post in bulk."""

        entry = self.registry[name]
        if not isinstance(entry, Sweep):
            raise TypeError(f"{name} is not a sweep")
        plans: list[TransactionPlan] = []
        for owner, state in sorted(entry.read(self.reading, customer).items()):
            plans.extend(entry.plan(entry.command_for(owner, as_of), self.chart, self.catalogue, state))
        return self.post_batch(name, as_of, plans, progress)

    def post_batch(
        self, operation: str, as_of: datetime, plans: Sequence[TransactionPlan], progress: Progress | None
    ) -> BatchResult:
        """Post ``plans`` through the bulk endpoint, :data:`BATCH` at a time, with the same exactly-once rules."""

        results: list[OperationResult] = []
        for start in range(0, len(plans), BATCH):
            chunk = plans[start : start + BATCH]
            for plan, tx in zip(chunk, self.ledger.post_many(chunk, schema_version=self.schema_version)):
                results.append(self._result(operation, plan.reference, tx, replayed=tx.replayed))
            if progress:
                progress(len(results), len(plans))
        return batch_of(operation, as_of, results)
