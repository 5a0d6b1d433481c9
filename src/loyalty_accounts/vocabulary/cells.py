"""Values as text for tables and CSV files: one convention for every report, on the command line or in a pack.

Booleans are ``true``/``false``, dates and instants ISO 8601, decimals exact
(never through float), None an empty cell, a list's items separated by commas.
A CSV holds one header line and one kind of row, lines ending in ``\\n``.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Iterable, Mapping, Sequence

__all__ = ["cell", "csv_cell", "plain", "write_csv"]


def plain(value: Any) -> Any:
    """``value`` with decimals as exact strings and dates as ISO text, inside mappings and lists too (for JSON)."""

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def cell(value: Any) -> str:
    """One value as text in a table or a CSV cell: ``true``/``false``, ISO dates, exact decimals, empty for
    None, a list's items separated by commas."""

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(item) for item in value)
    return str(plain(value))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""How a text cell a spreadsheet would run as a formula begins (a number written out, ``-16.665``, runs nothing)."""


def csv_cell(value: Any) -> str:
    """:func:`cell`, with text that a spreadsheet would read as a formula (``=HYPERLINK(...)``, ``@SUM(...)``)
    kept as text by a leading ``'``: a name or a key typed by anyone must not run when finance opens the file."""

    text = cell(value)
    if isinstance(value, str) and text.startswith(FORMULA_START) and not _number(text):
        return "'" + text
    return text


def _number(text: str) -> bool:
    """Whether ``text`` is a number written out (``-16.665``): a spreadsheet reads it as one, nothing runs."""

    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def write_csv(out: IO[str], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A header line of ``columns``, then each row's values as :func:`csv_cell` writes them."""

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
