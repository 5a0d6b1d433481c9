"""``loyalty import FILE``: earn every order of a CSV or JSON Lines file, in bulk.

Exit codes (as every command's, :mod:`loyalty_accounts.cli`): 0 every order
posted, replayed or priced at nothing; 1 some orders refused (the others
stay posted); 2 invalid rows (each named with its line; nothing posted) or a
file that cannot be read; 3 the ledger unreachable; 4 a bulk request's
outcome unknown (run the same file again: it posts only what is missing).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..program import LoyaltyProgram
from ..services.imports import ImportSummary
from .context import app_context
from .feedback import progress
from .output import Format, emit_json, emit_mapping, emit_rows
from .shell import run_guarded


class FileIn(str, enum.Enum):
    csv = "csv"
    jsonl = "jsonl"


def summary_rows(summary: ImportSummary) -> dict[str, Any]:
    """The summary's figures, as printed (table, CSV) and in the JSON's top level."""

    return {
        "orders": summary.orders,
        "posted": summary.posted,
        "replayed": summary.replayed,
        "refused": summary.refused,
        "nothing": summary.nothing,
        "invalid": len(summary.invalid),
        "points": summary.points,
        "chunk_size": summary.chunk_size,
        "elapsed_s": f"{summary.elapsed_s:.2f}",
        "per_second": f"{summary.per_second:.1f}",
    }


def exit_code(summary: ImportSummary, *, skip_invalid: bool) -> int:
    """2 for invalid rows that stopped the import; 1 for refused orders or invalid rows skipped (not every
    order of the file is in the ledger); else 0."""

    if summary.invalid and not skip_invalid:
        return 2
    return 1 if summary.refused or summary.invalid else 0


def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Orders: CSV with a header, or JSON Lines (.csv / .jsonl).")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Post the valid orders and list the invalid rows (default: post nothing).")
    ] = False,
    chunk_size: Annotated[
        Optional[int], typer.Option("--chunk-size", help="Orders per bulk request, 1-100 (default 100).")
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", case_sensitive=False, help="How to print the summary: table, json or csv.")
    ] = Format.table,
    format_in: Annotated[
        Optional[FileIn], typer.Option("--format-in", help="The file's format when its extension does not say.")
    ] = None,
) -> None:
    """Earn every order of FILE exactly once, each priced as `loyalty earn` would (columns: customer, order_id,
    amount, currency, ordered_at, category, channel).

    Every row is checked first: with any invalid row nothing is posted unless --skip-invalid. Running the same
    file again posts nothing new; a run stopped halfway posts only the rest.
    """

    app = app_context(ctx)
    given = format_in.value if format_in is not None else None

    def run(program: LoyaltyProgram) -> ImportSummary:
        with progress("importing") as progress_update:
            return program.import_orders(
                file, skip_invalid=skip_invalid, chunk_size=chunk_size, progress=progress_update, file_format=given
            )

    summary = run_guarded(lambda: run(app.program()))
    _print(summary, fmt)
    code = exit_code(summary, skip_invalid=skip_invalid)
    if code == 2:
        typer.echo(f"error: {len(summary.invalid)} invalid row(s): nothing was posted (fix them, or --skip-invalid)", err=True)
    elif code == 1:
        missing = [f"{summary.refused} order(s) refused"] if summary.refused else []
        missing += [f"{len(summary.invalid)} invalid row(s) skipped"] if summary.invalid else []
        typer.echo(f"error: {' and '.join(missing)}; the other orders are posted", err=True)
    raise typer.Exit(code)


def _print(summary: ImportSummary, fmt: Format) -> None:
    figures = summary_rows(summary)
    invalid = [{"line": line, "reason": reason} for line, reason in summary.invalid]
    refusals = [{"order_id": order, "reason": reason} for order, reason in summary.refusals]
    if fmt is Format.json:
        # refusals lists the first ones; refusals_not_listed says how many more there are (refused counts them all)
        not_listed = summary.refused - len(refusals)
        emit_json({**figures, "invalid_rows": invalid, "refusals": refusals, "refusals_not_listed": not_listed})
        return
    if fmt is Format.csv:
        emit_rows([figures], fmt)
        return
    emit_mapping(figures, fmt)
    if invalid:
        typer.echo("")
        emit_rows(invalid, fmt, columns=["line", "reason"], title="invalid rows")
    if refusals:
        typer.echo("")
        more = summary.refused - len(refusals)
        emit_rows(refusals, fmt, columns=["order_id", "reason"], title="refused orders" + (f" (first {len(refusals)}; {more} more)" if more else ""))
