"""Comparing two versions of the rules: what sample orders earn under each (``loyalty rules check``)."""

from __future__ import annotations

from typing import Mapping, Sequence

from ..errors import InvalidCommand
from ..vocabulary.frozen import Frozen
from .model import Order, Rules
from .pricing import quote


class VersionComparison(Frozen):
    """What one sample order earns under two rule versions; a note says why it earns nothing or fails."""

    order_id: str
    tier: str
    old_version: str
    new_version: str
    old_points: int | None
    new_points: int | None
    old_note: str | None = None
    new_note: str | None = None

    @property
    def delta(self) -> int | None:
        if self.old_points is None or self.new_points is None:
            return None
        return self.new_points - self.old_points


def _try_quote(rules: Rules, order: Order, tier: str, usage: Mapping[str, int]) -> tuple[int | None, str | None]:
    try:
        breakdown = quote(rules, order, tier=tier, campaign_usage=usage)
    except InvalidCommand as exc:
        return None, exc.message
    return breakdown.points, breakdown.reason


def compare_versions(
    old_rules: Rules,
    new_rules: Rules,
    sample_orders: Sequence[Order],
    *,
    tier: str | None = None,
    campaign_usage: Mapping[str, int] | None = None,
) -> tuple[VersionComparison, ...]:
    """One row per sample order: points under the old and the new rules.

    ``tier`` defaults to each version's base tier. An order one version
    refuses (say, a currency it dropped) gets no points and the refusal as
    its note instead of stopping the comparison.
    """

    usage = campaign_usage or {}
    rows = []
    for order in sample_orders:
        old_tier = tier or old_rules.base_tier.name
        new_tier = tier or new_rules.base_tier.name
        old_points, old_note = _try_quote(old_rules, order, old_tier, usage)
        new_points, new_note = _try_quote(new_rules, order, new_tier, usage)
        rows.append(VersionComparison(
            order_id=order.order_id,
            tier=new_tier if old_tier == new_tier else f"{old_tier}/{new_tier}",
            old_version=old_rules.version,
            new_version=new_rules.version,
            old_points=old_points,
            new_points=new_points,
            old_note=old_note,
            new_note=new_note,
        ))
    return tuple(rows)
