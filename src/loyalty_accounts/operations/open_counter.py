"""Open counter: give an award counter its balance row before any award counts on it (template ``open_counter``).

Why it exists. The engagement limits (:mod:`.engage`) rely on the ledger
checking a bounded overdraft on the counter inside the post. Formance v2.4.12
reads and locks the balances a script needs in one statement: it inserts the
missing ``accounts_volumes`` rows with ``ON CONFLICT DO NOTHING`` and selects
the rows ``FOR UPDATE`` (``internal/storage/ledger/balances.go``,
``GetBalances``). A row that a concurrent, uncommitted post is inserting is
invisible to that statement, so two first posts to a never-used counter both
read 0 and both pass the bound. Measured on a v2.4.12 server with a schema
version on every post (as strict enforcement requires): eight concurrent
awards limited to one on a fresh counter gave up to eight awards in twenty
rounds; on a counter opened first, exactly one every time. Once the row
exists, ``FOR UPDATE`` makes the second post wait and re-read it.

So the engage service opens a counter it finds without a row before posting
an award on it. Opening sends one unit of the awards asset from ``world`` to
the counter and back in one transaction: the balance is unchanged and the
row exists afterwards. (A zero send would do on the server, whose default
``machine`` runtime keeps zero postings, but Formance's Numscript interpreter
drops them; the round trip means the same on both.)

Worked example: the first ``review_written`` award of c42 on 2026-06-01::

    world                                              -1 AWARDS → customers:c42:engagement:review_written:20260601  +1
    customers:c42:engagement:review_written:20260601   -1 AWARDS → world                                             +1

    reference "open_counter:review_written:c42:20260601"; metadata
    customer=c42, event=review_written, day=2026-06-01

The reference names the counter, so concurrent openers of the same counter
post it once; the command has no instant (the transaction is dated by the
ledger), so every opener sends the same body.
"""

from __future__ import annotations

from datetime import date

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..vocabulary.ids import Code, CustomerId
from .base import Command, plan_command
from .entry import Operation, Writes
from .reading import nothing

TEMPLATE = "open_counter"


class OpenCounterCommand(Command):
    """Open the counter of awards of ``event`` to ``customer``: ever (``day=None``) or on one programme day."""

    operation = "open_counter"
    processing_fields = frozenset()
    customer: CustomerId
    event: Code
    day: date | None = None

    def reference(self) -> str:
        """``open_counter:{event}:{customer}`` or ``open_counter:{event}:{customer}:{yyyymmdd}``."""

        base = f"{self.operation}:{self.event}:{self.customer}"
        return base if self.day is None else f"{base}:{self.day:%Y%m%d}"


def plan(command: OpenCounterCommand, chart: Chart, catalogue: Catalogue) -> TransactionPlan:
    """The round trip that gives the counter its balance row; dated by the ledger."""

    metadata = {"customer": command.customer, "event": command.event}
    if command.day is not None:
        metadata["day"] = command.day.isoformat()
    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={
            "one": monetary(chart.awards_asset, 1),
            "counter": chart.engagement_counter(command.customer, command.event, command.day),
        },
        metadata=metadata,
        timestamp=None,
    )


OPERATION: Operation[OpenCounterCommand, None] = Operation(
    command=OpenCounterCommand,
    templates=(TEMPLATE,),
    read=nothing,
    plan=lambda command, chart, catalogue, _: plan(command, chart, catalogue),
    writes=Writes(required=frozenset({"customer", "event"}), optional=frozenset({"day"})),
)
