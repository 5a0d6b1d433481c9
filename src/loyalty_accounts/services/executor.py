"""The generic executor: any registry entry run read → plan → post → re-plan, exactly once.

Each command is looked up in the registry (:data:`loyalty_accounts.operations.OPERATIONS`)
by its operation; the entry says what to read from the ledger for its plan,
how to plan (pure) and what to post first (``setup``). The ledger is the only
book: what the executor keeps of a customer after posting on them
(:mod:`.last_known`) is only a guess to plan the next operation from, which
the ledger's sequence leg accepts or refuses at that operation's post.

Exactly once: the post carries the command's reference; a taken one comes back
from the ledger and is looked up. Same command fingerprint → the original is
returned (``replayed``), nothing posted; another → ``DuplicateOperation``. The
database's unique reference makes two posts impossible. Each outcome is
logged at info level (``loyalty -v``).

Never overspent: a plan names the exact amount it takes from each account
(what the reads say the account can give from the operation's date on), and
the ledger's own overdraft check decides. If a concurrent operation changed
the customer in between (its sequence leg, below, or a bucket emptied), the
post fails with ``INSUFFICIENT_FUND`` and the plan is rebuilt from fresh
reads (up to ``PLAN_ATTEMPTS`` times), so the customer either has the points
at the instant of posting or gets :class:`InsufficientPoints`.
Before re-planning or refusing, the reference is looked up once more: the
server checks funds before the reference, so the losing twin of the same
command run twice at once (the whole balance spent, or an engagement
counter's last slot taken) is refused for funds although its twin posted it;
it is answered with the original (``replayed``) instead. The same holds when
the twin posted between the first lookup and the reads a plan is built from
(the plan then refuses, or has nothing left to post).

Guarded: every transaction an operation posts on customers carries the
guard legs (:mod:`loyalty_accounts.operations.guard`). The customers'
operation counters and the closed-period mark are read before anything
else; the ledger then refuses the post if another operation of the same
customer posted since (``INSUFFICIENT_FUND``: read again and re-plan, as
above), or if the transaction is dated at or before the closed-through
instant. Operations on an account customers share (a stock, a pool's funds)
also carry its counter's leg (:mod:`loyalty_accounts.operations.counter`): a
post refused there is re-planned, and so is a plan its reads refused when a
shared counter they took has moved since (out of stock, or a pool too low). So each limit or amount a plan derives from its reads (a
campaign's remaining cap, a clawback debt, what is left to refund, what
a bucket holds from a date on) is exact when it posts. A command dated
at or before the closed-through instant is refused before anything is
posted (:class:`PeriodClosed`), and so is one dated more than
``clock_skew`` after this machine's clock.

Sweeps (release, expire) read every due account at once, plan one transaction
per account, each with its own reference, and post them in bulk, :data:`BATCH`
at a time; a customer's plans carry consecutive sequence numbers, and those
whose plans a concurrent operation made stale are read and planned again, up
to :data:`SWEEP_ROUNDS` times.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta, timezone
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
    PeriodClosed,
)
from ..numscript import Catalogue
from ..operations import OPERATIONS, Command, Operation, Reading, Registered, Sweep
from ..operations.base import refuse_personal_fields
from ..operations.counter import moved
from ..operations.guard import EPOCH, GuardState, guarded, read_every_guard, read_guard, resolve_latest
from ..operations.open_control import open_control
from ..ports import LedgerPort
from ..rules import Rules
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import iso_instant
from ..vocabulary.personal_data import PersonalDataPort
from .last_known import LastKnown
from .results import BatchResult, OperationResult, batch_of, points_of
from .turns import Turns

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
SWEEP_ROUNDS = 10
"""Times a sweep reads and plans again the customers whose plans concurrent operations made stale."""
log = logging.getLogger(__name__)
CLOCK_SKEW = timedelta(minutes=2)
"""How far after this machine's clock a command may be dated (clocks of callers differ a little)."""

