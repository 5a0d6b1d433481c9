"""The pack's daily flows: points issued and redeemed per day of the period, a chart and its table.

The figures are the programme report's daily flows
(:func:`~loyalty_accounts.reports.programme.read_daily_flows`, as
``loyalty report programme`` reads them): issued is what left the issuance
shards (earn, engagement award, exchange in), redeemed the net points into
``program:points:redeemed`` (redeem, capture). The chart draws issued up and
redeemed down, one bar per day of the period on a calendar axis (a tick at
each month's first day), so quiet days are gaps rather than missing columns.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Sequence

from ..programme import FLOW_LINES, DailyFlow, read_daily_flows
from .charts import PALETTE, svg_of
from .model import Figure, Section, Table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from .sections import PackContext

__all__ = ["DAILY_COLUMNS", "daily_flows_figure", "daily_flows_section"]

DAILY_COLUMNS = ("day", *FLOW_LINES, "transactions")


def _months(first: date, last: date) -> list[date]:
    months, at = [], date(first.year, first.month, 1)
    while at <= last:
        if at >= first:
            months.append(at)
        at = date(at.year + at.month // 12, at.month % 12 + 1, 1)
    return months


def daily_flows_figure(flows: Sequence[DailyFlow], first: date, last: date, unit: str) -> Figure:
    """Issued (up) and redeemed (down) per day from ``first`` to ``last`` inclusive, ticks at month starts."""

    def draw(axes: "Axes") -> None:
        offsets = [(f.day - first).days for f in flows]
        axes.bar(offsets, [float(f.issued) for f in flows], width=1.0, color=PALETTE[0], label="issued")
        axes.bar(offsets, [-float(f.redeemed) for f in flows], width=1.0, color=PALETTE[1], label="redeemed")
        ticks = _months(first, last)
        axes.set_xticks([(m - first).days for m in ticks], [m.strftime("%Y-%m") for m in ticks], rotation=45 if len(ticks) > 6 else 0, ha="right" if len(ticks) > 6 else "center")
        axes.set_xlim(-1, (last - first).days + 1)
        axes.set_ylabel(unit)
        axes.axhline(0, color="#444444", linewidth=0.8)
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)

    return Figure(
        name="daily_flows",
        title="Points issued and redeemed per day",
        svg=svg_of("daily_flows", draw),
        caption=f"Per programme-calendar day: points issued (up) and redeemed (down), in {unit}.",
    )


def daily_flows_section(ctx: "PackContext") -> Section:
    """The period's daily flows (one listing of its transactions)."""

    flows = read_daily_flows(ctx.ledger, ctx.chart, ctx.start, ctx.end)
    first, last = ctx.chart.local_date(ctx.start + timedelta(microseconds=1)), ctx.chart.local_date(ctx.end)
    rows: list[dict[str, Any]] = [f.model_dump() for f in flows]
    totals = {line: sum(getattr(f, line) for f in flows) for line in (*FLOW_LINES, "transactions")}
    unit = ctx.chart.points_asset
    return Section(
        key="daily_flows",
        title="Daily flows: points issued and redeemed",
        paragraphs=(
            f"Per day of {ctx.window}, as `loyalty report programme` reads it from each transaction's postings: issued "
            f"(out of program:points:issued:*), reversed (refunds), redeemed (net into program:points:redeemed), "
            f"converted, exchanged out and expired. Days without a transaction moving points are left out of the table. "
            f"Over the period: issued {totals['issued']} {unit}, redeemed {totals['redeemed']} {unit}.",
        ),
        figures=(daily_flows_figure(flows, first, last, unit),),
        tables=(Table.of("daily_flows", "Points per day", DAILY_COLUMNS, rows, footer=[{"day": "total", **totals}]),),
    )
