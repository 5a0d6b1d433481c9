"""``loyalty catalogue list|show|restock``: the reward catalogue, with each physical reward's stock read from the ledger.

Prices come from the rules file's ``catalogue`` section; stock, units received
and units delivered are balances of the reward's accounts on the ledger, units
reserved (held by redemptions waiting for review) what is left of them.
``restock`` is an operation with a business key (``--restock-id``): run again,
it prints the original transaction and posts nothing. Exit codes: 0 ok, 1 a
business refusal, 2 bad input (an unknown SKU, a reward that is not physical,
units that are not a positive whole number; nothing is read or posted),
3 ledger unavailable.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..errors import InvalidCommand
from ..operations.restock import MAX_UNITS, RestockCommand
from ..services.catalogue import CatalogueLine
from .context import app_context
from .inputs import parse_instant
from .ops import Action, At, operation
from .output import Format, emit_mapping, emit_rows, formatted
from .shell import run_guarded

app = typer.Typer(help="The reward catalogue: prices from the rules, stock on the ledger.", no_args_is_help=True)

CATALOGUE_COLUMNS = (
    "sku", "reward_type", "name", "points", "value", "currency", "points_per_unit", "minimum_points",
    "physical", "in_stock", "reserved", "received", "delivered",
)
"""One row per reward; the stock columns are empty for a reward that is not physical."""
TABLE_COLUMNS = ("sku", "reward_type", "name", "points", "value", "physical", "in_stock", "reserved", "received", "delivered")

Sku = Annotated[str, typer.Argument(help="The reward's SKU (see `loyalty catalogue list`).")]


def catalogue_row(line: CatalogueLine) -> dict[str, Any]:
    """A reward as a row of :data:`CATALOGUE_COLUMNS` (value as text, exact)."""

    row = line.model_dump()
    row["value"] = None if line.value is None else str(line.value)
    row["points_per_unit"] = str(line.points_per_unit)
    return {column: row[column] for column in CATALOGUE_COLUMNS}


@app.command("list")
@formatted
def list_command(ctx: typer.Context, *, fmt: Format) -> None:
    """Every reward: type, points price, value, and the stock of the physical ones (read from the ledger)."""

    lines = run_guarded(lambda: app_context(ctx).program().rewards())
    rows = [catalogue_row(line) for line in lines]
    columns = TABLE_COLUMNS if fmt is Format.table else CATALOGUE_COLUMNS
    emit_rows(rows, fmt, columns=columns, title="reward catalogue")


@app.command("show")
@formatted
def show_command(ctx: typer.Context, sku: Sku, *, fmt: Format) -> None:
    """One reward: its type's rate and minimum, its price, and for a physical one its units on the ledger."""

    line = run_guarded(lambda: app_context(ctx).program().reward(sku))
    emit_mapping(catalogue_row(line), fmt)


def parse_units(text: str) -> int:
    """``--units``: a whole number of units, 1 to MAX_UNITS; InvalidCommand (exit 2) otherwise."""

    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit() or int(stripped) < 1 or int(stripped) > MAX_UNITS:
        raise InvalidCommand(f"--units must be a whole number of units from 1 to {MAX_UNITS}")
    return int(stripped)


@app.command()
@operation
def restock(
    reward: Annotated[str, typer.Option("--reward", help="SKU of a physical reward.")],
    units: Annotated[str, typer.Option("--units", help="Units received (a positive whole number).")],
    restock_id: Annotated[str, typer.Option("--restock-id", help="Restock id (the business key): a retry posts nothing.")],
    at: At = None,
) -> Action:
    """Receive units of a physical reward into its stock on the ledger, exactly once per restock id."""

    command = RestockCommand(reward=reward, units=parse_units(units), restock_id=restock_id, at=parse_instant(at))
    return lambda p: p.restock(command)


