"""Period close: close the books through an instant, on the ledger (template ``period_close``).

The closed-period mark ``program:control:closed`` holds minus the instant
through which the books are closed, in microseconds since the epoch (0:
nothing closed). Every transaction the executor posts checks it inside the
post (:mod:`.guard`), so once a close is posted nothing can be dated at or
before its instant, whoever posts it; a report as of a closed instant then
reads the same state every time.

A close moves the mark forward by the difference, with the overdraft bound
at the new instant: the post passes only if the mark still holds what the
plan read, so two closes cannot pass each other, and the mark never moves
back (a close through an instant already closed is refused before posting).
The transaction is dated by the ledger (when the books were closed) and
records the instant it closes through.

Worked example: nothing closed yet; close through 2026-10-31T23:59:59.999999Z
(1793577599999999 µs)::

    program:control:closed  -1793577599999999 CTL → world  (may go down to -1793577599999999)

    reference "period_close:20261031T235959.999999Z"; metadata
    closed_through=2026-10-31T23:59:59.999999Z (and previously_closed_through
    when an earlier close is moved past)
"""

from __future__ import annotations

from datetime import datetime

from ..chart import Chart
from ..errors import InvalidCommand, OperationRefused
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.instants import Instant, iso_instant, utc
from .base import Command, plan_command
from .entry import Operation, Writes
from .guard import EPOCH, from_microseconds, microseconds, read_closed_through

TEMPLATE = "period_close"
INSTANT_FORMAT = "%Y%m%dT%H%M%S.%fZ"


class PeriodCloseCommand(Command):
    """Close the books through ``through`` (inclusive): nothing may be posted dated at or before it afterwards."""

    operation = "period_close"
    processing_fields = frozenset()
    through: Instant

    def reference(self) -> str:
        """``period_close:{through, to the microsecond}``: closing through the same instant again is a replay."""

        return f"{self.operation}:{utc(self.through).strftime(INSTANT_FORMAT)}"

    def in_the_past(self) -> tuple[str, datetime] | None:
        """The closed-through instant must be before now: the present cannot be closed while operations are dated at it."""

        return ("close the books through", self.through)

    def dated(self) -> datetime | None:
        """Dated by the ledger: the close happens now, whatever instant it closes through."""

        return None


def plan(command: PeriodCloseCommand, chart: Chart, catalogue: Catalogue, current: datetime | None) -> TransactionPlan:
    """The move of the mark from ``current`` (None: nothing closed) to ``command.through``.

    Raises OperationRefused when the books are already closed through that instant or a later one,
    InvalidCommand when ``through`` is not after the epoch (the mark's 0 means "nothing closed").
    """

    through = utc(command.through)
    if through <= EPOCH:
        raise InvalidCommand(f"a close must be through an instant after {iso_instant(EPOCH)}, not {iso_instant(through)}")
    if current is not None and through <= current:
        raise OperationRefused(
            f"the books are already closed through {iso_instant(current)}; a close must go past it, "
            f"not to {iso_instant(through)}"
        )
    before = microseconds(current) if current is not None else 0
    after = microseconds(through)
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "advance": monetary(chart.control_asset, after - before),
            "mark": chart.period_closed(),
            "through": monetary(chart.control_asset, after),
        },
        metadata={"closed_through": iso_instant(from_microseconds(after))}
        | ({"previously_closed_through": iso_instant(current)} if current is not None else {}),
        timestamp=None,
    )


OPERATION: Operation[PeriodCloseCommand, datetime | None] = Operation(
    command=PeriodCloseCommand,
    templates=(TEMPLATE,),
    read=lambda command, reading: read_closed_through(reading),
    plan=plan,
    writes=Writes(required=frozenset({"closed_through"}), optional=frozenset({"previously_closed_through"})),
)
