"""The pack as files: ``pack.html`` (one self-contained page) and one CSV per table, deterministic.

The page is rendered from ``pack.html.j2`` by Jinja2 with autoescape on:
inline CSS, the charts as inline SVG, no script, no external address (the
only links are anchors inside the page). It carries no generation time, so
the same pack gives the same bytes. Each CSV holds one table's rows (not its
footer), written by the CLI's cell convention
(:func:`~loyalty_accounts.vocabulary.cells.cell`); the page lists every CSV
with its SHA-256, so the page vouches for its CSVs and the log head for the
page. ``provenance.csv`` holds the header and the head as field/value rows.
"""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal
from importlib import resources
from typing import Any, Sequence

from ...vocabulary.cells import cell, write_csv
from .model import ReportPack, Table

__all__ = ["PAGE", "pack_command", "provenance_table", "render_pack"]

PAGE = "pack.html"
TEMPLATE = "pack.html.j2"


def pack_command(pack: ReportPack, out: str = "DIR") -> str:
    """The command that makes this pack again (``out`` is where it was written)."""

    h = pack.header
    return f"loyalty --ledger {h.ledger} report pack --from {h.start.isoformat()} --as-of {h.as_of.isoformat()} --out {out}"


def provenance_table(pack: ReportPack) -> Table:
    """The header and the log head as one field/value table."""

    h, head = pack.header, pack.head
    fields: Sequence[tuple[str, Any]] = (
        ("programme", h.programme),
        ("ledger", h.ledger),
        ("server_version", h.server_version),
        ("period_start", h.start),
        ("as_of", h.as_of),
        ("timezone", h.timezone),
        ("points_asset", h.points_asset),
        ("point_value", h.point_value),
        ("currency", h.currency),
        ("generated_by", h.generated_by),
        ("head_log_id", head.log_id),
        ("head_log_date", head.date),
        ("head_log_type", head.type),
        ("head_hash", head.hash),
        ("logs", head.logs),
        ("log_chain", head.chain.status),
        ("command", pack_command(pack)),
    )
    return Table(name="provenance", title="Provenance", columns=("field", "value"), rows=tuple(fields))


def csv_text(table: Table) -> str:
    """The table's header line and rows as CSV (the footer is not written)."""

    out = io.StringIO()
    write_csv(out, table.columns, table.rows)
    return out.getvalue()


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _shown(table: Table) -> dict[str, Any]:
    """What the template shows of a table: its cells as text, numbers marked for right alignment."""

    def cells(rows: tuple[tuple[Any, ...], ...]) -> list[list[tuple[str, bool]]]:
        return [[(cell(value), _numeric(value)) for value in row] for row in rows]

    return {"table": table, "file": f"{table.name}.csv", "rows": cells(table.rows), "footer": cells(table.footer)}


def render_pack(pack: ReportPack) -> dict[str, bytes]:
    """Every file of the pack by name: ``pack.html`` and ``{table}.csv`` for each table, in that order.

    Raises ValueError when two tables share a name (they would share a CSV).
    """

    import jinja2
    from markupsafe import Markup

    tables = (provenance_table(pack), *pack.tables())
    names = [t.name for t in tables]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"tables sharing a name (and a CSV file): {', '.join(repeated)}")
    csvs = {f"{t.name}.csv": csv_text(t).encode("utf-8") for t in tables}
    files = [
        {"name": name, "rows": len(t.rows), "sha256": hashlib.sha256(data).hexdigest()}
        for (name, data), t in zip(csvs.items(), tables)
    ]
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )
    template = environment.from_string(resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8"))
    html = template.render(
        pack=pack,
        header=pack.header,
        head=pack.head,
        provenance=_shown(tables[0]),
        sections=[
            {"section": s, "tables": [_shown(t) for t in s.tables], "figures": [{"figure": f, "svg": Markup(f.svg)} for f in s.figures]}
            for s in pack.sections
        ],
        files=files,
        command=pack_command(pack),
    )
    return {PAGE: html.encode("utf-8"), **csvs}
