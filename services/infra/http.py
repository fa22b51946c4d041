"""HTTP plumbing shared by both APIs: one error table, body limits, JSON depth, auth dependency.

Bad input always gets a 4xx with a clear message; nothing reaches a client as a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.graph import MAX_VERSION  # noqa: F401 - re-exported: the routes' version bound
from services.infra.auth import AuthError, TokenVerifier, User, bearer_token

log = logging.getLogger(__name__)

# Upper bounds of integer query and path parameters: what storage holds. Graph versions are bounded
# by the graph contract (``schemas.graph.MAX_VERSION``, re-exported here for the routes); stream
# positions (``seq``) are bigint; a page number times the largest page size must stay a bigint offset.
MAX_SEQ = 2 ** 63 - 1
MAX_PAGE = 2 ** 31 - 1
# A path parameter naming a resource by UUID. Typed ``str`` so ``parse_uuid`` answers a bad one
# with a 400 that says so (and accepts every spelling of a UUID); documented as ``format: uuid``
# so clients, and the fuzz test, send ids that reach the lookup.
UuidPath = Annotated[str, Path(json_schema_extra={"format": "uuid"})]


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail if detail is not None else message


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class BadRequest(DomainError):
    status_code = 400


class InsufficientCredits(DomainError):
    status_code = 402


class Unprocessable(DomainError):
    status_code = 422


class ErrorBody(BaseModel):
    """The body of every refusal: ``{"detail": ...}``, a message or (validation) a structure."""

    detail: Any


# The one table of refusals the routes document in OpenAPI: a route lists the codes it really
# answers (``responses=refusals(401, 404)``) and the meaning is written here once. FastAPI adds
# 422 itself for routes with parameters or a body.
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
    429: "Too many requests; Retry-After says when to try again",
    504: "Gave up waiting for the outcome",
}
# What any route taking a JSON body can answer before the route runs (BodyLimitMiddleware).
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` (413) and JSON nested deeper than ``max_depth`` (400)
    before any route parses them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reject(send, 413, f"Request body exceeds the limit of {self.max_bytes} bytes")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await _reject(send, 413, f"Request body exceeds the limit of {self.max_bytes} bytes")
                return
        if body and _json_too_deep(bytes(body), self.max_depth):
            await _reject(send, 400, f"JSON nested deeper than {self.max_depth} levels")
            return
        problem = _unstorable_json(bytes(body)) if body else None
        if problem:
            await _reject(send, 400, problem)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# NaN, Infinity and 3-digit exponents count only where a JSON value starts (after ``:``, ``[`` or
# ``,``), so the hex of ordinary UUIDs ("…4e123…") does not make every body suspicious.
_SUSPICIOUS = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|\d{19,}"
                         rb"|[:\[,]\s*(?:-?Infinity|NaN|-?\d+(?:\.\d*)?[eE][+-]?\d{3,})")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_NOT_FINITE = "Request JSON contains a number that is not finite (NaN, Infinity or beyond the float range, e.g. 1e400)"


class _NotFinite(ValueError):
    pass


def _refuse_constant(_name: str) -> float:
    raise _NotFinite(_name)


def _unstorable_json(raw: bytes) -> str | None:
    """Values valid in JSON that no store or read model can hold: a NUL character (PostgreSQL text
    refuses it), a lone UTF-16 surrogate (not UTF-8) or an integer beyond 64 bits. Refused here, at
    the edge, because once recorded in an event such a value would stop every projection of it.
    Also refused: NaN, Infinity and floats that overflow (``1e400``). Python's parser accepts them,
    but no JSON can carry them back out, so they were silently stored as ``null``.
    Only bodies that look suspicious are parsed, so ordinary requests pay one regex scan."""
    if not _SUSPICIOUS.search(raw):
        return None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except _NotFinite:
        return _NOT_FINITE
    except ValueError:
        return None  # not JSON at all: the route's own parsing answers that

    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "Request JSON contains a NUL character (\\u0000), which cannot be stored"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "Request JSON contains a lone UTF-16 surrogate, which is not valid text"
        elif isinstance(item, bool):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _NOT_FINITE
        elif isinstance(item, int):
            if not _INT64[0] <= item <= _INT64[1]:
                return "Request JSON contains an integer outside the 64-bit range"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _json_too_deep(raw: bytes, max_depth: int) -> bool:
    """Bracket depth scan that skips string contents; cheap and safe on hostile input."""
    depth = 0
    in_string = False
    escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


async def _reject(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"detail": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def user_dependency(verifier: TokenVerifier):
    """FastAPI dependency resolving the bearer token to a ``User`` (401 otherwise)."""

    if verifier.may_fetch_keys:
        # A JWKS lookup can go to the network: keep it off the event loop.
        async def current_user_fetching(request: Request) -> User:
            return await asyncio.to_thread(verifier.verify, bearer_token(request.headers.get("authorization")))

        return current_user_fetching

    async def current_user(request: Request) -> User:
        # Pure CPU (an HMAC or signature check): inline, which spares every request a thread hop.
        return verifier.verify(bearer_token(request.headers.get("authorization")))

    return current_user


def parse_uuid(value: str, what: str = "id") -> str:
    import uuid

    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise BadRequest(f"{what} must be a UUID, got {value[:60]!r}") from None


def raise_http(status: int, message: str) -> None:
    raise HTTPException(status_code=status, detail=message)


def json_response(content: Any, status_code: int = 200) -> Response:
    """Serialise with orjson straight to bytes (read models hand over plain dicts and lists)."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
