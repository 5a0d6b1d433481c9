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
