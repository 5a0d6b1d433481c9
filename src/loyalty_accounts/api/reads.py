"""The API's reads: a member's position, the quote and explanation of an order, the finance reports.

=====================================================  =================================================
path (under ``/v1/programmes/{programme}``)             scopes (``admin`` always)
=====================================================  =================================================
GET /members/{member}/balance?as_of=                    member:read (that member), pos:earn, checkout:spend, finance:read
GET /members/{member}/tier?as_of=                       member:read (that member), pos:earn, checkout:spend, finance:read
GET /members/{member}/history?limit=&after=             member:read (that member), finance:read
GET /members/{member}/statement?from=&to=               member:read (that member), finance:read
POST /quote                                             pos:earn (an earn's body; posts nothing)
GET /orders/{order_id}/explanation                      pos:earn, finance:read
GET /reports/liability?as_of=                           finance:read
GET /reports/activity?from=&to=                         finance:read
GET /reports/breakage?from=&to=                         finance:read
GET /reports/revenue?from=&to=                          finance:read
GET /reconcile?as_of=                                   finance:read
GET /partners/{partner}/statement?from=&to=             partner:{partner}, finance:read
=====================================================  =================================================

Instants are ISO 8601 with an offset, or a bare date (the start of that day in the programme's zone). A query
parameter a read does not list is refused (400 ``invalid-request``), never ignored: ``?asof=`` must not answer as now.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ..reports.statement import points_change
from .context import QUERY_NAMES, ApiContext, json_response, positive_limit, require
from .writes import WRITES, build

__all__ = ["MAX_PAGE", "READS", "register_reads"]

MAX_PAGE = 1000
"""Most items a page of a listing holds."""
MEMBER_BALANCE = ("member:read", "pos:earn", "checkout:spend", "finance:read")
MEMBER_HISTORY = ("member:read", "finance:read")
READS: dict[str, tuple[str, ...]] = {}
"""Each read's path (under the programme) → the scopes that may call it (admin always may): for the docs and tests."""


def report_document(report: BaseModel) -> dict[str, Any]:
    """A report as JSON: its fields and its verdicts, the public properties of its class (a liability's ``ties``
    and ``difference``, a reconciliation's ``ok``, a roll-forward's closing...), which ``model_dump`` leaves out."""

    verdicts = {
        name: getattr(report, name)
        for kind in type(report).__mro__
        if kind.__module__.startswith("loyalty_accounts.")
        for name, member in vars(kind).items()
        if isinstance(member, property) and not name.startswith("_")
    }
    return report.model_dump(mode="json") | to_jsonable_python(verdicts)


