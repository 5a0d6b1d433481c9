"""How the CLI prints: rich tables for people, JSON or CSV for machines.

Every command builds plain rows (lists of dicts with str/int/Decimal/bool/date
values) and hands them here, so the three formats always carry the same
content; ``--format table|json|csv`` (``-f``) chooses. Decimals are printed
exactly (never through float), instants and dates in ISO 8601.

CSV is written for spreadsheets: one kind of row per file (a report's totals
are in its table and its JSON, never a row of the CSV, so summing a column
gives the total), booleans as ``true``/``false``, empty cells for no value.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import sys
from typing import Annotated, Any, Callable, Iterable, Mapping, Optional, Sequence

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..vocabulary.cells import cell, write_csv
from ..vocabulary.cells import plain as _plain


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


def emit_json(payload: Any) -> None:
    typer.echo(json.dumps(_plain(payload), indent=2, sort_keys=False))


def show(renderable: Any) -> None:
    """Print a rich table for people on stdout: to a terminal as rich draws it; to a pipe or a file as wide as
    it needs (nothing cut) and without the padding rich leaves at the end of lines. Cells are literal text: no
    markup, no emoji codes (``catalogue:HEADPHONES:stock`` stays an address)."""

    out = Console(file=sys.stdout, highlight=False, soft_wrap=False, markup=False, emoji=False)
    if out.is_terminal:
        out.print(renderable)
        return
    wide = Console(width=100_000, highlight=False, color_system=None, markup=False, emoji=False)
    with wide.capture() as captured:
        wide.print(renderable)
    for line in captured.get().splitlines():
        typer.echo(line.rstrip())


def emit_rows(
    rows: Sequence[Mapping[str, Any]],
    fmt: Format,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    footer: Sequence[Mapping[str, Any]] = (),
) -> None:
    """``rows`` in ``fmt``; ``footer`` rows (a report's totals) are shown under a table's rule only, never in JSON or CSV."""

    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt is Format.json:
        emit_json([{c: row.get(c) for c in cols} for row in rows])
    elif fmt is Format.csv:
        write_csv(sys.stdout, cols, ([row.get(c) for c in cols] for row in rows))
    else:
        if title:
            typer.echo(title)
        show(table(rows, cols, footer=footer))


def _numeric(text: str) -> bool:
    return text.lstrip("-").replace(".", "", 1).isdigit()


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, footer: Sequence[Mapping[str, Any]] = ()) -> Table:
    """A rich table of ``rows`` (numbers right-aligned), ``footer`` rows after a rule; "(none)" when there are no rows."""

    text_rows = [[cell(row.get(c)) for c in columns] for row in rows]
    footer_rows = [[cell(row.get(c)) for c in columns] for row in footer]
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        values = [r[i] for r in text_rows + footer_rows if r[i]]
        numeric = bool(values) and all(_numeric(v) for v in values)
        out.add_column(name, justify="right" if numeric else "left", no_wrap=True, overflow="fold")
    for i, r in enumerate(text_rows):
        out.add_row(*r, end_section=i == len(text_rows) - 1 and bool(footer_rows))
    for r in footer_rows:
        out.add_row(*r, style="bold")
    if not text_rows and not footer_rows:
        out.add_row("(none)", *[""] * (len(columns) - 1))
    return out


def emit_mapping(data: Mapping[str, Any], fmt: Format) -> None:
    """A single record: key/value table for people, an object for machines."""

    if fmt is Format.json:
        emit_json(data)
    elif fmt is Format.csv:
        emit_rows([data], fmt)
    else:
        pairs = Table(box=None, show_header=False, pad_edge=False)
        pairs.add_column("field", style="bold", no_wrap=True)
        pairs.add_column("value", overflow="fold")
        for key, value in data.items():
            pairs.add_row(key, cell(value))
        show(pairs)


FormatOption = Annotated[
    Optional[Format],
    typer.Option("--format", "-f", case_sensitive=False, help="Output: table for people, json or csv for machines (default: table)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", hidden=True, help="Same as --format json.")]
CsvFlag = Annotated[bool, typer.Option("--csv", hidden=True, help="Same as --format csv.")]


def chosen_format(fmt: Format | None = None, json_out: bool = False, csv_out: bool = False) -> Format:
    """The output format ``--format`` names (or the older ``--json``/``--csv``); two different ones is a usage error."""

    named = {f for f, given in ((fmt, fmt is not None), (Format.json, json_out), (Format.csv, csv_out)) if given}
    if len(named) > 1:
        raise typer.BadParameter("choose one output format: --format table, --format json or --format csv")
    return named.pop() if named else Format.table


def formatted(command: Callable[..., None]) -> Callable[..., None]:
    """A command that prints, as typer should see it: its ``fmt: Format`` parameter becomes ``--format``.

    ``command`` names only its own options and ``fmt`` (keyword-only); the
    function returned takes the same options followed by ``--format``/``-f``
    (and the hidden ``--json`` and ``--csv`` of earlier releases; the same
    names and help for every command) and calls ``command`` with the format
    chosen. Two different formats at once is a usage error (exit 2), raised
    before ``command`` runs.
    """

    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "fmt"]
    flags = [
        inspect.Parameter("output_format", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=FormatOption),
        inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonFlag),
        inspect.Parameter("csv_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=CsvFlag),
    ]

    @functools.wraps(command)
    def shell(
        *args: Any, output_format: Format | None = None, json_out: bool = False, csv_out: bool = False, **kwargs: Any
    ) -> None:
        command(*args, fmt=chosen_format(output_format, json_out, csv_out), **kwargs)

    return with_parameters(shell, [*own, *flags])


def with_parameters(function: Callable[..., None], parameters: Sequence[inspect.Parameter]) -> Callable[..., None]:
    """``function`` announcing ``parameters`` (annotations evaluated) as its signature, which typer reads for the options."""

    function.__signature__ = inspect.Signature(list(parameters), return_annotation=None)  # type: ignore[attr-defined]
    function.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return function
