"""Importing order files: every order earned as a single ``earn`` would, posted in bulk.

Two streaming passes over the file (:mod:`.order_file`), so memory stays
bounded whatever its size (what is held: the set of order ids, the invalid
rows, a chunk and the orders waiting behind a chunk for their customer):

1. **Validate** every row: it parses into an
   :class:`~loyalty_accounts.operations.EarnCommand`; its currency is one the
   chart accepts, with no more decimals than it has; the rules can price it
   (category and channel, or ``order_defaults``); it is dated after the epoch
   and not beyond the clock skew; its order id is not used by an earlier row.
   Any invalid row: nothing is posted and each is reported with its line
   number, unless ``skip_invalid`` (then they are left out).
2. **Post** the valid orders in chunks. A chunk holds **at most one order per
   customer**: a customer's next order waits for the next chunk, so it is
   read and priced after the earlier one is on the ledger, exactly as when
   the orders are earned one by one in file order (the tier it reaches,
   the campaign caps it has used, the clawback debt it has repaid). Each
   order is read and priced by the single earn's own read and plan
   (:data:`loyalty_accounts.operations.earn.OPERATION`) at its own instant,
   then guarded (:mod:`loyalty_accounts.operations.guard`: its customer's
   sequence, read with the chunk's other customers before anything else, and
   the closed-period leg), and the chunk is posted in one bulk request
   (``LedgerPort.post_many``).

Exactly once: an order's reference is the single earn's (``earn:{order_id}``)
and its fingerprint the command's, so an order already earned (by ``earn``
or an earlier import) is answered as ``replayed`` by the bulk post's own
reference lookup, and one earned with other content is refused
(DuplicateOperation). Running the same file again posts nothing new; a run
stopped halfway posts only the rest when run again.

Concurrency: when another operation posts on a customer between the chunk's
reads and its post, that order's sequence leg fails (INSUFFICIENT_FUND);
the rest of the chunk stays posted, and the stale orders are read, priced
and posted again (up to :data:`STALE_ROUNDS` rounds, then refused), as the
executor's sweeps do.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from ..errors import DuplicateOperation, InvalidCommand, LedgerUnavailable, LoyaltyError, OutcomeUnknown
from ..operations import EarnCommand, Reading
from ..operations import earn as earn_op
from ..operations.guard import GuardState, guarded, read_guard
from ..operations.open_control import open_control
from ..rules import Rules, quote, tier_for
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Frozen
from .chunk_book import ChunkBook
from .executor import Executor
from .order_file import FileFormat, read_orders
from .results import points_of

_NOTHING_CLOSED = GuardState(counts={}, closed_through=None, mark_opened=True)

Progress = Callable[[int, int], None]
"""Called with (orders done, orders to do) after each chunk."""

DEFAULT_CHUNK = 100
"""Orders per bulk request unless told otherwise (measured: see the README's "Importing orders")."""
MAX_CHUNK = 100
"""The server's default bulk limit (``--bulk-max-size``): a bigger chunk would be refused whole."""
WAITING_LIMIT = 20
"""Chunks' worth of orders that may wait for their customer's earlier order before reading stops."""
STALE_ROUNDS = 10
"""Times the orders a concurrent operation made stale are read and priced again before being refused."""
MAX_REFUSALS = 100
"""Refusal reasons kept in a summary (the count is always exact)."""


class ImportSummary(Frozen):
    """What an import did.

    ``posted``: orders earned by this run; ``replayed``: already earned with
    the same content (nothing posted); ``refused``: refused by the ledger's
    state (a closed period, an order id earned with other content,
    concurrent changes that never settled); ``nothing``: priced at 0 points
    (nothing to post); ``invalid``: (line, reason) of each invalid row (any of
    them without ``skip_invalid``: nothing was posted); ``refusals``:
    (order id, reason), the first :data:`MAX_REFUSALS`; ``points``: points
    posted by this run; ``elapsed_s``: wall-clock seconds; ``per_second``:
    orders settled (posted, replayed, refused or nothing) per second.
    """

    posted: int = 0
    replayed: int = 0
    refused: int = 0
    nothing: int = 0
    invalid: tuple[tuple[int, str], ...] = ()
    refusals: tuple[tuple[str, str], ...] = ()
    points: int = 0
    orders: int = 0
    chunk_size: int = DEFAULT_CHUNK
    elapsed_s: float = 0.0
    per_second: float = 0.0

    @property
    def stopped_for_invalid_rows(self) -> bool:
        """Invalid rows were found and nothing was posted because of them."""

        return bool(self.invalid) and self.settled == 0

    @property
    def settled(self) -> int:
        return self.posted + self.replayed + self.refused + self.nothing


class _Tally:
    """Counts kept while the orders are posted."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self.points = 0
        self.refusals: list[tuple[str, str]] = []

    def add(self, outcome: str, points: int = 0) -> None:
        self.counts[outcome] += 1
        self.points += points

    def refuse(self, order_id: str, reason: str) -> None:
        self.counts["refused"] += 1
        if len(self.refusals) < MAX_REFUSALS:
            self.refusals.append((order_id, " ".join(reason.split())))

    def done(self) -> int:
        return sum(self.counts.values())

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.done(), self.total)


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
        invalid, valid = self._validate(source, file_format, rules)
        if invalid and not skip_invalid:
            return ImportSummary(invalid=tuple(invalid), chunk_size=size, elapsed_s=time.monotonic() - started)
        skipped = {line for line, _ in invalid}
        tally = _Tally(valid, progress)
        orders = (
            row.command
            for row in read_orders(source, self._chart.timezone, file_format)
            if row.command is not None and row.line not in skipped
        )
        for chunk in chunks_by_customer(orders, size):
            self._post_chunk(chunk, tally)
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

    # -- pass 1 ---------------------------------------------------------------

    def _validate(self, source: Path, fmt: FileFormat | None, rules: Rules) -> tuple[list[tuple[int, str]], int]:
        """(invalid rows as (line, reason), number of valid orders): one streaming read of the file."""

        invalid: list[tuple[int, str]] = []
        first_line: dict[str, int] = {}
        valid = 0
        for row in read_orders(source, self._chart.timezone, fmt):
            command = row.command
            if command is None:
                invalid.append((row.line, row.error or "invalid"))
                continue
            earlier = first_line.setdefault(command.order_id, row.line)
            if earlier != row.line:
                invalid.append((row.line, f"order_id {command.order_id} is already on line {earlier}"))
                continue
            try:
                self._check_order(command, rules)
            except InvalidCommand as exc:
                invalid.append((row.line, " ".join(exc.message.split())))
                continue
            valid += 1
        return invalid, valid

    def _check_order(self, command: EarnCommand, rules: Rules) -> None:
        """InvalidCommand when the order is one a single earn would refuse as bad input."""

        currency = self._chart.order_currency(command.amount.currency)
        if command.amount.decimals() > currency.decimals:
            raise InvalidCommand(
                f"amount {command.amount.amount} {command.amount.currency} has more than {currency.decimals} decimals"
            )
        # Pricing is pure: a quote for a customer of the entry tier refuses what
        # the rules cannot price (an unknown channel or category, a currency the
        # rules do not know) as a single earn or quote would, before anything posts.
        quote(rules, earn_op.order_of(command, rules), tier=tier_for(rules, 0).tier, campaign_usage={})
        # The epoch and the clock skew only: a closed period is the ledger's state, a refusal of pass 2.
        self._executor.check_date(command.ordered_at, _NOTHING_CLOSED)

    # -- pass 2 ---------------------------------------------------------------

    def _post_chunk(self, chunk: Sequence[EarnCommand], tally: _Tally) -> None:
        """Read, price, guard and post one chunk (one order per customer), again for stale orders."""

        pending = list(chunk)
        for _ in range(STALE_ROUNDS):
            plans = self._plan(pending, tally)
            if not plans:
                return
            pending = self._post(plans, tally)
            if not pending:
                return
        for command in pending:
            tally.refuse(
                command.order_id,
                f"concurrent operations kept changing customer {command.customer} while the import ran "
                f"({STALE_ROUNDS} tries); nothing was posted for it: import the file again",
            )

    def _plan(self, commands: Sequence[EarnCommand], tally: _Tally) -> list[tuple[EarnCommand, TransactionPlan]]:
        """Each command's guarded plan; orders settled without a post (refused, nothing, replayed) are tallied."""

        executor, entry = self._executor, earn_op.OPERATION
        customers = [command.customer for command in commands]
        # These posts move the customers' sequences: what the executor last knew of them goes stale.
        executor.last_known.forget(customers)
        # The guard first, as for a single earn: whatever changes a customer after this
        # read makes the sequence leg refuse the plan, which is then made again.
        guard = read_guard(Reading(executor.ledger, self._chart, self._reading.rules), customers)
        book = ChunkBook(
            executor.ledger,
            self._chart,
            customers,
            since=min(command.ordered_at for command in commands),
            earns_between=self._capped_window(commands),
        )
        reading = Reading(book, self._chart, self._reading.rules)
        # Customers without a horizon row get theirs from the book's later transactions.
        unknown = {c: book.latest(c) for c in customers if c not in guard.latest}
        guard = guard.model_copy(update={"latest": {**guard.latest, **unknown}})
        plans: list[tuple[EarnCommand, TransactionPlan]] = []
        for command in commands:
            try:
                at = executor.check_date(command.ordered_at, guard)
                state = entry.read(command, reading)
                plan = entry.plan(command, executor.chart, executor.catalogue, state)
            except (LedgerUnavailable, OutcomeUnknown):
                raise
            except LoyaltyError as exc:
                # A refusal of an order already earned (dated in a period closed since) is its replay.
                self._settle_without_post(command, tally, refusal=exc)
                continue
            if plan is None:
                self._settle_without_post(command, tally, refusal=None)
                continue
            plans.append((command, guarded(plan, executor.chart, executor.catalogue, guard, [command.customer], at=plan.timestamp or at)))
        self._open_controls(guard.to_open(executor.chart, [command.customer for command, _ in plans]))
        return plans

    def _capped_window(self, commands: Sequence[EarnCommand]) -> tuple[datetime, datetime] | None:
        """From the earliest start to the latest end of the capped campaigns active at the orders' instants."""

        rules = self._reading.require_rules("import")
        capped = [
            campaign
            for command in commands
            for campaign in rules.campaigns_at(command.ordered_at)
            if campaign.cap_per_customer is not None
        ]
        if not capped:
            return None
        return min(c.start for c in capped), max(c.end for c in capped)

    def _settle_without_post(self, command: EarnCommand, tally: _Tally, *, refusal: LoyaltyError | None) -> None:
        """Tally an order that will not be posted: a replay if it is on the ledger, else refused or nothing."""

        existing = self._executor.ledger.find_by_reference(command.reference())
        if existing is not None:
            if existing.metadata.get("command_hash") == command.fingerprint():
                tally.add("replayed")
            else:
                tally.refuse(command.order_id, f"{command.reference()} was already used for a different earn")
        elif refusal is not None:
            tally.refuse(command.order_id, refusal.message)
        else:
            tally.add("nothing")

    def _open_controls(self, addresses: Iterable[str]) -> None:
        """Give new customers' sequence counters (and the closed-period mark) their balance rows, in bulk."""

        executor = self._executor
        opening = [open_control(executor.chart, executor.catalogue, address) for address in addresses]
        if opening:
            executor.ledger.post_many(opening, schema_version=executor.schema_version)

    def _post(self, plans: Sequence[tuple[EarnCommand, TransactionPlan]], tally: _Tally) -> list[EarnCommand]:
        """Post the plans in one bulk request; tally what was settled; the commands whose plans were stale."""

        executor = self._executor
        remaining = list(plans)
        while remaining:
            try:
                posted = executor.ledger.post_many([plan for _, plan in remaining], schema_version=executor.schema_version)
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
                tally.refuse(culprit[0].order_id, exc.message)
                remaining = [pair for pair in remaining if pair is not culprit]
                continue
            for (_, plan), tx in zip(remaining, posted):
                self._tally_posted(tx, tally)
            return []
        return []

    def _taken_by_another(
        self, plans: Sequence[tuple[EarnCommand, TransactionPlan]], reference: object
    ) -> tuple[EarnCommand, TransactionPlan] | None:
        """The plan whose reference the refusal names (else the first found taken by another command)."""

        named = next((pair for pair in plans if pair[1].reference == reference), None)
        if named is not None:
            return named
        for pair in plans:
            found = self._executor.ledger.find_by_reference(pair[1].reference)
            if found is not None and found.metadata.get("command_hash") != pair[1].command_hash:
                return pair
        return None

    def _tally_posted(self, tx: PostedTransaction, tally: _Tally) -> None:
        if tx.replayed:
            tally.add("replayed")
        else:
            tally.add("posted", points_of(tx, self._chart.points_asset))

    def _settle_refused_chunk(
        self, plans: Sequence[tuple[EarnCommand, TransactionPlan]], details: dict[str, object], tally: _Tally
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
        for command, plan in plans:
            failure = failures.get(plan.reference)
            if failure is not None:
                if failure.get("code") == "INSUFFICIENT_FUND":
                    stale.append(command)
                else:
                    tally.refuse(command.order_id, str(failure.get("message") or failure.get("code")))
                continue
            if plan.reference in named:
                tally.add("replayed") if plan.reference in replayed else tally.add("posted", _plan_points(plan))
                continue
            found = self._executor.ledger.find_by_reference(plan.reference)
            if found is None:
                stale.append(command)
            else:
                tally.add("posted", points_of(found, self._chart.points_asset))
        return stale


def _plan_points(plan: TransactionPlan) -> int:
    points = plan.metadata.get("points", "0")
    return int(points) if points.isdigit() else 0


def chunks_by_customer(orders: Iterable[EarnCommand], size: int) -> Iterator[list[EarnCommand]]:
    """``orders`` in chunks of at most ``size``, at most one order per customer in a chunk.

    A customer's orders keep their file order: one that meets an earlier
    order of its customer in the chunk being filled (or still waiting) waits
    for a later chunk. When :data:`WAITING_LIMIT` chunks' worth are waiting
    (a file dominated by a few customers), chunks are cut from the waiting
    orders before more of the file is read, so memory stays bounded.
    """

    waiting: deque[EarnCommand] = deque()
    held: Counter[str] = Counter()
    chunk: dict[str, EarnCommand] = {}

    def refill() -> dict[str, EarnCommand]:
        taken: dict[str, EarnCommand] = {}
        kept: deque[EarnCommand] = deque()
        while waiting:
            order = waiting.popleft()
            if order.customer in taken or len(taken) >= size:
                kept.append(order)
                continue
            taken[order.customer] = order
            held[order.customer] -= 1
        waiting.extend(kept)
        return taken

    for order in orders:
        if order.customer in chunk or held[order.customer] > 0:
            waiting.append(order)
            held[order.customer] += 1
        else:
            chunk[order.customer] = order
        while len(chunk) >= size or (len(waiting) >= WAITING_LIMIT * size and chunk):
            yield list(chunk.values())
            chunk = refill()
    while chunk:
        yield list(chunk.values())
        chunk = refill()
