"""The HTTP API: FastAPI over the same services the CLI uses, versioned under ``/v1``.

``create_api`` builds the application: the writes of :mod:`.writes` (each needing an
``Idempotency-Key``), the reads and reports of :mod:`.reads`, ``GET /v1/health``, the OpenAPI document
(``/v1/openapi.json``) and its docs page (``/v1/docs``). Every answer that is not 2xx is a problem
document (:mod:`.problems`). Requests are logged one JSON line each (method, route, programme, status,
milliseconds, API key id), never a body, a header value or a query string.

Limits: a request body over :data:`MAX_BODY` bytes is refused (413) before it is read whole; pages of
listings are at most :data:`~.reads.MAX_PAGE` items. A request not answered within
:data:`REQUEST_TIMEOUT_S` is answered 504 (outcome unknown: retry with the same key); uvicorn finishes
in-flight requests on SIGTERM (:func:`~.serving.serve`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LoyaltyError
from ..version import __version__
from ..vocabulary.personal_data import not_repeated
from .context import ApiContext, instance_of, json_response, problem_response, require
from .idempotency import idempotency_key, request_digest
from .problems import FINAL_STATUSES, IdempotencyConflict, problem
from .reads import READS, register_reads
from .strict_json import StrictJsonRoute
from .writes import WRITES, Write, build, business_key, required_scope

__all__ = ["MAX_BODY", "REQUEST_TIMEOUT_S", "create_api"]

MAX_BODY = 64 * 1024
"""Largest request body accepted, bytes."""
REQUEST_TIMEOUT_S = 60.0
"""Seconds a request may take before it is answered 504 (see :func:`create_api`)."""
log = logging.getLogger("loyalty_accounts.api")


def request_model(write: Write) -> type[BaseModel]:
    """The JSON body of ``write`` for the OpenAPI document: its command's fields, the clock's ones optional."""

    fields: dict[str, Any] = {}
    for name, info in write.model.model_fields.items():
        if name == "unstated":
            continue
        # With its constraints (patterns, bounds, strictness): ``info.annotation`` alone drops them.
        annotation = info.rebuild_annotation()
        if name in write.clock_fields or not info.is_required():
            fields[name] = (annotation | None, Field(default=None, description=info.description))  # type: ignore[operator]
        else:
            fields[name] = (annotation, Field(description=info.description))
    name = "".join(part.title() for part in write.operation.split("_")) + "Request"
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def create_api(context: ApiContext, *, request_timeout_s: float = REQUEST_TIMEOUT_S) -> FastAPI:
    """The application serving ``context``'s programmes; a request not answered within ``request_timeout_s``
    is answered 504 (a write goes on and keeps its idempotency record: the retry learns its outcome)."""

    api = FastAPI(
        title="loyalty-accounts",
        version=__version__,
        description="A loyalty-points programme kept as double-entry accounting on a Formance Ledger.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
    )
    api.state.context = context
    api.router.redirect_slashes = False  # a redirect's Location would be built from the caller's Host header
    api.router.route_class = StrictJsonRoute  # a body naming a field twice is refused (:mod:`.strict_json`)

    @api.middleware("http")
    async def _log_and_limit(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            response: Response = problem_answer(request, 413, "too-large", "Payload Too Large", f"request bodies are at most {MAX_BODY} bytes")
        elif "transfer-encoding" in request.headers:  # a body of unknown length: its size cannot be checked first
            response = problem_answer(request, 411, "length-required", "Length Required", "send the body with a Content-Length")
        else:
            try:
                response = await asyncio.wait_for(call_next(request), timeout=request_timeout_s)
            except asyncio.TimeoutError:
                response = problem_answer(
                    request, 504, "outcome-unknown", "OutcomeUnknown",
                    f"no answer within {request_timeout_s:g} s; a write may still complete: retry with the same Idempotency-Key to learn",
                )
        log.info(json.dumps({
            "method": request.method,
            "route": instance_of(request) or "(none)",
            "programme": _served(context, request.path_params.get("programme")),
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "key_id": getattr(request.state, "key_id", None),
        }, separators=(",", ":")))
        return response

    @api.exception_handler(LoyaltyError)
    async def _loyalty_error(request: Request, exc: LoyaltyError) -> Response:
        return problem_response(exc, request)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI checks the body and query before the handler authenticates: a caller without a valid key is
        # refused (401) here, never told what is wrong with its request.
        programme = request.path_params.get("programme")
        if programme is not None:
            try:
                key = await run_in_threadpool(context.authenticate, request, programme)
                scopes = scopes_of(request)
                if scopes:  # and one whose scopes do not cover the route is refused (403) before its request is read
                    require(key, *scopes, member=request.path_params.get("member"))
            except LoyaltyError as refused:  # KeyRefused (401), NotAllowed (403), or the registry unavailable (503)
                return problem_response(refused, request)
        places = "; ".join(
            f"{'.'.join(_place(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: {_said(err)}" for err in exc.errors()
        )
        return problem_answer(request, 400, "invalid-request", "InvalidCommand", places)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error(json.dumps({"route": instance_of(request) or "(none)", "error": type(exc).__name__}))
        return problem_answer(request, 500, "internal", "Internal Server Error", "an unexpected error; nothing more is said here")

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return problem_answer(request, exc.status_code, "http", str(exc.detail), str(exc.detail))

    @api.get("/v1/health", tags=["operations"], summary="Whether every programme's ledger and the registry answer")
    def health() -> Response:
        checks: dict[str, str] = {}
        for name in context.programmes.by_name:
            try:
                context.app(name).client().ledger_metadata()  # the programme's own ledger, not only the server
                checks[f"ledger {name}"] = "ok"
            except LoyaltyError as exc:
                checks[f"ledger {name}"] = exc.message
        try:
            context.keys().keys("-")
            checks["registry"] = "ok"
        except LoyaltyError as exc:
            checks["registry"] = exc.message
        healthy = all(v == "ok" for v in checks.values())
        return json_response({"status": "ok" if healthy else "unavailable", "checks": checks}, 200 if healthy else 503)

    for write in WRITES:
        _register_write(api, context, write)
    register_reads(api, context)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
_REFUSALS = {
    "400": "Invalid request",
    "401": "No key, or a key that does not open this programme",
    "403": "The key's scopes do not cover this",
}


def _openapi(api: FastAPI) -> dict[str, Any]:
    """The OpenAPI document as the API really answers: the bearer key, every write's Idempotency-Key header, and
    refusals as problem documents (400, never FastAPI's 422)."""

    if api.openapi_schema:
        return api.openapi_schema
    schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    schema.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "lk_<id>_<secret>, made by `loyalty key create`"}
    }
    writes = {"/v1/programmes/{programme}" + w.path for w in WRITES}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1/programmes/"):
            continue
        for method, operation in operations.items():
            operation["security"] = [{"apiKey": []}]
            if method == "post" and path in writes:
                operation.setdefault("parameters", []).append(
                    {"name": "Idempotency-Key", "in": "header", "required": True,
                     "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                     "description": "The same key with the same body gets the original answer; with another body, 409."}
                )
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, text in _REFUSALS.items():
                responses[status] = {"description": text + " (a problem document, RFC 9457)", "content": _PROBLEM}
    api.openapi_schema = schema
    return schema


def _place(part: object) -> str:
    """A part of a refused field's location as a message shows it: a name that looks like personal data (an
    unknown field named with an email) is not repeated."""

    hidden = not_repeated(str(part))
    return f"({hidden})" if hidden is not None else str(part)


def _said(err: Any) -> str:
    """What a validation error says: its message, with the parser's own words for a malformed body."""

    said = str(err.get("msg", "invalid"))
    if err.get("type") == "json_invalid" and (err.get("ctx") or {}).get("error"):
        said += f": {err['ctx']['error']}"
    return said


def scopes_of(request: Request) -> tuple[str, ...]:
    """The scopes the request's route needs when they do not depend on its body (an exchange's partner does)."""

    path = (instance_of(request) or "").removeprefix("/v1/programmes/{programme}")
    for write in WRITES:
        if write.path == path and request.method == "POST":
            return () if write.scope == "partner:*" else (write.scope,)
    scopes = READS.get(f"{request.method} {path}", ())
    partner = request.path_params.get("partner")
    return tuple(s.replace("{partner}", partner) if partner else s for s in scopes)


def _served(context: ApiContext, programme: str | None) -> str | None:
    """The programme a request names, for the log: only a served one (the path may hold anything a caller typed)."""

    return programme if programme in context.programmes.by_name else ("(not served)" if programme is not None else None)


def problem_answer(request: Request, status: int, name: str, title: str, detail: str, **extra: Any) -> Response:
    doc = problem(status, name, title, detail, instance=instance_of(request), **extra)
    return Response(json.dumps(doc, separators=(",", ":")).encode(), status_code=status, media_type="application/problem+json")


def _register_write(api: FastAPI, context: ApiContext, write: Write) -> None:
    model = request_model(write)

    def handler(programme: str, request: Request, body: model) -> Response:  # type: ignore[valid-type]
        return run_write(context, write, programme, request, body.model_dump(mode="json", exclude_none=True))

    handler.__name__ = f"write_{write.operation}"
    # This module's annotations are strings (PEP 563); FastAPI must see the generated model itself.
    handler.__annotations__ = {"programme": str, "request": Request, "body": model, "return": Response}
    api.post(
        "/v1/programmes/{programme}" + write.path,
        tags=["writes"],
        summary=write.summary,
        description=f"Operation `{write.operation}`; scope `{write.scope}`; header `Idempotency-Key` required.",
        status_code=201,
    )(handler)


def run_write(context: ApiContext, write: Write, programme: str, request: Request, body: dict[str, Any]) -> Response:
    """One write: authenticate, validate, authorise, then exactly once by its Idempotency-Key (checked only for a caller
    allowed the write: one without the scope is refused, 403, not told to add a header that would not help)."""

    key = context.authenticate(request, programme)
    app = context.app(programme)
    command = build(write, body, context.clock())
    require(key, required_scope(write, command))
    idem = idempotency_key(request.headers.get("idempotency-key"))
    store = context.idempotency()
    begun = store.begin(
        programme=programme, key_id=key.key_id, key=idem, digest=request_digest("POST", request.url.path, body),
        operation=write.operation, business_key=business_key(write, command), now=context.clock(),
    )
    if begun.outcome == "replay":
        assert begun.status is not None and begun.response is not None
        media = "application/json" if begun.status < 300 else "application/problem+json"
        return Response(begun.response, status_code=begun.status, media_type=media, headers={"Idempotent-Replayed": "true"})
    if begun.outcome == "conflict":
        raise IdempotencyConflict(
            f"Idempotency-Key {idem} was used for another request ({begun.operation} {begun.business_key}): use a new key for a new request"
        )
    if begun.outcome == "busy":
        raise IdempotencyConflict(f"a request with Idempotency-Key {idem} is still being processed: retry in a few seconds")
    failure: LoyaltyError | None = None
    try:
        result = write.call(app.program, command)
    except LoyaltyError as exc:
        failure = exc
        response = problem_response(exc, request)
    except BaseException:
        store.release(programme=programme, key_id=key.key_id, key=idem)
        raise
    else:
        summary = result.summary()
        posted = bool(getattr(result, "posted", False))
        response = json_response(summary, 201 if posted and not summary.get("replayed") else 200)
    final = response.status_code in FINAL_STATUSES and not (failure is not None and failure.code == "LEDGER_NOT_FOUND")
    if final:  # a programme whose ledger is not made yet says nothing about the request: its retry runs again
        store.finish(programme=programme, key_id=key.key_id, key=idem, status=response.status_code, response=bytes(response.body), now=context.clock())
    else:
        store.release(programme=programme, key_id=key.key_id, key=idem)
    return response