def _route(
    api: FastAPI, method: str, path: str, scopes: tuple[str, ...], summary: str, query: tuple[str, ...] = ()
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    READS[f"{method} {path}"] = scopes
    full = "/v1/programmes/{programme}" + path
    QUERY_NAMES[full] = frozenset(query)  # any other is refused (400)
    decorator = api.get if method == "GET" else api.post
    return decorator(full, tags=["reads"], summary=summary, description=f"Scopes: {', '.join(scopes)} (or admin).")


def register_reads(api: FastAPI, context: ApiContext) -> None:
    """Add every read of the module docstring to ``api``."""

    def member_route(path: str, scopes: tuple[str, ...], summary: str, read: Callable[[Any, str, Request], Any], query: tuple[str, ...]) -> None:
        @_route(api, "GET", path, scopes, summary, query)
        def handler(programme: str, member: str, request: Request) -> Response:
            key = context.authenticate(request, programme)
            require(key, *scopes, member=member)
            return json_response(read(context.app(programme), member, request))

        handler.__name__ = "read_" + path.rsplit("/", 1)[-1]

    def as_of(app: Any, request: Request, name: str = "as_of") -> Any:
        return context.instant(app.ledger_name, request.query_params.get(name), name)

    def balance(app: Any, member: str, request: Request) -> dict[str, Any]:
        position = app.program.balance(member, pit=as_of(app, request))
        return position.model_dump(mode="json") | {"total": position.total}

    member_route("/members/{member}/balance", MEMBER_BALANCE, "A member's points: spendable, pending, held, due, by bucket", balance, ("as_of",))
    member_route("/members/{member}/tier", MEMBER_BALANCE, "A member's tier and the distance to the next",
                 lambda app, m, r: app.program.tier(m, as_of(app, r) or context.clock()).model_dump(mode="json"), ("as_of",))
    member_route("/members/{member}/statement", MEMBER_HISTORY, "A member's statement between two instants",
                 lambda app, m, r: report_document(app.reports.statement(m, as_of(app, r, "from"), as_of(app, r, "to"))), ("from", "to"))

    @_route(api, "GET", "/members/{member}/history", MEMBER_HISTORY, "A member's transactions, oldest first, a page at a time", ("limit", "after"))
    def history(programme: str, member: str, request: Request, limit: int = 100, after: int = -1) -> Response:
        key = context.authenticate(request, programme)
        require(key, *MEMBER_HISTORY, member=member)
        positive_limit(limit, MAX_PAGE)
        app = context.app(programme)
        rows = [tx for tx in app.program.history(member) if tx.id > after]
        page = rows[:limit]
        return json_response({
            "items": [
                {"tx": tx.id, "timestamp": tx.timestamp, "operation": tx.metadata.get("operation"), "reference": tx.reference,
                 "points_change": points_change(app.chart, tx, member), "reverted": tx.reverted}
                for tx in page
            ],
            "next_after": page[-1].id if len(rows) > limit else None,
        })

    earn = next(w for w in WRITES if w.operation == "earn")

    @_route(api, "POST", "/quote", ("pos:earn",), "What an order would earn now; posts nothing")
    def quote(programme: str, request: Request, body: dict[str, Any]) -> Response:
        key = context.authenticate(request, programme)
        require(key, "pos:earn")
        app = context.app(programme)
        return json_response(app.program.quote(build(earn, body, context.clock())).model_dump(mode="json"))

    @_route(api, "GET", "/orders/{order_id}/explanation", ("pos:earn", "finance:read"), "How an order's points were worked out")
    def explain(programme: str, order_id: str, request: Request) -> Response:
        key = context.authenticate(request, programme)
        require(key, "pos:earn", "finance:read")
        return json_response(context.app(programme).program.explain(order_id).model_dump(mode="json"))

    def report(path: str, summary: str, read: Callable[[Any, Request], Any], query: tuple[str, ...] = ("from", "to")) -> None:
        @_route(api, "GET", path, ("finance:read",), summary, query)
        def handler(programme: str, request: Request) -> Response:
            key = context.authenticate(request, programme)
            require(key, "finance:read")
            return json_response(report_document(read(context.app(programme), request)))

        handler.__name__ = "report_" + path.rsplit("/", 1)[-1].replace("-", "_")

    report("/reports/liability", "Outstanding points (the liability) by state", lambda app, r: app.reports.liability(as_of(app, r)), ("as_of",))
    report("/reports/activity", "The points roll-forward", lambda app, r: app.reports.activity(as_of(app, r, "from"), as_of(app, r, "to")))
    report("/reports/breakage", "Breakage by cohort", lambda app, r: app.reports.breakage(as_of(app, r, "from"), as_of(app, r, "to")))
    report("/reports/revenue", "The IFRS 15 revenue schedule", lambda app, r: app.reports.revenue(as_of(app, r, "from"), as_of(app, r, "to")))
    report("/reconcile", "Every reconciliation check", lambda app, r: app.reports.reconcile(as_of(app, r)), ("as_of",))

    @_route(api, "GET", "/partners/{partner}/statement", ("partner:{partner}", "finance:read"), "A partner's settlement statement", ("from", "to"))
    def partner_statement(programme: str, partner: str, request: Request) -> Response:
        key = context.authenticate(request, programme)
        require(key, f"partner:{partner}", "finance:read")
        app = context.app(programme)
        return json_response(report_document(app.reports.partner_statement(partner, as_of(app, request, "from"), as_of(app, request, "to"))))
