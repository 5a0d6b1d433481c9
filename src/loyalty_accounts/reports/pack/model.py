"""The report pack as values: its sections (text, charts, tables), the ledger's log head, and its header.

A :class:`Section` is what one section function returns (see
:mod:`.sections`); the pack's document (:mod:`.document`) lays out the header,
the head and the sections in order, and writes one CSV per :class:`Table`.
Table cells are plain values (``int`` points, exact ``Decimal`` money,
``date``/``datetime``, ``bool``, ``str`` or None) written by
:func:`~loyalty_accounts.vocabulary.cells.cell`, as every report's CSV is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Sequence

from pydantic import field_validator

from ...vocabulary.frozen import Frozen
from ..check import Check

__all__ = ["Figure", "LogHead", "PackHeader", "ReportPack", "Section", "Table"]

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""A table's, figure's or section's name: it names a CSV file and an HTML id."""


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r} is not a name ([a-z][a-z0-9_]*, at most 63 characters)")
    return value


class Table(Frozen):
    """One table of the pack, written to ``{name}.csv`` and shown in the HTML."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    """One kind of row, as many values as ``columns`` (the CSV holds exactly these)."""
    footer: tuple[tuple[Any, ...], ...] = ()
    """Totals shown under the HTML table's rule only, never in the CSV (a CSV column sums to them)."""
    note: str | None = None

    _check_name = field_validator("name")(_name)

    @field_validator("footer", "rows")
    @classmethod
    def _widths(cls, rows: tuple[tuple[Any, ...], ...], info: Any) -> tuple[tuple[Any, ...], ...]:
        width = len(info.data.get("columns", ()))
        for row in rows:
            if len(row) != width:
                raise ValueError(f"a row of {len(row)} values under {width} columns")
        return rows

    @classmethod
    def of(
        cls,
        name: str,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        *,
        footer: Sequence[Mapping[str, Any]] = (),
        note: str | None = None,
    ) -> "Table":
        """A table from rows given as mappings (a missing column is an empty cell)."""

        cols = tuple(columns)
        return cls(
            name=name,
            title=title,
            columns=cols,
            rows=tuple(tuple(row.get(c) for c in cols) for row in rows),
            footer=tuple(tuple(row.get(c) for c in cols) for row in footer),
            note=note,
        )


class Figure(Frozen):
    """A chart drawn as inline SVG markup (see :mod:`.charts`)."""

    name: str
    title: str
    svg: str
    caption: str

    _check_name = field_validator("name")(_name)


class Section(Frozen):
    """One section of the pack: a heading, paragraphs of plain text, figures and tables, in that order."""

    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    tables: tuple[Table, ...] = ()

    _check_key = field_validator("key")(_name)


class LogHead(Frozen):
    """The ledger's last log when the pack was read, and the verdict on the hash chain up to it."""

    log_id: int | None
    """None: the ledger has no log."""
    hash: str | None
    """The log's stored hash, base64 as ``GET /v2/{ledger}/logs`` serves it (None: not hashed)."""
    date: datetime | None
    type: str | None
    logs: int
    """How many logs the chain holds up to and including the head."""
    chain: Check
    """Every log's hash recomputed from the first to the head (:func:`~loyalty_accounts.reports.check_log_chain`)."""


class PackHeader(Frozen):
    """What the pack is of: the programme, the ledger and server it was read from, the period, the generator."""

    programme: str
    ledger: str
    server_version: str
    start: datetime
    """The period is ``(start, as_of]``."""
    as_of: datetime
    timezone: str
    points_asset: str
    currency: str
    point_value: str
    generated_by: str
    """``loyalty-accounts <version>``."""


class ReportPack(Frozen):
    """The pack: its header, the log head its reads are covered by, and its sections in document order."""

    header: PackHeader
    head: LogHead
    sections: tuple[Section, ...]

    def tables(self) -> tuple[Table, ...]:
        return tuple(table for section in self.sections for table in section.tables)

    def figures(self) -> tuple[Figure, ...]:
        return tuple(figure for section in self.sections for figure in section.figures)
