"""The verdict of one reconciliation check: pass, fail or not verified, with what it found."""

from __future__ import annotations

from typing import Literal, Sequence

from ..vocabulary.frozen import Frozen

__all__ = ["SHOWN", "Check", "Status", "verdict"]

SHOWN = 5
"""Offending items a history check lists; its ``count`` says how many there are in all."""

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


def verdict(name: str, detail: str, breaks: Sequence[str], info: Sequence[str] = ()) -> Check:
    """A check that fails when there are ``breaks``, listing the first :data:`SHOWN` of them and counting them all."""

    return Check(
        name=name,
        status="fail" if breaks else "pass",
        detail=detail,
        offending=tuple(breaks[:SHOWN]),
        count=len(breaks),
        info=tuple(info[:SHOWN]),
    )
