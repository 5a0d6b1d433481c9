"""``loyalty journal``: the period's general-ledger entries as beancount, hledger or CSV.

``--from`` and ``--to`` read like the reports' windows: a bare date ``--from 2026-01-01`` starts the
period with that day, ``--to 2026-01-31`` ends it with that day (both in the programme's time zone);
an instant needs its offset. The text goes to stdout, or to ``--out FILE``; the same ledger and
options give the same bytes. Exit codes: 0 ok, 2 bad input (dates, format, a chart without a
``general_ledger`` section), 3 ledger unavailable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..reports import JOURNAL_FORMATS, render_journal
from .context import app_context
from .report import _window
from .shell import fail, run_guarded


def journal_command(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day of the period (or an instant with its offset, exclusive).")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period, through its end (or an instant with its offset, inclusive).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="beancount, hledger or csv.")] = "beancount",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file (replacing it) instead of stdout; '-': stdout.")] = None,
) -> None:
    """General-ledger journal of a period: entries linked to ledger transactions, period-end balance assertions."""

    if fmt not in JOURNAL_FORMATS:
        fail(f"--format {fmt}: choose one of {', '.join(JOURNAL_FORMATS)}", 2)
    first, last = _window(start, end)
    assert first is not None and last is not None
    text = render_journal(run_guarded(lambda: app_context(ctx).reports().journal(first, last)), fmt)
    if out is None or str(out) == "-":
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}", 2)


__all__ = ["journal_command"]
