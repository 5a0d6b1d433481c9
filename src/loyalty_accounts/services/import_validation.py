"""An import's first pass: every row of the order file checked before anything is posted.

A row is valid when it parses into an
:class:`~loyalty_accounts.operations.EarnCommand`, its order id is not used
by an earlier row, and a single earn would not refuse it as bad input: a
currency the chart accepts with no more decimals than it has, an order the
rules can price (category and channel, or ``order_defaults``), dated after
the epoch and not beyond the clock skew. A closed period is the ledger's
state, not the file's: it is a refusal of the second pass.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidCommand
from ..operations import EarnCommand
from ..operations import earn as earn_op
from ..operations.base import refuse_personal_fields
from ..operations.guard import GuardState
from ..rules import Rules, quote, tier_for
from .executor import Executor
from .order_file import FileFormat, read_orders

__all__ = ["validate_orders"]

_NOTHING_CLOSED = GuardState(counts={}, closed_through=None, mark_opened=True)


def validate_orders(
    source: Path, fmt: FileFormat | None, rules: Rules, executor: Executor
) -> tuple[list[tuple[int, str]], int]:
    """(invalid rows as (line, reason), number of valid orders): one streaming read of ``source``.

    Raises InvalidCommand when the file cannot be read as a whole (see
    :func:`~loyalty_accounts.services.order_file.read_orders`).
    """

    invalid: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    valid = 0
    for row in read_orders(source, executor.chart.timezone, fmt):
        command = row.command
        if command is None:
            invalid.append((row.line, row.error or "invalid"))
            if row.order_id is not None:  # its id stays taken: a later row with it is not that order either
                first_line.setdefault(row.order_id, row.line)
            continue
        earlier = first_line.setdefault(command.order_id, row.line)
        if earlier != row.line:
            invalid.append((row.line, f"order_id {command.order_id} is already on line {earlier}"))
            continue
        try:
            _check_order(command, rules, executor)
        except InvalidCommand as exc:
            invalid.append((row.line, " ".join(exc.message.split())))
            continue
        valid += 1
    return invalid, valid


def _check_order(command: EarnCommand, rules: Rules, executor: Executor) -> None:
    """InvalidCommand when the order is one a single earn would refuse as bad input."""

    refuse_personal_fields(command, executor.personal_data)

    currency = executor.chart.order_currency(command.amount.currency)
    if command.amount.decimals() > currency.decimals:
        raise InvalidCommand(
            f"amount {command.amount.amount} {command.amount.currency} has more than {currency.decimals} decimals"
        )
    # Pricing is pure: a quote for a customer of the entry tier refuses what
    # the rules cannot price (an unknown channel or category, a currency the
    # rules do not know) as a single earn or quote would, before anything posts.
    quote(rules, earn_op.order_of(command, rules), tier=tier_for(rules, 0).tier, campaign_usage={})
    # The epoch and the clock skew only: a closed period is the ledger's state, a refusal of pass 2.
    executor.check_date(command.ordered_at, _NOTHING_CLOSED)
