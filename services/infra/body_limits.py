"""Request bodies are refused at the edge, before any route parses them: over the size limit (413),
JSON nested too deep (400), or JSON holding values no store or read model can hold (400). A query
string holding a NUL character, which no PostgreSQL text parameter can carry, is refused the same
way (422, like any query parameter a route cannot accept), whatever the route.

Each refusal is answered here, as ``{"detail": ...}`` like every other refusal (``http_errors``),
because the middleware runs outside the routes and their exception handlers.
"""

from __future__ import annotations

import json
import math
import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` (413) and JSON nested deeper than ``max_depth`` (400)
    before any route parses them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _nul_in_query(scope.get("query_string") or b""):
            # FastAPI's validation shape, as every other 422 is documented
            await _reject(send, 422, [{"loc": ["query"], "type": "value_error",
                                      "msg": "Query parameters may not contain a NUL character (%00)"}])
            return
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


def _nul_in_query(query: bytes) -> bool:
    return b"\x00" in query or b"%00" in query


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


async def _reject(send: Send, status: int, message: str | list) -> None:
    body = orjson.dumps({"detail": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
