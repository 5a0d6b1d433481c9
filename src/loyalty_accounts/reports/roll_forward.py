"""Roll-forward (the activity report): opening liability + movements = closing liability over ``(start, end]``.

Opening is read at pit ``start``, closing at pit ``end``, the movements as
volumes over the window (see the package docstring on windows).

Worked example
    Every asset sums to zero over all accounts, so whatever the customers'
    points gained in a window, the non-customer accounts lost, and the other
    way round: Δ(customer liability) = Σ over non-customer PTS accounts of
    (output − input). Each line of the roll-forward is one group of those
    accounts. Window (2026-01-01, 2026-05-01], opening liability 120::

        opening (customers:..., pit 2026-01-01)                     120
        + issued     program:points:issued:*    output              350
        − reversed   program:points:issued:*    input               −70
        − redeemed   program:points:redeemed    input − output      −30
        − expired    program:points:expired     input − output     −120
        − converted  program:points:converted                         0
        ± adjusted   program:points:adjustments output − input        0
        ± exchanged  partners:*:exchanged       output − input        0
        ± written_off program:points:written_off output − input       0
        = expected closing                                          250
        closing (customers:..., pit 2026-05-01)                     260
        difference                                                   10
          world      (unexplained)              output − input       10

    Movements against ``world`` or any account outside the groups above are
    listed as unexplained lines and are *not* part of the expected closing:
    a manual posting therefore makes the roll-forward not tie, by exactly
    its amount, and names the accounts it touched. ``residual`` is the part
    of the difference the unexplained lines do not account for; it is zero
    unless the reads were inconsistent (for instance a write landing between
    them). Earn, engagement awards and exchange-in all issue points from the
    issuance shards, so they show in ``issued``; ``exchanged`` is the points
    customers gave up to partners. Only the points asset is rolled forward:
    memo assets (qualifying points, award counters) and money are not
    liability points.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from ..chart import Chart
from ..ports import LedgerPort
from ..types import VolumeRow
from ..vocabulary.frozen import Frozen
from .common import (
    Clock,
    Windowed,
    customer_root,
    kind_of,
    money_value,
    points_of,
    root_of,
    volume_window,
    window,
    windowed,
)

__all__ = ["RollForward", "RollForwardLine", "read_roll_forward", "roll_forward"]


# (line name, chart kind, sign convention) in the order the statement prints them.
# "out" lines count an account's output (issued), "in" its input (reversed);
# "net_in" lines count input − output and reduce the liability; "net_out"
# lines count output − input and are signed.
_FLOW_LINES: tuple[tuple[str, str, str], ...] = (
    ("issued", "points_issued", "out"),
    ("reversed", "points_issued", "in"),
    ("redeemed", "points_redeemed", "net_in"),
    ("expired", "points_expired", "net_in"),
    ("converted", "points_converted", "net_in"),
    ("adjusted", "points_adjustments", "net_out"),
    ("exchanged", "partner_exchanged", "net_out"),
    ("written_off", "points_written_off", "net_out"),
)
_FLOW_KINDS = frozenset(kind for _, kind, _ in _FLOW_LINES)


def _detailed_roots(chart: Chart) -> tuple[str, ...]:
    """Roots holding the roll-forward's account groups (``partners``, ``program``), read account by account."""

    return tuple(sorted({root_of(chart, kind) for kind in _FLOW_KINDS}))


class RollForwardLine(Frozen):
    line: str
    account: str
    points: int
    """Signed effect on the customer liability."""
    value: Decimal
    explained: bool


class RollForward(Windowed):
    """Opening + movements = closing, over the window ``(start, end]``."""

    opening_points: int
    closing_points: int
    lines: tuple[RollForwardLine, ...]

    @property
    def explained_points(self) -> int:
        return sum(line.points for line in self.lines if line.explained)

    @property
    def unexplained_points(self) -> int:
        return sum(line.points for line in self.lines if not line.explained)

    @property
    def expected_closing_points(self) -> int:
        return self.opening_points + self.explained_points

    @property
    def difference(self) -> int:
        """closing − (opening + explained movements); zero when the roll-forward ties."""

        return self.closing_points - self.expected_closing_points

    @property
    def residual(self) -> int:
        """The part of the difference no unexplained line accounts for (inconsistent reads)."""

        return self.difference - self.unexplained_points

    @property
    def ties(self) -> bool:
        return self.difference == 0


def roll_forward(
    *,
    start: datetime | None,
    end: datetime,
    chart: Chart,
    opening: int,
    closing: int,
    accounts: Sequence[VolumeRow],
    roots: Sequence[VolumeRow],
) -> RollForward:
    """The roll-forward from opening/closing liability and the window's volumes.

    ``accounts`` are per-account volume rows of the ``program`` and
    ``partners`` subtrees over the window; ``roots`` the volumes of every
    account grouped by first segment (``group_by=1``) over the same window.
    Rows in other assets are ignored.
    """

    asset = chart.points_asset
    totals = {name: 0 for name, _, _ in _FLOW_LINES}
    unexplained: dict[str, int] = defaultdict(int)
    for row in accounts:
        if row.asset != asset:
            continue
        kind = kind_of(chart, row.account)
        if kind not in _FLOW_KINDS:
            unexplained[row.account] += row.output - row.input
            continue
        for name, line_kind, sign in _FLOW_LINES:
            if line_kind != kind:
                continue
            if sign == "out":
                totals[name] += row.output
            elif sign == "in":
                totals[name] -= row.input
            elif sign == "net_in":
                totals[name] -= row.input - row.output
            else:
                totals[name] += row.output - row.input
    skipped = {customer_root(chart), *_detailed_roots(chart)}
    for row in roots:
        if row.asset != asset or row.account in skipped:
            continue
        unexplained[row.account] += row.output - row.input

    def group(kind: str) -> str:
        return ":".join("*" if seg.variable else seg.text for seg in chart.kinds[kind].segments)

    value = chart.point_value
    lines = [
        RollForwardLine(line=name, account=group(kind), points=totals[name], value=money_value(totals[name], value), explained=True)
        for name, kind, _ in _FLOW_LINES
    ]
    for account in sorted(unexplained, key=lambda a: (a != "world", a)):
        points = unexplained[account]
        if points == 0:
            continue
        lines.append(
            RollForwardLine(
                line="world" if account == "world" else "unexplained",
                account=account,
                points=points,
                value=money_value(points, value),
                explained=False,
            )
        )
    return RollForward(
        **windowed(chart, start, end),
        opening_points=opening,
        closing_points=closing,
        lines=tuple(lines),
    )


def _customer_total(ledger: LedgerPort, chart: Chart, pit: datetime | None) -> int:
    if pit is None:
        return 0
    return points_of(chart, ledger.aggregate_balances(chart.customer_filter(), pit=pit))


def read_roll_forward(
    ledger: LedgerPort, chart: Chart, start: datetime | None, end: datetime | None, *, clock: Clock
) -> RollForward:
    """Roll-forward over ``(start, end]``; ``start=None`` means from the first transaction, ``end=None`` now."""

    start, end = window(start, end, clock)
    bounds = volume_window(start, end)
    opening = _customer_total(ledger, chart, start)
    closing = _customer_total(ledger, chart, end)
    roots = ledger.volumes(None, group_by=1, **bounds)
    detailed: list[VolumeRow] = []
    for root in _detailed_roots(chart):
        detailed.extend(ledger.volumes(f"{root}:...", **bounds))
    return roll_forward(start=start, end=end, chart=chart, opening=opening, closing=closing, accounts=detailed, roots=roots)
