"""What an import did (:class:`ImportSummary`) and the counts kept while it runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ..operations import EarnCommand
from ..types import PostedTransaction, TransactionPlan
from ..vocabulary.frozen import Frozen

Progress = Callable[[int, int], None]
"""Called with (orders done, orders to do) after each chunk."""

DEFAULT_CHUNK = 100
"""Orders per bulk request unless told otherwise (measured: see the README's "Importing orders")."""
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


class Tally:
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

    def earned_before(self, command: EarnCommand, existing: PostedTransaction) -> None:
        """An order whose reference ``existing`` holds: its replay, or a refusal when another command took it."""

        if existing.metadata.get("command_hash") == command.fingerprint():
            self.add("replayed")
        else:
            self.refuse(command.order_id, f"{command.reference()} was already used for a different earn")

    def done(self) -> int:
        return sum(self.counts.values())

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.done(), self.total)


def plan_points(plan: TransactionPlan) -> int:
    """The points a posted plan earned (its ``points`` metadata; 0 when absent)."""

    points = plan.metadata.get("points", "0")
    return int(points) if points.isdigit() else 0
