"""Reading a pack: the log head, every section's reads, then a check that nothing was written meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from ...chart import Chart
from ...errors import OperationRefused
from ...ports import LedgerPort
from ...rules import Rules
from ...services.executor import CLOCK_SKEW, Progress
from ...version import __version__
from ...vocabulary.instants import utc, zone_name
from ..common import Clock, utc_now
from .head import logs_after, read_log_head
from .model import PackHeader, ReportPack
from .period import default_start, series_instants
from .sections import SECTIONS, PackContext, SectionEntry

__all__ = ["ATTEMPTS", "read_pack"]

ATTEMPTS = 3
"""How many times the pack is read when writes land while it is read, before it gives up."""

class _Steps:
    """Counts the pack's steps for ``progress(done, total)``; when a section ends, the count is set to its share."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done = 0
        self.total = 0

    def reach(self, done: int) -> None:
        self.done = min(done, self.total)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def advance(self) -> None:
        self.reach(self.done + 1)


def read_pack(
    ledger: LedgerPort,
    chart: Chart,
    as_of: datetime,
    start: datetime | None = None,
    *,
    rules: Rules | None = None,
    clock: Clock = utc_now,
    clock_skew: timedelta = CLOCK_SKEW,
    progress: Progress | None = None,
    sections: Sequence[SectionEntry] = SECTIONS,
) -> ReportPack:
    """The pack of the period ``(start, as_of]`` (``start`` default: :func:`.period.default_start`).

    Reads the server's version, every log (the head and its chain), each
    section's reports, then the logs from the head on: if the log has moved,
    a write landed between the reads and they are made again, up to
    :data:`ATTEMPTS` times (then OperationRefused). ``progress(done, total)``
    is called after each step. InvalidCommand for a period that does not
    start before ``as_of`` or spans more than :data:`.period.MAX_MONTHS` months.
    """

    as_of = utc(as_of)
    start = utc(start) if start is not None else default_start(chart, as_of)
    instants = series_instants(chart, start, as_of)
    moved: tuple[int, ...] = ()
    for _ in range(ATTEMPTS):
        steps = _Steps(progress)
        context = PackContext(
            ledger=ledger, chart=chart, start=start, end=as_of, instants=instants, clock=clock,
            rules=rules, clock_skew=clock_skew, advance=steps.advance,
        )
        steps.total = 2 + sum(entry.steps(context) for entry in sections)
        server = ledger.server_version()
        head = read_log_head(ledger)
        steps.advance()
        built = []
        for entry in sections:
            after = steps.done + entry.steps(context)
            built.append(entry.build(context))
            steps.reach(after)
        moved = logs_after(ledger, head)
        steps.advance()
        if not moved:
            header = PackHeader(
                programme=chart.spec.programme.name,
                ledger=ledger.ledger,
                server_version=server,
                start=start,
                as_of=as_of,
                timezone=zone_name(chart.timezone),
                points_asset=chart.points_asset,
                currency=chart.money_currency,
                point_value=str(chart.point_value),
                generated_by=f"loyalty-accounts {__version__}",
            )
            return ReportPack(header=header, head=head, sections=tuple(built))
    raise OperationRefused(
        f"the ledger was written to while the pack was read ({ATTEMPTS} times; logs {', '.join(map(str, moved[:5]))} "
        "after the head): run it again when writes pause, or close the period first"
    )
