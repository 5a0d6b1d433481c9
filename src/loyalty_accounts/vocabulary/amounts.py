"""Points and money: integers for points, ``Decimal`` or integer minor units for money, never floats.

A Formance asset names its precision: ``USD/2`` carries two decimals, so 1234
minor units are 12.34 USD; ``PTS`` carries none. Money entering the package
is a :class:`Money` (a positive ``Decimal`` and an ISO currency code); on the
ledger it becomes integer minor units (:func:`to_minor`), and comes back with
:func:`from_minor`. Rounding is always named (:data:`Rounding`), never implied.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, Mapping

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from ..errors import InvalidCommand
from .frozen import Value
from .quoting import quoted

Asset = str
"""A Formance asset name: ``PTS``, ``USD/2``, ``SKYMILES``."""

ASSET_RE = re.compile(r"^[A-Z][A-Z0-9]{0,16}(_[A-Z]{1,16})?(/\d{1,6})?$")

MAX_POINTS = 10**12
"""The most points one operation may move (a trillion): far beyond any programme's posting, and it keeps
every volume the ledger sums well inside what a JSON reader parses (Python refuses integers of more than
4,300 digits)."""

Points = Annotated[int, Field(gt=0, le=MAX_POINTS, strict=True)]
"""A positive whole number of points, at most :data:`MAX_POINTS` (strict: ``True`` or ``1.0`` are not points)."""

Rounding = Literal["floor", "ceiling", "half_even", "half_up"]
ROUNDING_MODES: Mapping[str, str] = {
    "floor": ROUND_FLOOR,
    "ceiling": ROUND_CEILING,
    "half_even": ROUND_HALF_EVEN,
    "half_up": ROUND_HALF_UP,
}


def refuse_float(value: Any) -> Any:
    """Before a money amount is read as a Decimal: a float is refused (it cannot hold 0.10 exactly), and text that is
    not plain decimal digits (Decimal would read ``1e3`` as a thousand and ``١٢`` as twelve)."""

    if isinstance(value, float):
        raise ValueError("money must be a Decimal or a string, never a float")
    if isinstance(value, str) and not _PLAIN_AMOUNT.fullmatch(value):
        raise ValueError("write an amount as plain decimal digits, e.g. 12.50 (no exponent, blank, sign or other digits)")
    return value


_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
"""Money as text: ASCII digits with an optional point (``1e3``, `` 20 ``, ``１０`` are not amounts)."""


NOT_A_FLOAT = BeforeValidator(refuse_float)
"""What every money amount's type ends with: ``Annotated[Decimal, Field(...), NOT_A_FLOAT]`` (after the Field, so
its bounds stay the Decimal's own and its errors read as they always have)."""


def asset_precision(asset: Asset) -> int:
    """Decimal places an asset carries: ``USD/2`` → 2, ``PTS`` → 0. InvalidCommand for a malformed asset."""

    if not ASSET_RE.match(asset):
        raise InvalidCommand(f"invalid asset {asset!r}")
    _, _, precision = asset.partition("/")
    return int(precision) if precision else 0


def asset_currency(asset: Asset) -> str:
    """The asset name without its precision: ``USD/2`` → ``USD``."""

    return asset.partition("/")[0]


def to_minor(amount: Decimal, asset: Asset) -> int:
    """Money as integer minor units of ``asset``; more decimals than it carries is InvalidCommand."""

    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidCommand(f"amount {amount!r} must be a finite Decimal")
    precision = asset_precision(asset)
    scaled = amount.scaleb(precision)
    if scaled != scaled.to_integral_value():
        raise InvalidCommand(f"{amount} has more decimals than {asset} carries ({precision})")
    return int(scaled)


def from_minor(units: int, asset: Asset) -> Decimal:
    """Integer minor units of ``asset`` back to a Decimal with the asset's precision."""

    precision = asset_precision(asset)
    return Decimal(units).scaleb(-precision).quantize(Decimal(1).scaleb(-precision))


def round_to(amount: Decimal, places: int, rounding: Rounding) -> Decimal:
    """Round to ``places`` decimals with a named rounding rule."""

    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUNDING_MODES[rounding])


class Money(Value):
    """A positive sum in a currency, e.g. 12.50 USD. Never a float."""

    amount: Annotated[Decimal, Field(allow_inf_nan=False), NOT_A_FLOAT]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

    @field_validator("amount")
    @classmethod
    def _canonical(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"must be greater than 0, got {value}")
        # 12.50 and 12.5 are the same money and must fingerprint alike.
        return Decimal(format(value.normalize(), "f"))

    def decimals(self) -> int:
        exponent = self.amount.as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0

    def formatted(self, places: int) -> str:
        """The amount with exactly ``places`` decimals, as metadata shows it."""

        return str(round_to(self.amount, places, "half_even"))


_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
"""Digits with an optional decimal point: no exponent, sign, separator or space (``1e3`` is not 1000)."""


_PLAIN_INTEGER = re.compile(r"-?[0-9]+")
"""Digits with an optional minus: no '+', '_', space, exponent or decimal point."""


def parse_points(text: str, *, option: str = "--points", signed: bool = False) -> int:
    """Whole points from text written plainly (``250``; ``-250`` when ``signed``).

    Raises InvalidCommand naming ``option`` for ``1.5``, ``1e3``, ``1_0``,
    ``+5``, ``0x10``, non-ASCII digits, a sign where none is allowed, or more
    than :data:`MAX_POINTS` either way. Whether 0 is allowed is the command's business.
    """

    if not text.isascii() or not _PLAIN_INTEGER.fullmatch(text) or (text.startswith("-") and not signed):
        kind = "a whole number" if signed else "a positive whole number"
        raise InvalidCommand(f"{option}: {quoted(text)} is not {kind} of points; write e.g. 250")
    digits = text.lstrip("-")
    if len(digits) > len(str(MAX_POINTS)) or int(digits) > MAX_POINTS:
        shown = text if len(text) <= 40 else f"{text[:20]}… ({len(digits)} digits)"
        raise InvalidCommand(f"{option}: {shown} points is more than one operation may move ({MAX_POINTS:,})")
    return int(text)


def parse_money(amount: str, currency: str, *, option: str = "--amount") -> Money:
    """Money from text: an exact decimal written plainly (``12.50``) in an (upper-cased) currency.

    Raises InvalidCommand for ``1e3``, ``1,000``, ``NaN``, a float-looking
    exponent or a non-positive amount.
    """

    if not _PLAIN_DECIMAL.fullmatch(amount):
        raise InvalidCommand(f"{option}: {quoted(amount)} is not a plain decimal number; write e.g. 12.50")
    return Money(amount=Decimal(amount), currency=currency.upper())
