"""Importing order files: every order earned as a single ``earn`` would, posted in bulk.

Two streaming passes over the file (:mod:`.order_file`), so memory stays
bounded whatever its size (what is held: the set of order ids, the invalid
rows and one chunk):

1. **Validate** every row (:mod:`.import_validation`). Any invalid row:
   nothing is posted and each is reported with its line number, unless
   ``skip_invalid`` (then they are left out).
2. **Post** the valid orders in chunks. A chunk is a run of the file holding
   **at most one order per customer** (:mod:`.import_chunks`): a customer's
   next order starts the next chunk, so it is read and priced after the
   earlier one is on the ledger, exactly as when
   the orders are earned one by one in file order (the tier it reaches,
   the campaign caps it has used, the clawback debt it has repaid). Each
   order is read and priced by the single earn's own read and plan
   (:data:`loyalty_accounts.operations.earn.OPERATION`) at its own instant,
   then guarded (:mod:`loyalty_accounts.operations.guard`: its customer's
   sequence, read with the chunk's other customers before anything else, and
   the closed-period leg), and the chunk is posted in one bulk request
   (``LedgerPort.post_many``). While a chunk is priced and posted, the next
   one's reference lookup and the reads of its customers that are not in
   the current chunk run on a background thread (:mod:`.import_ahead`).

Exactly once: an order's reference is the single earn's (``earn:{order_id}``)
and its fingerprint the command's, so an order already earned (by ``earn``
or an earlier import) is answered as ``replayed`` by the chunk's reference
lookup (one request, made before the chunk is read, so the bulk post does
not repeat it), and one earned with other content is refused
(DuplicateOperation); an order whose reference another process takes
between that lookup and the post is settled by the bulk post's conflict
path, the same way. Running the same file again posts nothing new; a run
stopped halfway posts only the rest when run again.

Concurrency: when another operation posts on a customer between the chunk's
reads and its post, that order's sequence leg fails (INSUFFICIENT_FUND);
the rest of the chunk stays posted, and the stale orders are read, priced
and posted again (up to :data:`STALE_ROUNDS` rounds, then refused), as the
executor's sweeps do.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import (
    DuplicateOperation,
    InvalidCommand,
    LedgerUnavailable,
    LoyaltyError,
    OutcomeUnknown,
)
from ..operations import EarnCommand, Reading
from ..operations import earn as earn_op
from ..operations.guard import GuardState, guarded, microseconds, read_guard
from ..types import PostedTransaction
from .chunk_book import ChunkBook
from .executor import Executor
from .import_ahead import Ahead, ChunkRead, Planned, pipelined
from .import_chunks import chunks_by_customer
from .import_summary import DEFAULT_CHUNK, ImportSummary, Progress, plan_points
from .import_summary import Tally as _Tally
from .import_validation import validate_orders
from .order_file import FileFormat, read_orders
from .results import points_of

MAX_CHUNK = 100
"""The server's default bulk limit (``--bulk-max-size``): a bigger chunk would be refused whole."""
STALE_ROUNDS = 10
"""Times the orders a concurrent operation made stale are read and priced again before being refused."""


