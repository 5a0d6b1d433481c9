"""Order files for ``loyalty import``: CSV with a header, or JSON Lines, read one row at a time.

Each row is an order as :class:`~loyalty_accounts.operations.EarnCommand`
takes it: ``customer``, ``order_id``, ``amount`` (decimal text, e.g.
``12.50``; in JSON Lines a number is read from its text exactly as written,
never through a float, so ``12.50`` and ``"12.50"`` are the same amount),
``currency``, ``ordered_at`` (an ISO 8601 instant with its offset, or a bare
date: the start of that day in the programme's time zone), and optionally
``category`` and ``channel`` (empty: the rules' ``order_defaults``).

Rows are yielded as they are read, never held: a file of any size is read in
constant memory. Each comes with its line number (1-based, the header of a
CSV being line 1) and either its command or a one-line reason it is invalid.
A file that cannot be read as a whole (missing, no header, a column that is
not a field, a required column missing) raises
:class:`~loyalty_accounts.errors.InvalidCommand` at once; so does a file
with no order in it (empty, a header alone, blank lines), once read. In
JSON Lines a key given twice in one object makes the row invalid (a JSON
parser would keep the last value silently).

Example CSV::

    customer,order_id,amount,currency,ordered_at,category,channel
    c42,o-1,125.90,USD,2026-06-01T10:00:00Z,books,web
    c42,o-2,9.99,USD,2026-06-02,,
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidCommand
from ..operations import EarnCommand
from ..vocabulary.amounts import parse_money
from ..vocabulary.frozen import Frozen
from ..vocabulary.instants import parse_instant

FileFormat = Literal["csv", "jsonl"]
FIELDS = ("customer", "order_id", "amount", "currency", "ordered_at", "category", "channel")
REQUIRED = frozenset(FIELDS[:5])
MAX_REASON = 300
"""Characters of a reason kept (one line, bounded: a huge malformed row must not fill the report)."""


class OrderRow(Frozen):
    """One row of an order file: its line, and its command or why it is invalid (exactly one of them).

    ``order_id``: an invalid row's order id as written, when it has one (a later row must not reuse it).
    """

    line: int
    command: EarnCommand | None = None
    error: str | None = None
    order_id: str | None = None


def file_format(path: Path, given: FileFormat | None = None) -> FileFormat:
    """``given``, else the format the extension names (``.csv``, ``.jsonl``); InvalidCommand otherwise."""

    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InvalidCommand(f"{path}: cannot tell the format from the extension {suffix!r}: name it .csv or .jsonl, or say which")


def read_orders(path: Path, zone: tzinfo, fmt: FileFormat | None = None) -> Iterator[OrderRow]:
    """The rows of ``path``, in file order, each parsed into an EarnCommand or carrying its error.

    ``zone`` is where a bare date in ``ordered_at`` is read. Blank lines are
    skipped. Raises InvalidCommand when the file as a whole cannot be read.
    """

    kind = file_format(path, fmt)
    try:
        # utf-8-sig: a byte-order mark (spreadsheets write one) is not part of the first column's name.
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidCommand(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        yield from _parsed(path, handle, kind, zone)


def _parsed(path: Path, handle: Any, kind: FileFormat, zone: tzinfo) -> Iterator[OrderRow]:
    rows = _csv_rows(handle, path) if kind == "csv" else _jsonl_rows(handle)
    seen = 0
    try:
        for line, fields in rows:
            seen += 1
            if isinstance(fields, str):
                yield OrderRow(line=line, error=_one_line(fields))
                continue
            try:
                yield OrderRow(line=line, command=order_command(fields, zone))
            except InvalidCommand as exc:
                written = fields.get("order_id")
                order_id = written.strip() if isinstance(written, str) and written.strip() else None
                yield OrderRow(line=line, error=_one_line(exc.message), order_id=order_id)
    except UnicodeDecodeError as exc:
        raise InvalidCommand(f"{path}: not UTF-8 text ({exc.reason} in a block read at line {seen + 1}); save it as UTF-8") from None
    if not seen:
        raise InvalidCommand(f"{path}: no orders in the file")


def order_command(fields: Mapping[str, Any], zone: tzinfo) -> EarnCommand:
    """The EarnCommand of one row's fields (text values; empty optional fields are unset)."""

    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidCommand(f"unknown field(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            if name in REQUIRED:
                raise InvalidCommand(f"{name}: required")
            continue
        if not isinstance(value, str):
            raise InvalidCommand(f"{name}: must be text, got {json.dumps(value)}")
        values[name] = value.strip()
    return EarnCommand(
        customer=values["customer"],
        order_id=values["order_id"],
        amount=parse_money(values["amount"], values["currency"], option="amount"),
        ordered_at=parse_instant(values["ordered_at"], zone, what="ordered_at"),
        category=values.get("category"),
        channel=values.get("channel"),
    )


def _csv_rows(handle: Any, path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidCommand(f"{path}: empty file (a CSV order file starts with its header)") from None
    except csv.Error as exc:
        raise InvalidCommand(f"{path}: line 1: {exc}") from None
    columns = [name.strip() for name in header]
    unknown = sorted(set(columns) - set(FIELDS))
    missing = sorted(REQUIRED - set(columns))
    if unknown or missing or len(set(columns)) != len(columns):
        raise InvalidCommand(
            f"{path}: the header must name the columns {', '.join(FIELDS)} (category and channel optional), "
            f"each once; got {', '.join(columns) or 'nothing'}"
        )
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield start, f"not CSV: {exc}"
            continue
        line = reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield start, f"{len(cells)} cells for {len(columns)} columns"
            continue
        yield start, dict(zip(columns, cells))


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json.loads would keep the last one silently)."""

    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _jsonl_rows(handle: Any) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            # Numbers are kept as their text so an amount written as a number is not read through float.
            value = json.loads(text, parse_float=str, parse_int=str, object_pairs_hook=_object)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON: {exc.msg} (column {exc.colno})"
            continue
        except _DuplicateKey as exc:
            yield number, f"{exc.key!r} is given twice"
            continue
        if not isinstance(value, dict):
            yield number, "not a JSON object"
            continue
        yield number, value


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON else flat[: MAX_REASON - 1] + "…"
