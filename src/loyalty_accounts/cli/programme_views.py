"""How ``loyalty report programme`` shows its report: one table per part for people, the whole report as JSON,
and one part per CSV (``--table``), since a CSV holds one kind of row."""

from __future__ import annotations

from typing import Any, Callable

from ..reports.programme import FLOW_LINES, ProgrammeReport

__all__ = ["PROGRAMME_TABLES", "programme_json", "programme_table"]


def _daily(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [d.model_dump() for d in report.daily]


def _rewards(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [r.model_dump() | {"currency": report.currency} for r in report.rewards]


def _tiers(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [{"as_of": report.end, **t.model_dump()} for t in report.tiers]


def _tier_changes(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [c.model_dump() for c in report.tier_changes]


def _partners(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [p.model_dump() | {"currency": report.currency} for p in report.partners]


def _expiring(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [{"as_of": report.end, **e.model_dump()} for e in report.expiring]


def _flags(report: ProgrammeReport) -> list[dict[str, Any]]:
    return [f.model_dump() for f in report.flags]


PROGRAMME_TABLES: dict[str, tuple[tuple[str, ...], Callable[[ProgrammeReport], list[dict[str, Any]]]]] = {
    "daily": (("day", *FLOW_LINES, "transactions"), _daily),
    "rewards": (("reward_type", "redemptions", "points", "value", "currency"), _rewards),
    "tiers": (("as_of", "tier", "rank", "members"), _tiers),
    "tier_changes": (("member", "at", "from_tier", "to_tier", "direction", "transaction_id"), _tier_changes),
    "partners": (
        (
            "partner", "name", "asset", "exchanges_out", "exchanges_in", "points_out", "points_in", "units_delivered",
            "units_received", "settlement_out", "settlement_in", "settlement_net", "balance_at_end", "currency",
        ),
        _partners,
    ),
    "expiring": (("as_of", "within_days", "expires_by", "points", "spendable", "pending", "members"), _expiring),
    "flags": (("kind", "members", "transactions", "first_at", "last_at", "detail"), _flags),
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
