"""The one table from refusals to HTTP answers, and its documentation, for both APIs.

Every refusal a route gives is a kind from ``services.domain.errors``; ``STATUS_BY_KIND`` gives
each kind its status code, and ``install_error_handlers`` (called by the command API, the query API
and the gateway that composes them) answers any of them as ``{"detail": refusal.detail}``. Beside
the refusals it answers three things that are not the domain's: 401 for unusable credentials
(``AuthError``, with ``WWW-Authenticate``), 422 for a request FastAPI cannot parse, and 500, without
the trace, for anything unexpected. 429 is the rate limiter's own ``HTTPException``.

``REFUSALS`` documents each status code once; routes list the codes they really answer with
``responses=refusals(...)``. Bad input always gets a 4xx with a clear message; nothing reaches a
client as a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from services.domain.errors import (
    ConflictError,
    DomainRefusal,
    Forbidden,
    InsufficientCredits,
    InvalidCommand,
    NotFoundError,
    PayloadTooLarge,
    PreconditionRequired,
    TimedOut,
    Unavailable,
)
from services.infra.auth import AuthError

log = logging.getLogger(__name__)

STATUS_BY_KIND: dict[type[DomainRefusal], int] = {
    InvalidCommand: 400,
    InsufficientCredits: 402,
    Forbidden: 403,
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLarge: 413,
    PreconditionRequired: 428,
    Unavailable: 503,
    TimedOut: 504,
    DomainRefusal: 400,  # a refusal of no particular kind is bad input
}


def status_of(refusal: DomainRefusal) -> int:
    """The status of the most specific kind the refusal is (the first in its class's MRO)."""
    return next(STATUS_BY_KIND[cls] for cls in type(refusal).__mro__ if cls in STATUS_BY_KIND)


class ErrorBody(BaseModel):
    """The body of every refusal: ``{"detail": ...}``, a message or (validation) a structure."""

    detail: Any


# What each status code means, written once: the OpenAPI description of every refusal a route
# lists (``responses=refusals(401, 404)``). FastAPI adds 422 itself for routes with parameters.
REFUSALS: dict[int, str] = {
    400: "Bad input: a malformed id or value, a graph that does not validate, or a JSON body that "
         "nests too deep or holds values nothing can store (NUL, lone surrogates, NaN/Infinity, "
         "integers beyond 64 bits)",
    401: "Missing, invalid or expired credentials (bearer token or API key)",
    402: "Not enough credits",
    403: "Not allowed: an admin route, a disabled block, a reserved id, or an API key without the permission",
    404: "Not found (another user's resources are not found either)",
    409: "Conflict: a concurrent change or a state that does not allow the command",
    413: "Request body over the size limit",
    428: "Something must be done first (a store submission needs a store profile)",
    429: "Too many requests; Retry-After says when to try again",
    503: "Unavailable right now (the database is away, or the read models are behind what was recorded, "
         "past the read fence's wait): Retry-After says when to try again; reads may ask for "
         "`consistency=eventual` to take what the read models hold",
    504: "Gave up waiting for the outcome",
}
# What any route taking a JSON body can answer before the route runs (``BodyLimitMiddleware``).
BODY_REFUSALS = (400, 413)


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the given refusal codes, from ``REFUSALS``."""
    return {code: {"model": ErrorBody, "description": REFUSALS[code]} for code in sorted(set(codes))}


def _validation_message(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors()[:20]:
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": err.get("msg"), "type": err.get("type")})
    return out


DATABASE_RETRY_AFTER_S = 2


def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database went away mid-request (a restart, a failover): 503 with ``Retry-After``, so a
    client retries instead of reading a 500 as a bug. Nothing half-done is left: a command's
    append is one transaction."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "The database is unavailable right now; retry in a few seconds"},
                        status_code=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainRefusal)
    async def _refused(_: Request, exc: DomainRefusal) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Unavailable) else None
        return JSONResponse({"detail": exc.detail}, status_code=status_of(exc), headers=headers)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        return database_unavailable(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)
