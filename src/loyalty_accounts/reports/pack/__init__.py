"""The report pack: one self-contained HTML page and a CSV per table, for a period, provably from one ledger.

``loyalty report pack --as-of T --out DIR`` (or :meth:`FinanceReports.pack
<loyalty_accounts.reports.FinanceReports.pack>` and :func:`render_pack`)
writes, for the period ``(start, T]``:

- the liability by state over time (a chart and its table), read at the
  period's start, every month end and ``T``;
- the roll-forward of the points liability, in points and in money;
- breakage by earn cohort (a chart and its table);
- the cohort triangle: per earn month and age in months, cumulative points
  redeemed and expired, tied to the ledger (:mod:`.triangle`);
- partner settlement balances at ``T``;
- every reconciliation check at ``T``, the log chain verified in full;
- the ledger's log head (last log's id, date and hash) with the chain
  verified up to it, and how a later reader checks it (:mod:`.head`).

Every figure comes from the reports' own reads (:mod:`.sections`); the pack
adds only the triangle. The same ledger and arguments give the same bytes:
no generation time, deterministic SVG (:mod:`.charts`), and the pack is read
again if a write lands while it is read (:func:`read_pack`).

Layers: :mod:`.sections` holds one function per section and the
:data:`SECTIONS` registry (adding a section is one function and one line:
see that module); :mod:`.model` the values; :mod:`.document` the HTML and
CSV files; writing them to a folder is the command line's business.
"""

from __future__ import annotations

from .document import PAGE, pack_command, render_pack
from .model import Figure, LogHead, PackHeader, ReportPack, Section, Table
from .period import DEFAULT_MONTHS, MAX_MONTHS, default_start, series_instants
from .read import read_pack
from .sections import SECTIONS, PackContext, SectionEntry
from .triangle import CohortTriangle, TriangleRow, cohort_triangle, read_cohort_triangle

__all__ = [
    "DEFAULT_MONTHS",
    "MAX_MONTHS",
    "PAGE",
    "SECTIONS",
    "CohortTriangle",
    "Figure",
    "LogHead",
    "PackContext",
    "PackHeader",
    "ReportPack",
    "Section",
    "SectionEntry",
    "Table",
    "TriangleRow",
    "cohort_triangle",
    "default_start",
    "pack_command",
    "read_cohort_triangle",
    "read_pack",
    "render_pack",
    "series_instants",
]
