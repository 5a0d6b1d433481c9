"""``loyalty report pack``: the period's report pack, one HTML page and a CSV per table, written to a folder.

``--as-of`` reads like every report's: a bare date is the end of that day
in the programme's time zone; ``--from`` (exclusive) a bare date starts the
period with that day, and defaults to twelve months before ``--as-of``. The
folder is created if missing; one that holds anything is refused unless
``--force`` (then files of the pack's names are replaced, others left).
A progress bar shows the reads on a terminal (not under ``-q``). Exit codes:
0 ok, 1 the ledger kept changing while it was read, 2 bad input (dates, the
folder), 3 ledger unavailable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..reports import render_pack
from ..reports.pack import PAGE
from .context import app_context
from .feedback import progress
from .report import parse_instant
from .shell import fail, run_guarded

__all__ = ["pack_command"]


def _check_folder(out: Path, force: bool) -> None:
    """Exit 2 when ``out`` is a file, or a folder holding anything without ``--force``."""

    if out.exists() and not out.is_dir():
        fail(f"--out {out}: not a folder", 2)
    if out.is_dir() and not force and any(out.iterdir()):
        fail(f"--out {out}: the folder is not empty (--force writes into it, replacing the pack's files)", 2)


def pack_command(
    ctx: typer.Context,
    as_of: Annotated[
        str,
        typer.Option("--as-of", help="The pack's instant: a date, through the end of that day in the programme's time zone, or an instant with its offset."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for pack.html and the CSV files (created if missing; must be empty unless --force).")],
    start: Annotated[
        Optional[str],
        typer.Option("--from", help="Period start, exclusive: a date (the period starts with that day) or an instant with its offset (default: twelve months before --as-of)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that is not empty, replacing files with the pack's names.")] = False,
) -> None:
    """Report pack of a period: liability over time, roll-forward, revenue schedule, breakage, cohort triangle, partners, reconciliation and the log head, as one HTML page and CSVs."""

    when = parse_instant(as_of, "--as-of")
    first = parse_instant(start, "--from")
    assert when is not None
    if first is not None and first >= when:
        fail(f"--from {start} must come before --as-of {as_of}", 2)
    _check_folder(out, force)
    reports = run_guarded(app_context(ctx).reports)
    with progress("reading the pack") as update:
        pack = run_guarded(lambda: reports.pack(when, first, progress=update))
    files = render_pack(pack)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}", 2)
    head = pack.head
    typer.echo(f"wrote {out / PAGE} and {len(files) - 1} CSV files")
    typer.echo(f"period ({pack.header.start.isoformat()}, {pack.header.as_of.isoformat()}]")
    typer.echo(f"log head #{head.log_id}: {head.hash or 'no hash'} (chain {head.chain.status})")
