"""How ``loyalty report programme`` shows its report: one table per part for people, the whole report as JSON,
and one part per CSV (``--table``), since a CSV holds one kind of row."""

from __future__ import annotations

from typing import Any, Callable

from ..reports.programme import FLOW_LINES, ProgrammeReport

__all__ = ["PROGRAMME_TABLES", "programme_json", "programme_table"]


Rows = Callable[[ProgrammeReport], list[dict[str, Any]]]


def _parts(
    field: str, *, currency: bool = False, as_of: bool = False, inner: str | None = None, leave_out: frozenset[str] = frozenset()
) -> Rows:
    """Rows of one part of the report: its lines dumped, with the report's currency or end instant beside them.

    ``inner``: the rows are the lines each line holds in that field (a partner's pool figures) instead;
    ``leave_out``: fields of a line that are not its row's (lines held in a part of their own).
    """

    def rows(report: ProgrammeReport) -> list[dict[str, Any]]:
        extra: dict[str, Any] = ({"currency": report.currency} if currency else {}) | ({"as_of": report.end} if as_of else {})
        lines = getattr(report, field)
        if inner is not None:
            lines = [held for line in lines for held in getattr(line, inner)]
        return [line.model_dump(exclude=set(leave_out)) | extra for line in lines]

    return rows


PROGRAMME_TABLES: dict[str, tuple[tuple[str, ...], Rows]] = {
    "daily": (("day", *FLOW_LINES, "transactions"), _parts("daily")),
    "rewards": (("reward_type", "redemptions", "points", "value", "currency"), _parts("rewards", currency=True)),
    "tiers": (("as_of", "tier", "rank", "members"), _parts("tiers", as_of=True)),
    "tier_changes": (("member", "at", "from_tier", "to_tier", "direction", "transaction_id"), _parts("tier_changes")),
    "partners": (
        (
            "partner", "name", "asset", "exchanges_out", "exchanges_in", "points_out", "points_in", "units_delivered",
            "units_received", "settlement_out", "settlement_in", "settlement_net", "balance_at_end", "currency",
        ),
        _parts("partners", currency=True, leave_out=frozenset({"pools"})),
    ),
    "partner_pools": (
        ("partner", "pool", "contributed", "funds", "awarded", "redeemed", "paid", "currency"),
        _parts("partners", currency=True, inner="pools"),
    ),
    "expiring": (("as_of", "within_days", "expires_by", "points", "spendable", "pending", "members"), _parts("expiring", as_of=True)),
    "flags": (("kind", "members", "transactions", "first_at", "last_at", "detail"), _parts("flags")),
}
"""Each part of the report: its columns and its rows (``--table NAME`` with ``-f csv``)."""


def programme_table(report: ProgrammeReport, name: str) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    columns, rows = PROGRAMME_TABLES[name]
    return columns, rows(report)


def programme_json(report: ProgrammeReport) -> dict[str, Any]:
    """The whole report: the window, the summary figures, every part, the thresholds it was made with."""

    return {
        "report": "programme",
        "from": report.start,
        "to": report.end,
        "timezone": report.timezone,
        "points_asset": report.points_asset,
        "currency": report.currency,
        "point_value": report.point_value,
        "active_members": report.active_members,
        "members_at_end": report.members_at_end,
        "totals": report.totals,
        "due_points": report.due_points,
        **{name: programme_table(report, name)[1] for name in PROGRAMME_TABLES},
        "thresholds": report.thresholds.model_dump(),
    }
