"""Request bodies read strictly: a JSON object naming a field twice is refused, never read as its last value.

``{"points": 10, "points": 1000}`` is valid JSON to Python's ``json`` module
(the last value wins) and to many other parsers (the first wins): a proxy or a
signature check in front of the API may have read the other value. A write
must mean one thing, so the API refuses such a body (400 ``invalid-request``,
``JSON decode error: duplicate key 'points'``), as it refuses ``NaN`` and
``Infinity``, which JSON (RFC 8259) does not have.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Coroutine

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from ..vocabulary.quoting import quoted

__all__ = ["StrictJsonRequest", "StrictJsonRoute", "strict_loads"]


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise json.JSONDecodeError(f"duplicate key {quoted(key)}", "", 0)
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number", "", 0)


def strict_loads(body: bytes | str) -> Any:
    """``body`` parsed as JSON; json.JSONDecodeError for a repeated key in any object, or NaN/Infinity."""

    return json.loads(body, object_pairs_hook=_one_value_per_key, parse_constant=_no_constant)


class StrictJsonRequest(Request):
    """A request whose ``json()`` is :func:`strict_loads` (FastAPI reads a body through it)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route reading its body with :class:`StrictJsonRequest` (FastAPI then answers a refused body as any malformed one)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