Clock = Callable[[], datetime]
Counted = dict[str, int | None] | None
"""Where a plan's reads record the shared counters they took (address → count; see ``Reading.counted``)."""


def system_clock() -> datetime:
    """This machine's clock, in UTC."""

    return datetime.now(timezone.utc)


class _ReadWhileChanging(Exception):
    """A plan refused on reads made while another operation of its customer committed (``error``: the refusal)."""

    def __init__(self, error: LoyaltyError) -> None:
        super().__init__(str(error))
        self.error = error


class _Built(Frozen):
    """A command read and planned: the guarded plan (None: nothing to post), the state it was planned
    from, the transactions to post before it (setup of the entry, then control accounts to open) and
    what the guard read."""

    plan: TransactionPlan | None
    state: Any
    priors: tuple[TransactionPlan, ...] = ()
    guard: GuardState | None = None
    """The guard state the plan was built on (with ``watch``, the filters read with it), dated ``at``."""
    watch: tuple[str, ...] = ()
    at: datetime | None = None


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
        clock: Clock = system_clock,
        clock_skew: timedelta = CLOCK_SKEW,
        personal_data: PersonalDataPort | None = None,
    ) -> None:
        self.ledger = ledger
        self.personal_data = personal_data  # the registry's screen of each command (build_plan's patterns always run)
        self.clock = clock
        self.clock_skew = clock_skew
        self.chart = chart
        self.catalogue = catalogue
        self.rules = rules
        self.registry = registry
        self.schema_version = chart.schema_version()
        self.reading = Reading(ledger, chart, rules)
        self.turns = Turns()
        self.last_known = LastKnown()

    # -- one command ----------------------------------------------------------

    def operation(self, command: Command) -> Operation[Any, Any]:
        """The registry entry running ``command``; InvalidCommand if none (or only a sweep) is registered for it."""

        entry = self.registry.get(command.operation)
        if not isinstance(entry, Operation) or not isinstance(command, entry.command):
            raise InvalidCommand(f"no registered operation runs a {type(command).__name__} on its own")
        return entry

    def run(self, command: Command) -> OperationResult:
        """Run one command exactly once: replay it if its reference is taken, else read, plan and post it."""

        refuse_personal_fields(command, self.personal_data)
        entry = self.operation(command)
        with self.turns.of(command.customers()):
            return self._once(entry, command)

    # -- the guard ------------------------------------------------------------

    def check_date(self, dated: datetime | None, guard: GuardState) -> datetime:
        """The instant a transaction is dated at (``dated``, or now); refused when closed or too far ahead.

        Raises PeriodClosed when it is at or before the closed-through instant, InvalidCommand when it is
        more than ``clock_skew`` after now or not after the epoch (the closed-period leg bounds the mark by
        the instant in microseconds since the epoch, which must be at least 1).
        """

        now = self.clock()
        at = dated or now
        if at <= EPOCH:
            raise InvalidCommand(
                f"dated {iso_instant(at)}: operations must be dated after {iso_instant(EPOCH)} "
                "(the earliest instant is 1970-01-01T00:00:00.000001Z)"
            )
        if guard.closed_through is not None and at <= guard.closed_through:
            raise PeriodClosed(
                f"dated {iso_instant(at)}, but the books are closed through {iso_instant(guard.closed_through)}: "
                "nothing more can be posted at or before that instant"
            )
        if at > now + self.clock_skew:
            raise InvalidCommand(
                f"dated {iso_instant(at)}, more than {self.clock_skew.total_seconds():g} s after now ({iso_instant(now)}): "
                "operations cannot be dated in the future"
            )
        return at

    def open_controls(self, guard: GuardState, customers: Sequence[str]) -> None:
        """Give the control accounts transactions on ``customers`` need their balance rows (their sequence
        counters; the closed-period mark if it has none), in bulk (idempotent). Raises (LoyaltyError) when any
        opening fails, so that nothing relying on it is sent. Their references are not looked up first
        (``looked_up``): ``guard`` has just read these accounts without a row, which no opening leaves, and one
        another process opens meanwhile comes back as a conflict the bulk client settles as a replay.
        """

        opening = [open_control(self.chart, self.catalogue, address) for address in guard.to_open(self.chart, customers)]
        if opening:
            self.ledger.post_many(opening, schema_version=self.schema_version, looked_up=True)

    def _build(self, entry: Operation[Any, Any], command: Command) -> _Built:
        """Read the guard (or take the last known state), then the entry's state; plan and guard; post nothing.

        A plan from the last known state (:mod:`.last_known`) is only used
        when it has something to post and nothing to open first; any other
        outcome is decided again from a fresh read.
        """

        customers = command.customers()
        watch = tuple(entry.watch(command, self.chart)) if entry.watch is not None else ()
        if (guess := self.last_known.guess(customers, watch)) is not None:
            try:
                built = self._plan_on(entry, command, guess, watch)
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError:
                built = None
            if built is not None and built.plan is not None and not built.priors:
                return built
            self.last_known.forget(customers)
        # One customer: their buckets are read along (a few accounts), so that what the post
        # leaves is known for a spend of theirs as well as for an operation like this one.
        unique = list(dict.fromkeys(customers))
        if len(unique) == 1 and (buckets := self.chart.buckets_filter(unique[0])) not in watch:
            watch = (*watch, buckets)
        guard = read_guard(self.reading, customers, watch)
        counted: dict[str, int | None] = {}
        try:
            return self._plan_on(entry, command, guard, watch, counted)
        except (LedgerUnavailable, OutcomeUnknown):
            raise
        except LoyaltyError as exc:
            # The reads after the guard's are separate requests: one made after another operation
            # of the customer (or on a shared account the plan reads: a stock, a pool's funds)
            # committed mixes two states (a balance without a transaction the history read has),
            # and the plan may refuse what it should not. The counters say whether anything
            # committed since they were read (the customers' and the shared ones the reads took).
            now = read_guard(self.reading, customers)
            if any(now.count(c) != guard.count(c) for c in dict.fromkeys(customers)) or moved(self.reading, counted):
                raise _ReadWhileChanging(exc) from exc
            raise

    def _plan_on(
        self, entry: Operation[Any, Any], command: Command, guard: GuardState, watch: tuple[str, ...], counted: Counted = None
    ) -> _Built:
        """Read the entry's state on ``guard`` and plan; the shared counters its reads took go to ``counted``."""

        customers = command.customers()
        at = self.check_date(command.dated(), guard)
        if (past := command.in_the_past()) is not None and past[1] >= at:
            what, instant = past
            raise InvalidCommand(f"cannot {what} {iso_instant(instant)}: it is not in the past (now {iso_instant(at)})")
        guard = resolve_latest(self.reading, guard, customers, at)
        state = entry.read(command, self.reading.with_snapshot(guard.snapshot(watch), counted))
        plan = entry.plan(command, self.chart, self.catalogue, state)
        if plan is None:
            return _Built(plan=None, state=state)
        priors = tuple(entry.setup(command, self.chart, self.catalogue, state)) if entry.setup is not None else ()
        openings = tuple(open_control(self.chart, self.catalogue, address) for address in guard.to_open(self.chart, customers))
        dated = plan.timestamp or at
        return _Built(
            plan=guarded(plan, self.chart, self.catalogue, guard, customers, at=dated),
            state=state,
            priors=priors + openings,
            guard=guard,
            watch=watch,
            at=dated,
        )

    def _once(self, entry: Operation[Any, Any], command: Command) -> OperationResult:
        reference = entry.reference(command)
        for attempt in range(1, PLAN_ATTEMPTS + 1):
            # The reference is not looked up first: the post carries it, and a taken
            # one comes back from the ledger (the client answers with the original).
            # The balances, counters or earlier refunds read for the plan may already
            # include this very command, posted earlier or by another caller: a
            # refusal or an empty plan is then its replay, not the answer.
            try:
                built = self._build(entry, command)
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except _ReadWhileChanging as changing:
                # Planned from reads another operation of the customer changed: plan again.
                if (meanwhile := self._posted_meanwhile(command, reference)) is not None:
                    return meanwhile
                if attempt == PLAN_ATTEMPTS:
                    raise changing.error from None
                sleep(random.uniform(0, min(0.2, REPLAN_JITTER_S * attempt)))
                continue
            except LoyaltyError:
                if (meanwhile := self._posted_meanwhile(command, reference)) is not None:
                    return meanwhile
                raise
            plan, state = built.plan, built.state
            if plan is None:
                if (meanwhile := self._posted_meanwhile(command, reference)) is not None:
                    return meanwhile
                note = entry.no_plan_note(state) if entry.no_plan_note is not None else None
                return OperationResult(operation=command.operation, reference=reference, replayed=False, points=0, note=note)
            if built.priors:
                # Counters and control accounts to open first (a customer's first
                # operation, a day's first award): a replay must post nothing, so
                # the reference is looked up before anything is opened.
                if (meanwhile := self._posted_meanwhile(command, reference)) is not None:
                    return meanwhile
                for prior in built.priors:
                    self.ledger.post(prior, schema_version=self.schema_version)
            try:
                tx = self.ledger.post(plan, schema_version=self.schema_version)
            except InsufficientPoints:
                self.last_known.forget(command.customers())
                # Balances moved between our read and the post and the ledger
                # refused. Funds are checked before the reference, so the mover
                # may be this very command run by another caller: then answer
                # with its transaction. Otherwise read again and re-plan.
                if (meanwhile := self._posted_meanwhile(command, reference)) is not None:
                    return meanwhile
                if attempt == PLAN_ATTEMPTS:
                    raise InsufficientPoints(
                        f"{reference}: concurrent spends took the points planned for it {PLAN_ATTEMPTS} times in a row; "
                        "nothing was posted: run the same command again",
                        code="INSUFFICIENT_FUND",
                    ) from None
                sleep(random.uniform(0, min(0.2, REPLAN_JITTER_S * attempt)))
                continue
            except BaseException:
                self.last_known.forget(command.customers())
                raise
            self._remember(command, built, tx)
            log.info("%s: %s transaction #%d", reference, "replayed" if tx.replayed else "posted", tx.id)
            return self._result(command.operation, reference, tx, replayed=tx.replayed)
        raise AssertionError("unreachable")

    def _remember(self, command: Command, built: _Built, tx: PostedTransaction) -> None:
        """Keep the customer's state after ``tx`` for their next operation (see :mod:`.last_known`)."""

        customers = command.customers()
        if not customers:
            # A programme-wide change (a period closed): every guess may be stale.
            self.last_known.forget()
        elif tx.replayed or built.guard is None or built.at is None:
            self.last_known.forget(customers)
        else:
            self.last_known.remember(customers, built.watch, built.guard, at=built.at, postings=tx.postings)

    def _posted_meanwhile(self, command: Command, reference: str) -> OperationResult | None:
        """The replay of ``command`` if its reference has been taken since it was first looked up, else None.

        Raises DuplicateOperation when another command took it.
        """

        existing = self.ledger.find_by_reference(reference)
        return None if existing is None else self._replay(command, reference, existing)

    def _replay(self, command: Command, reference: str, existing: PostedTransaction) -> OperationResult:
        # The fingerprint is computed here only: the path without a conflict has no use for it.
        if not command.recorded_by(existing.metadata):
            raise DuplicateOperation(
                f"{reference} was already used for a different {command.operation}; "
                "use a new business key for a new operation"
            )
        return self._result(command.operation, reference, existing, replayed=True)

    def _result(
        self, operation: str, reference: str, tx: PostedTransaction, *, replayed: bool, asset: str | None = None
    ) -> OperationResult:
        points = points_of(tx, asset or self.chart.points_asset)
        return OperationResult(operation=operation, reference=reference, replayed=replayed, points=points, transactions=(tx,))

    # -- programme-wide runs --------------------------------------------------

    def sweep(self, name: str, as_of: datetime, customer: str | None, progress: Progress | None) -> BatchResult:
        """Run the sweep ``name`` as of ``as_of`` over one customer (or all): read what is due, plan, post in bulk.

        Customers whose plans a concurrent operation made stale (refused by
        their sequence leg) are read and planned again, up to
        :data:`SWEEP_ROUNDS` rounds; InsufficientPoints if they still are.
        Customer ids are screened like a command's (InvalidCommand): one given before any read, all due before any post.
        """

        entry = self.registry[name]
        if not isinstance(entry, Sweep):
            raise TypeError(f"{name} is not a sweep")
        if customer is not None:
            entry.commands_for([customer], as_of, self.personal_data)
        # The sweep's posts move the sequences of the customers it touches: guesses about them would only be refused.
        self.last_known.forget(None if customer is None else [customer])
        results: list[OperationResult] = []
        owners: list[str | None] = [customer]
        for _ in range(SWEEP_ROUNDS):
            stale: list[str] = []
            for owner in owners:
                posted, again = self._sweep_round(entry, as_of, owner, progress)
                results.extend(posted)
                stale.extend(again)
            if not stale:
                return batch_of(name, as_of, results)
            owners = list(stale)
            sleep(random.uniform(0, REPLAN_JITTER_S * 10))
        raise InsufficientPoints(
            f"{name}: concurrent operations kept changing {len(owners)} customer(s) while it ran; "
            "what was posted stays posted: run the same command again",
            code="INSUFFICIENT_FUND",
        )

    def _sweep_round(
        self, entry: Sweep[Any, Any], as_of: datetime, customer: str | None, progress: Progress | None
    ) -> tuple[list[OperationResult], list[str]]:
        """One read, plan and post of a sweep: (results posted, customers whose plans were stale)."""

        guard = read_every_guard(self.reading) if customer is None else read_guard(self.reading, [customer])
        at = self.check_date(as_of, guard)
        states = entry.read(self.reading, customer)
        plans: list[tuple[str, TransactionPlan]] = []
        for owner, command in entry.commands_for(states, at, self.personal_data if customer is None else None).items():
            # Each plan of the owner goes in the same bulk after the one before it.
            running = guard
            for plan in entry.plan(command, self.chart, self.catalogue, states[owner]):
                dated = plan.timestamp or at
                plans.append((owner, guarded(plan, self.chart, self.catalogue, running, [owner], at=dated)))
                running = running.advanced([owner], dated)
        self.open_controls(guard, sorted({owner for owner, _ in plans}))
        counted = entry.counts(self.chart) if entry.counts is not None else None
        results: list[OperationResult] = []
        stale: list[str] = []
        for start in range(0, len(plans), BATCH):
            chunk = plans[start : start + BATCH]
            try:
                posted = self.ledger.post_many([plan for _, plan in chunk], schema_version=self.schema_version)
            except InsufficientPoints as exc:
                refused = {failure["reference"] for failure in (exc.details or {}).get("failures", [])}
                for owner, plan in chunk:
                    if plan.reference in refused:
                        stale.append(owner)
                    elif (tx := self.ledger.find_by_reference(plan.reference)) is not None:
                        results.append(self._result(entry.name, plan.reference, tx, replayed=False, asset=counted))
                    else:
                        stale.append(owner)
            else:
                results.extend(
                    self._result(entry.name, plan.reference, tx, replayed=tx.replayed, asset=counted)
                    for (_, plan), tx in zip(chunk, posted)
                )
            if progress:
                progress(len(results), len(plans))
        return results, sorted(set(stale))