class ImportService:
    """``import_orders`` over the executor's ledger, chart, templates and rules."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._reading = executor.reading
        self._chart = executor.chart

    def import_orders(
        self,
        source: Path,
        *,
        skip_invalid: bool = False,
        chunk_size: int | None = None,
        progress: Progress | None = None,
        file_format: FileFormat | None = None,
    ) -> ImportSummary:
        """Validate then earn every order of ``source`` (see the module docstring); the summary.

        Raises InvalidCommand when the file cannot be read as a whole or
        ``chunk_size`` is not in 1..:data:`MAX_CHUNK`; LedgerUnavailable or
        OutcomeUnknown when the ledger stops answering (what was posted stays
        posted: run the same file again to post the rest).
        """

        size = DEFAULT_CHUNK if chunk_size is None else chunk_size
        if not 1 <= size <= MAX_CHUNK:
            raise InvalidCommand(f"chunk size must be between 1 and {MAX_CHUNK}, got {size}")
        rules = self._reading.require_rules("import")
        started = time.monotonic()
        invalid, valid = validate_orders(source, file_format, rules, self._executor)
        if invalid and not skip_invalid:
            return ImportSummary(invalid=tuple(invalid), orders=valid, chunk_size=size, elapsed_s=time.monotonic() - started)
        skipped = {line for line, _ in invalid}
        tally = _Tally(valid, progress)
        orders = (
            row.command
            for row in read_orders(source, self._chart.timezone, file_format)
            if row.command is not None and row.line not in skipped
        )
        for chunk, ahead in pipelined(chunks_by_customer(orders, size), self._read_ahead):
            self._post_chunk(chunk, ahead, tally)
            tally.report()
        elapsed = time.monotonic() - started
        counts = tally.counts
        return ImportSummary(
            posted=counts["posted"],
            replayed=counts["replayed"],
            refused=counts["refused"],
            nothing=counts["nothing"],
            invalid=tuple(invalid),
            refusals=tuple(tally.refusals),
            points=tally.points,
            orders=valid,
            chunk_size=size,
            elapsed_s=elapsed,
            per_second=tally.done() / elapsed if elapsed > 0 else 0.0,
        )

    # -- pass 2 ---------------------------------------------------------------

    def _post_chunk(self, chunk: Sequence[EarnCommand], ahead: Ahead, tally: _Tally) -> None:
        """Read, price, guard and post one chunk (one order per customer), again for stale orders."""

        pending = self._not_yet_earned(chunk, ahead.taken, tally)
        read, looked_up = ahead.read, ahead.taken is not None
        for _ in range(STALE_ROUNDS):
            if not pending:
                return
            plans, stale = self._plan(pending, tally, read)
            read = None  # a second round reads what it needs afresh
            pending = stale + (self._post(plans, tally, looked_up=looked_up) if plans else [])
        for command in pending:
            tally.refuse(
                command.order_id,
                f"concurrent operations kept changing customer {command.customer} while the import ran "
                f"({STALE_ROUNDS} tries); nothing was posted for it: import the file again",
            )

    def _read_ahead(self, chunk: list[EarnCommand], busy: frozenset[str]) -> Ahead:
        """A chunk's reads that need not wait for the chunk before it (:mod:`.import_ahead`); on the
        background thread.

        Its references (one listing) and the guard and book of its customers
        that are not in ``busy`` and have no usable guess: those it would read
        anyway (a capped campaign's usage is a balance of the customer's, read
        with the rest). An order whose reference is taken is not read for.
        """

        finder = getattr(self._executor.ledger, "find_by_references", None)
        if finder is None:
            return Ahead(taken=None)
        taken: Mapping[str, PostedTransaction] = finder([command.reference() for command in chunk])
        unread = [
            command
            for command in chunk
            if command.reference() not in taken and command.customer not in busy and self._guess(command) is None
        ]
        if not unread:
            return Ahead(taken=taken)
        guard, book = self._read(unread)
        return Ahead(taken=taken, read=self._planned_on_read(unread, guard, book))

    def _not_yet_earned(
        self, chunk: Sequence[EarnCommand], taken: Mapping[str, PostedTransaction] | None, tally: _Tally
    ) -> list[EarnCommand]:
        """The chunk's orders no transaction holds the reference of (``taken``, as listed ahead; None:
        not looked up); the others are tallied.

        An order earned before (by this file run earlier, or by ``earn``) is a
        replay, one earned with other content a refusal: neither is read or
        priced, so running a file again costs one listing per chunk.
        """

        if taken is None:
            return list(chunk)
        pending: list[EarnCommand] = []
        for command in chunk:
            existing = taken.get(command.reference())
            if existing is None:
                pending.append(command)
            else:
                tally.earned_before(command, existing)
        return pending

    def _guess(self, command: EarnCommand) -> GuardState | None:
        """What this process knows of the command's customer, if the order is dated after their latest
        transaction (else None: it must be read)."""

        guess = self._executor.last_known.guess([command.customer], self._watch(command))
        latest = None if guess is None else guess.latest.get(command.customer)
        if guess is not None and latest is not None and microseconds(command.ordered_at) > latest:
            return guess
        return None

    def _plan(
        self, commands: Sequence[EarnCommand], tally: _Tally, ahead: ChunkRead | None = None
    ) -> tuple[list[Planned], list[EarnCommand]]:
        """Each command's guarded plan, and the commands to read again (see :meth:`_plan_read`); orders
        settled without a post (refused, nothing, replayed) are tallied.

        A customer this process posted on last (:mod:`.last_known`) and whose
        order is dated after their latest transaction is planned from what
        that post left, with no read; the ledger's sequence leg checks it. The
        others, and any order such a guess would not post, are read together
        (the guard, then a :class:`ChunkBook`). Campaign usage is a balance
        the guess keeps like any watched account (the earn's ``watch``).
        """

        executor = self._executor
        guesses: dict[str, GuardState] = {}
        for command in commands:
            if (guess := self._guess(command)) is not None:
                guesses[command.customer] = guess
        # These posts move the customers' sequences: what was known of them is kept again only once posted.
        executor.last_known.forget([command.customer for command in commands])
        plans: list[Planned] = []
        unread: list[EarnCommand] = []
        for command in commands:
            guess = guesses.get(command.customer)
            if guess is None:
                unread.append(command)
                continue
            reading = Reading(executor.ledger, self._chart, self._reading.rules, snapshot=guess.snapshot(self._watch(command)))
            try:
                planned = self._plan_one(command, reading, guess)
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError:
                planned = None
            if planned is None:
                unread.append(command)  # what a guess would not post is decided on a fresh read
            else:
                plans.append(planned)
        stale: list[EarnCommand] = []
        if ahead is not None and any(ahead.covers(command) for command in unread):
            # Read and priced while the chunk before was posted (their customers were not in it).
            read, stale = self._settle_read(ahead.only(unread), tally)
            plans.extend(read)
            unread = [command for command in unread if not ahead.covers(command)]
        if unread:
            read, again = self._plan_read(unread, tally)
            plans.extend(read)
            stale.extend(again)
        return plans, stale

    def _read(self, commands: Sequence[EarnCommand]) -> tuple[GuardState, ChunkBook]:
        """The guard of the commands' customers, then their :class:`ChunkBook` (in that order: whatever
        changes a customer after the guard was read makes the sequence leg refuse the plan)."""

        executor = self._executor
        customers = [command.customer for command in commands]
        guard = read_guard(Reading(executor.ledger, self._chart, self._reading.rules), customers)
        book = ChunkBook(executor.ledger, self._chart, customers, since=min(command.ordered_at for command in commands))
        return guard, book

    def _plan_read(
        self, commands: Sequence[EarnCommand], tally: _Tally
    ) -> tuple[list[Planned], list[EarnCommand]]:
        """The plans of ``commands`` from one guard read and one :class:`ChunkBook` of their customers, and
        the commands refused on reads another operation of their customer changed meanwhile (to read again)."""

        guard, book = self._read(commands)
        return self._settle_read(self._planned_on_read(commands, guard, book), tally)

    def _planned_on_read(self, commands: Sequence[EarnCommand], guard: GuardState, book: ChunkBook) -> ChunkRead:
        """Each command priced and guarded on ``guard`` and ``book`` (no write; a read only where the book
        cannot answer): the plans, and the orders that would post nothing or were refused."""

        customers = [command.customer for command in commands]
        reading = Reading(book, self._chart, self._reading.rules)
        # Customers without a horizon row get theirs from the book's later transactions.
        unknown = {c: book.latest(c) for c in customers if c not in guard.latest}
        guard = guard.model_copy(update={"latest": {**guard.latest, **unknown}})
        plans: list[Planned] = []
        unposted: list[tuple[EarnCommand, LoyaltyError | None]] = []
        for command in commands:
            c = command.customer
            basis = GuardState(
                counts={c: guard.counts[c]} if c in guard.counts else {},
                closed_through=guard.closed_through,
                mark_opened=guard.mark_opened,
                horizons={c: guard.horizons[c]} if c in guard.horizons else {},
                latest={c: guard.latest[c]},
                watched=book.current(self._watch(command)),
            )
            try:
                planned = self._plan_one(command, reading, basis)
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError as exc:
                unposted.append((command, exc))
                continue
            if planned is None:
                unposted.append((command, None))
            else:
                plans.append(planned)
        return ChunkRead(orders=tuple(commands), guard=guard, plans=tuple(plans), unposted=tuple(unposted))

    def _settle_read(self, read: ChunkRead, tally: _Tally) -> tuple[list[Planned], list[EarnCommand]]:
        """The plans of ``read`` to post (their new customers' controls opened) and the commands to read
        again; the orders it would not post are tallied.

        The book's listings are separate requests: an operation committed between them mixes two
        states, and a plan may refuse what it should not. A refusal stands only when the customer's
        operation counter has not moved since the guard was read.
        """

        executor, guard = self._executor, read.guard
        refused = [(command, exc) for command, exc in read.unposted if exc is not None]
        for command, exc in read.unposted:
            if exc is None:
                self._settle_without_post(command, tally, refusal=None)
        stale: list[EarnCommand] = []
        if refused:
            now = read_guard(Reading(executor.ledger, self._chart, self._reading.rules), [c.customer for c, _ in refused])
            for command, exc in refused:
                if now.count(command.customer) != guard.count(command.customer):
                    stale.append(command)
                else:
                    # A refusal of an order already earned (dated in a period closed since) is its replay.
                    self._settle_without_post(command, tally, refusal=exc)
        plans = list(read.plans)
        # In a request of their own, answered before the chunk's orders are sent: an order never
        # relies on an opening that failed.
        executor.open_controls(guard, [planned.command.customer for planned in plans])
        return plans, stale

    def _plan_one(self, command: EarnCommand, reading: Reading, basis: GuardState) -> Planned | None:
        """The guarded plan of one order read through ``reading`` on the guard state ``basis``; None: no points."""

        executor, entry = self._executor, earn_op.OPERATION
        at = executor.check_date(command.ordered_at, basis)
        state = entry.read(command, reading)
        plan = entry.plan(command, executor.chart, executor.catalogue, state)
        if plan is None:
            return None
        dated = plan.timestamp or at
        guarded_plan = guarded(plan, executor.chart, executor.catalogue, basis, [command.customer], at=dated)
        return Planned(command=command, plan=guarded_plan, basis=basis, at=dated)

    def _watch(self, command: EarnCommand) -> tuple[str, ...]:
        watch = earn_op.OPERATION.watch
        return tuple(watch(command, self._chart)) if watch is not None else ()

    def _settle_without_post(self, command: EarnCommand, tally: _Tally, *, refusal: LoyaltyError | None) -> None:
        """Tally an order that will not be posted: a replay if it is on the ledger, else refused or nothing."""

        existing = self._executor.ledger.find_by_reference(command.reference())
        if existing is not None:
            tally.earned_before(command, existing)
        elif refusal is not None:
            tally.refuse(command.order_id, refusal.message)
        else:
            tally.add("nothing")

    def _post(self, plans: Sequence[Planned], tally: _Tally, *, looked_up: bool) -> list[EarnCommand]:
        """Post the plans in one bulk request; tally what was settled; the commands whose plans were stale."""

        executor = self._executor
        remaining = list(plans)
        while remaining:
            try:
                # The chunk's references were looked up (_read_ahead): the bulk client need
                # not look them up again; one taken since is settled by its conflict path.
                posted = executor.ledger.post_many(
                    [p.plan for p in remaining], schema_version=executor.schema_version, looked_up=looked_up
                )
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError as exc:
                details = exc.details if isinstance(exc.details, dict) else {}
                if "failures" in details:
                    return self._settle_refused_chunk(remaining, details, tally)
                culprit = self._taken_by_another(remaining, details.get("reference")) if isinstance(exc, DuplicateOperation) else None
                if culprit is None:
                    raise
                # Refused before anything of the chunk was sent: its reference belongs to another command.
                tally.refuse(culprit.command.order_id, exc.message)
                remaining = [pair for pair in remaining if pair is not culprit]
                continue
            for planned, tx in zip(remaining, posted):
                self._tally_posted(tx, tally)
                if not tx.replayed:
                    # The customer's state right after this post: their next order plans from it.
                    executor.last_known.remember(
                        [planned.command.customer], self._watch(planned.command), planned.basis, at=planned.at, postings=tx.postings
                    )
            return []
        return []

    def _taken_by_another(
        self, plans: Sequence[Planned], reference: object
    ) -> Planned | None:
        """The plan whose reference the refusal names (else the first found taken by another command)."""

        named = next((p for p in plans if p.plan.reference == reference), None)
        if named is not None:
            return named
        for planned in plans:
            found = self._executor.ledger.find_by_reference(planned.plan.reference)
            if found is not None and found.metadata.get("command_hash") != planned.plan.command_hash:
                return planned
        return None

    def _tally_posted(self, tx: PostedTransaction, tally: _Tally) -> None:
        if tx.replayed:
            tally.add("replayed")
        else:
            tally.add("posted", points_of(tx, self._chart.points_asset))

    def _settle_refused_chunk(
        self, plans: Sequence[Planned], details: dict[str, object], tally: _Tally
    ) -> list[EarnCommand]:
        """After a bulk post with refused elements: tally the rest (posted or replayed); the stale commands.

        An element refused for funds is stale (its customer's sequence moved,
        or the closed-period mark did): it is read and priced again. Any other
        refusal stands. The rest were settled by the same request; the bulk
        client names them (``details["posted"]``/``["replayed"]``), else they
        are read back.
        """

        failures = {str(f["reference"]): f for f in details.get("failures", []) if isinstance(f, dict)}  # type: ignore[union-attr]
        replayed = set(details.get("replayed", ()))  # type: ignore[arg-type]
        named = set(details.get("posted", ())) | replayed  # type: ignore[arg-type]
        stale: list[EarnCommand] = []
        for planned in plans:
            command, plan = planned.command, planned.plan
            failure = failures.get(plan.reference)
            if failure is not None:
                if failure.get("code") == "INSUFFICIENT_FUND":
                    stale.append(command)
                else:
                    tally.refuse(command.order_id, str(failure.get("message") or failure.get("code")))
                continue
            if plan.reference in named:
                tally.add("replayed") if plan.reference in replayed else tally.add("posted", plan_points(plan))
                continue
            found = self._executor.ledger.find_by_reference(plan.reference)
            if found is None:
                stale.append(command)
            else:
                tally.add("posted", points_of(found, self._chart.points_asset))
        return stale
