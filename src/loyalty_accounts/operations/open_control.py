"""Open control: give a control account its balance row before the guard relies on it (template ``open_control``).

The guard (:mod:`.guard`) bounds the overdraft of a customer's sequence
counter and of the closed-period mark. Formance v2.4.12 locks only balance
rows that exist (``internal/storage/ledger/balances.go``, ``GetBalances``:
``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR UPDATE``; a row
a concurrent, uncommitted post is inserting is invisible to it), so two
first posts on a never-used counter would both read 0 and both pass. The
executor therefore opens a control account it finds without a row before it
posts a guarded transaction on it: one control unit from the account to
itself. The balance is unchanged; the row exists afterwards; no other
account moves (a shared counterpart would gain moves that every
earlier-dated transaction on it must update).

Worked example, the first operation ever of c42::

    customers:c42:sequence  -1 CTL → customers:c42:sequence  +1

    reference "open_control:customers:c42:sequence"; metadata
    account=customers:c42:sequence

The reference names the account, so concurrent openers post it once; it is
dated by the ledger and carries no guard (it moves no balance).
"""

from __future__ import annotations

from ..chart import Chart
from ..numscript import Catalogue, monetary
from ..types import TransactionPlan
from ..types import Address
from .base import Command, plan_command
from .entry import Operation, Writes
from .reading import nothing

TEMPLATE = "open_control"


class OpenControlCommand(Command):
    """Open a control account: a customer's sequence counter or the closed-period mark."""

    operation = "open_control"
    processing_fields = frozenset()
    account: Address

    def reference(self) -> str:
        """``open_control:{address}``: every opener of the same account posts one transaction."""

        return f"{self.operation}:{self.account}"


def plan(command: OpenControlCommand, chart: Chart, catalogue: Catalogue) -> TransactionPlan:
    """The round trip that gives the account its row (ChartError for an address the chart does not declare)."""

    return plan_command(
        command,
        chart,
        catalogue,
        template=TEMPLATE,
        values={"one": monetary(chart.control_asset, 1), "account": command.account},
        metadata={"account": command.account},
        timestamp=None,
    )


def open_control(chart: Chart, catalogue: Catalogue, address: str) -> TransactionPlan:
    """The plan opening ``address``."""

    return plan(OpenControlCommand(account=address), chart, catalogue)


OPERATION: Operation[OpenControlCommand, None] = Operation(
    command=OpenControlCommand,
    templates=(TEMPLATE,),
    read=nothing,
    plan=lambda command, chart, catalogue, _: plan(command, chart, catalogue),
    writes=Writes(required=frozenset({"account"})),
)
