"""The reward catalogue of a rules file: reward types with their own rate and minimum, and the rewards.

A **reward type** (cashback, gift card, product, donation...) says how many
points one whole unit of the catalogue's ``currency`` (the chart's money
asset) costs, and the smallest points price a reward of that type may have.
A **reward** (one SKU) has a type, a name, and a points price derived from
its ``value``::

    points = value × type.points_per_unit          exact: a fraction is refused, never rounded

    gift card, 90 points per 1.00, value 25.00     → 2250 points
    cashback, 100 points per 1.00, value 12.345    → refused (USD takes 2 decimals: checked against the chart)
    cashback, 100 points per 1.00, value 20.00     → 2000 points, refused: below the 2500-point minimum

A reward without a ``value`` (a product priced in points only) states its
``points``; a reward giving both must give the two that agree. Every price
reaches its type's ``minimum_points``. A ``physical`` reward keeps its stock
on the ledger (the chart's ``catalogue_stock`` accounts, in the stock asset):
each redemption takes one unit in the same transaction as the points.

Each broken rule is a :class:`~.model.RuleProblem` with its field path, which
the loader turns into ``file: catalogue.rewards.2.points (line 140): ...``.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Annotated, Mapping

from pydantic import Field, StringConstraints

from ..errors import InvalidCommand
from ..vocabulary.amounts import NOT_A_FLOAT
from ..vocabulary.frozen import Frozen
from ..vocabulary.ids import Code, Sku
from ..vocabulary.personal_data import not_repeated

MAX_PRICE = 10**9

PointsPerUnit = Annotated[Decimal, Field(gt=0, le=100_000, decimal_places=4, allow_inf_nan=False), NOT_A_FLOAT]
Price = Annotated[int, Field(ge=1, le=MAX_PRICE, strict=True)]
RewardValue = Annotated[Decimal, Field(gt=0, le=10**7, allow_inf_nan=False), NOT_A_FLOAT]


class RewardType(Frozen):
    """Points per whole unit of the catalogue's currency, and the smallest points price of the type."""

    points_per_unit: PointsPerUnit
    minimum_points: Price


class Reward(Frozen):
    """One catalogue item; its points price is :meth:`RewardCatalogue.price` (``points``, or ``value`` at its type's rate)."""

    sku: Sku
    type: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
    value: RewardValue | None = None
    points: Price | None = None
    physical: bool = False


class RewardCatalogue(Frozen):
    """The ``catalogue`` section: its currency, reward types and rewards (checked by :func:`check_catalogue`)."""

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    reward_types: Annotated[dict[Code, RewardType], Field(min_length=1)]
    rewards: tuple[Reward, ...] = ()

    @cached_property
    def by_sku(self) -> Mapping[str, Reward]:
        return {reward.sku: reward for reward in self.rewards}

    def find(self, sku: str) -> Reward | None:
        """The reward of ``sku``, or None."""

        return self.by_sku.get(sku)

    def reward(self, sku: str) -> Reward:
        """The reward of ``sku``; InvalidCommand (exit 2) naming the catalogue's size for an unknown one."""

        found = self.find(sku)
        if found is None:
            # A value typed in the SKU's place that looks like an email or a phone is never repeated.
            hidden = not_repeated(sku) if isinstance(sku, str) else None
            shown = f"({hidden})" if hidden is not None else repr(sku)
            raise InvalidCommand(
                f"reward {shown} is not in the catalogue ({len(self.rewards)} rewards: `loyalty catalogue list`)"
            )
        return found

    def price(self, reward: Reward) -> int:
        """The reward's points price: ``value × points_per_unit`` of its type, else its ``points``."""

        if reward.value is None:
            assert reward.points is not None, "check_catalogue refuses a reward without a price"
            return reward.points
        derived = priced(reward, self.reward_types[reward.type])
        assert derived is not None, "check_catalogue refuses a fractional price"
        return derived


def priced(reward: Reward, kind: RewardType) -> int | None:
    """``value × points_per_unit`` when it is a whole number of points, None when it is a fraction."""

    assert reward.value is not None
    exact = reward.value * kind.points_per_unit
    return int(exact) if exact == exact.to_integral_value() else None


def check_catalogue(catalogue: RewardCatalogue) -> None:
    """RuleProblem (with its field path) for a broken rule of the catalogue.

    Refused: a SKU listed twice, an undeclared type, a reward with neither
    value nor points, a value whose price is a fraction of a point, points
    that disagree with the value, a price below the type's minimum.
    """

    from .model import RuleProblem  # the model module imports this one

    seen: set[str] = set()
    for i, reward in enumerate(catalogue.rewards):
        path: tuple[str | int, ...] = ("catalogue", "rewards", i)
        if reward.sku in seen:
            raise RuleProblem((*path, "sku"), f"SKU {reward.sku!r} is listed twice")
        seen.add(reward.sku)
        kind = catalogue.reward_types.get(reward.type)
        if kind is None:
            declared = ", ".join(sorted(catalogue.reward_types))
            raise RuleProblem((*path, "type"), f"{reward.type!r} is not a declared reward type ({declared})")
        points = reward.points
        if reward.value is not None:
            derived = priced(reward, kind)
            rate = f"{reward.value} × {kind.points_per_unit} points per 1.00 {catalogue.currency}"
            if derived is None:
                raise RuleProblem((*path, "value"), f"{rate} is not a whole number of points")
            if points is not None and points != derived:
                raise RuleProblem((*path, "points"), f"{points} disagrees with the value: {rate} = {derived}")
            if derived > MAX_PRICE:
                raise RuleProblem((*path, "value"), f"{derived} points is above the largest price, {MAX_PRICE}")
            points = derived
        if points is None:
            raise RuleProblem(path, "give a value (priced at the type's rate) or a points price")
        if points < kind.minimum_points:
            raise RuleProblem(
                (*path, "points" if reward.value is None else "value"),
                f"{points} points is below the {reward.type} minimum of {kind.minimum_points}",
            )
