"""The one frozen base model, and its variant whose validation failures are InvalidCommand.

Every value in the package is a :class:`Frozen` pydantic model: immutable,
hashable where its fields are, and refusing unknown fields. Values built from
what a caller typed (commands, orders, money) derive from :class:`Value`, so
a bad field is reported as :class:`~loyalty_accounts.errors.InvalidCommand`
(exit 2) naming the field, never as a raw pydantic error.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import InvalidCommand
from .personal_data import not_repeated
from .quoting import QUOTED_AT_MOST, quoted


class Frozen(BaseModel):
    """Base of every value: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class InvalidValue(InvalidCommand, ValueError):
    """InvalidCommand that is also a ValueError, so pydantic reports it inside an enclosing value."""


def title_of(model: type) -> str:
    """How a message names a kind of value: its class name in words (``RedeemCommand`` -> ``redeem command``)."""

    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", model.__name__).lower()


def _shown(value: Any) -> str:
    """A refused value as a message quotes it: numbers (Decimal included) plainly, text quoted, long ones cut;
    text that looks like personal data is not repeated (:func:`~.personal_data.not_repeated`)."""

    if isinstance(value, str) and (hidden := not_repeated(value)) is not None:
        return hidden
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        text = str(value)
        return text if len(text) <= QUOTED_AT_MOST else f"{text[:QUOTED_AT_MOST]}… ({len(text)} characters)"
    return quoted(value)


def describe_validation(title: str, exc: ValidationError) -> str:
    """One line naming every failing field of ``title``: ``invalid redeem command: points: …``."""

    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:  # a check across fields: its message names them
            parts.append(msg)
        elif err["type"] == "missing":
            parts.append(f"{loc}: required")
        elif err["type"] == "value_error":
            parts.append(f"{loc}: {msg}")
        else:
            parts.append(f"{loc}: {msg} (got {_shown(err.get('input'))})")
    return f"invalid {title}: " + "; ".join(parts)


@contextmanager
def _invalid_as_command(title: str) -> Iterator[None]:
    """A validation failure of ``title`` inside the block becomes :class:`InvalidValue` naming every failing field."""

    try:
        yield
    except ValidationError as exc:
        details = [_scrubbed(error) for error in exc.errors(include_context=False)]
        raise InvalidValue(describe_validation(title, exc), details=details) from None


def _scrubbed(error: Any) -> Any:
    """A validation error whose ``input`` is left out when it looks like personal data."""

    value = error.get("input")
    if isinstance(value, str) and (hidden := not_repeated(value)) is not None:
        return {**error, "input": hidden}
    return error


class Value(Frozen):
    """A frozen model whose validation failures raise :class:`InvalidValue` (an InvalidCommand)."""

    def __init__(self, /, **data: Any) -> None:
        with _invalid_as_command(title_of(type(self))):
            super().__init__(**data)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with _invalid_as_command(title_of(cls)):
            return super().model_validate(obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with _invalid_as_command(title_of(cls)):
            return super().model_validate_json(json_data, **kwargs)
