"""What the routes of both APIs share besides the error table: parameter bounds, id parsing, the
signed-in user as a typed dependency, and fast JSON answers.

The refusals and their status codes are ``http_errors``; the limits on request bodies are
``body_limits``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import Response

from schemas.graph import MAX_VERSION  # noqa: F401 - re-exported: the routes' version bound
from services.domain.errors import Forbidden, InvalidCommand
from services.infra.auth import TokenVerifier, User, bearer_token

# Upper bounds of integer query and path parameters: what storage holds. Graph versions are bounded
# by the graph contract (``schemas.graph.MAX_VERSION``, re-exported here for the routes); stream
# positions (``seq``) are bigint; a page number times the largest page size must stay a bigint offset.
MAX_SEQ = 2 ** 63 - 1
MAX_PAGE = 2 ** 31 - 1
# A path parameter naming a resource by UUID. Typed ``str`` so ``parse_uuid`` answers a bad one
# with a 400 that says so (and accepts every spelling of a UUID); documented as ``format: uuid``
# so clients, and the fuzz test, send ids that reach the lookup.
UuidPath = Annotated[str, Path(json_schema_extra={"format": "uuid"})]


def use_token_verifier(app: FastAPI, verifier: TokenVerifier) -> TokenVerifier:
    """Make ``verifier`` the one ``current_user`` checks the app's bearer tokens with."""
    app.state.token_verifier = verifier
    return verifier


async def current_user(request: Request) -> User:
    """The bearer token's user (``AuthError``, so 401, otherwise)."""
    verifier: TokenVerifier = request.app.state.token_verifier
    token = bearer_token(request.headers.get("authorization"))
    if verifier.may_fetch_keys:
        # A JWKS lookup can go to the network: keep it off the event loop.
        return await asyncio.to_thread(verifier.verify, token)
    # Pure CPU (an HMAC or signature check): inline, which spares every request a thread hop.
    return verifier.verify(token)


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    """The bearer token's user if an admin (403 otherwise): the one check of every admin route."""
    if not user.is_admin:
        raise Forbidden("Admin access required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def parse_uuid(value: str, what: str = "id") -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidCommand(f"{what} must be a UUID, got {value[:60]!r}") from None


def parse_optional_uuid(value: str | None, what: str = "id") -> str | None:
    """``parse_uuid`` for an optional id: missing or empty is None."""
    return parse_uuid(value, what) if value else None


def json_response(content: Any, status_code: int = 200) -> Response:
    """Serialise with orjson straight to bytes (read models hand over plain dicts and lists)."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
