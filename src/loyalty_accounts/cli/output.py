"""How the CLI prints: human tables by default, JSON or CSV for machines.

Every command builds plain rows (lists of dicts with str/int/Decimal values)
and hands them here, so the three formats always carry the same content.
Decimals are printed exactly (never through float).
"""

from __future__ import annotations

import csv
import enum
import functools
import inspect
import json
import sys
from decimal import Decimal
from typing import Annotated, Any, Callable, Iterable, Mapping, Sequence

import typer


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def emit_json(payload: Any) -> None:
    typer.echo(json.dumps(_plain(payload), indent=2, sort_keys=False))


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: Format, *, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt is Format.json:
        emit_json([{c: row.get(c) for c in cols} for row in rows])
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else _plain(row.get(c)) for c in cols])
    else:
        if title:
            typer.echo(title)
        typer.echo(render_table(rows, cols))


def render_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    text_rows = [["" if row.get(c) is None else str(_plain(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text_rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = cell.lstrip("-").replace(".", "", 1).isdigit()
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    parts = [line(columns), line(["-" * w for w in widths])]
    parts.extend(line(r) for r in text_rows)
    if not text_rows:
        parts.append("(none)")
    return "\n".join(parts)


def emit_mapping(data: Mapping[str, Any], fmt: Format) -> None:
    """A single record: key/value table for people, an object for machines."""

    if fmt is Format.json:
        emit_json(data)
    elif fmt is Format.csv:
        emit_rows([data], fmt)
    else:
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            typer.echo(f"{key.ljust(width)}  {_plain(value)}")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]


def chosen_format(json_out: bool, csv_out: bool) -> Format:
    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv")
    return Format.json if json_out else Format.csv if csv_out else Format.table


def formatted(command: Callable[..., None]) -> Callable[..., None]:
    """A command that prints, as typer should see it: its ``fmt: Format`` parameter becomes ``--json`` and ``--csv``.

    ``command`` names only its own options and ``fmt`` (keyword-only); the
    function returned takes the same options followed by the two flags (the
    same names and help for every command) and calls ``command`` with the
    format they choose. Both flags at once is a usage error (exit 2), raised
    before ``command`` runs.
    """

    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "fmt"]
    flags = [
        inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonFlag),
        inspect.Parameter("csv_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=CsvFlag),
    ]

    @functools.wraps(command)
    def shell(*args: Any, json_out: bool = False, csv_out: bool = False, **kwargs: Any) -> None:
        command(*args, fmt=chosen_format(json_out, csv_out), **kwargs)

    return with_parameters(shell, [*own, *flags])


def with_parameters(function: Callable[..., None], parameters: Sequence[inspect.Parameter]) -> Callable[..., None]:
    """``function`` announcing ``parameters`` (annotations evaluated) as its signature, which typer reads for the options."""

    function.__signature__ = inspect.Signature(list(parameters), return_annotation=None)  # type: ignore[attr-defined]
    function.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return function
