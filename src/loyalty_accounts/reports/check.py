"""The verdict of one reconciliation check: pass, fail or not verified, with what it found."""

from __future__ import annotations

from typing import Literal

from ..vocabulary.frozen import Frozen

__all__ = ["Check", "Status"]

Status = Literal["pass", "fail", "not_verified"]


class Check(Frozen):
    name: str
    status: Status
    detail: str
    offending: tuple[str, ...] = ()
    info: tuple[str, ...] = ()
    count: int | None = None
    """How many offending items there are in all, when ``offending`` lists only the first few (None: it lists them all)."""

    @property
    def violations(self) -> int:
        """The number of offending items, listed or not."""

        return self.count if self.count is not None else len(self.offending)
