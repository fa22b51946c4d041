"""Idempotency-Key on the creating POSTs of both APIs: the FastAPI side of ``infra/idempotency.py``.

A route opts in with one marker in its ``dependencies``: ``IDEMPOTENT`` (bearer-token routes) or
``idempotent_key(require(...))`` (API-key routes, given the route's own key dependency so the key
is checked once), on a router built with ``route_class=IdempotentRoute``.

Why a dependency: it runs after authentication (it takes the user or key as a sub-dependency), so
a replay goes only to the principal that made the first request, and a key's permission is checked
before anything is replayed. The principal is the user id, for a bearer token and for every API key
the user owns alike: a retry after rotating a key still finds its first answer (as Stripe scopes keys
per account), and routes differ between the APIs, so a key cannot meet a request of the other API.

Why a route class: only the wrapper around the whole route handler sees the answer. It stores a 2xx
answer under the claim the dependency left in ``request.state``, and releases the claim on any other
answer or an exception, so a corrected retry with the same key runs. A replay is the dependency's
``Replay`` exception, answered by the wrapper before the endpoint is called.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from services.infra import idempotency as keys
from services.infra.http import CurrentUser
from services.infra.http_errors import refusals

_DESCRIPTION = (f"Makes the request safe to repeat: a repeat with the same key within 24 h answers the first "
                f"2xx answer again (header `{keys.REPLAYED_HEADER}: true`) and records nothing; the same key "
                f"with a different request is 422, while the first is still running 409. 1-255 printable "
                f"ASCII characters, per user.")
log = logging.getLogger(__name__)
_STATE = "idempotency_claim"
_WRAPPED = "idempotency_route"


class Replay(Exception):
    """The stored first answer, to send instead of calling the endpoint."""

    def __init__(self, stored: keys.Stored) -> None:
        super().__init__("replay")
        self.stored = stored

    def response(self) -> Response:
        headers = {keys.REPLAYED_HEADER: "true"}
        if self.stored.content_type:
            headers["content-type"] = self.stored.content_type
        return Response(self.stored.body, status_code=self.stored.status, headers=headers)


def store_of(request: Request) -> keys.IdempotencyKeys:
    return request.app.state.command_services.idempotency_keys


async def claim(request: Request, principal: str, key: str | None) -> None:
    """Claim ``key`` for this request, or raise what to answer instead (replay, 422, 409, 400)."""
    if key is None:
        return  # no header: behaviour unchanged
    if not getattr(request.state, _WRAPPED, False):
        raise RuntimeError(f"{request.url.path} uses the Idempotency-Key marker without route_class=IdempotentRoute")
    key = keys.validate_key(key)
    print_ = keys.fingerprint(request.method, request.url.path, request.scope.get("query_string") or b"",
                              await request.body())
    try:
        outcome = await store_of(request).claim(principal, key, print_)
    except keys.KeyReused as exc:
        # the shape of every other 422 (FastAPI's HTTPValidationError), as the route documents it
        raise HTTPException(422, detail=[{"loc": ["header", keys.HEADER], "msg": str(exc),
                                          "type": "idempotency_key_reused"}]) from None
    except keys.StoredUnreadable as exc:
        raise HTTPException(409, detail=str(exc)) from None
    except keys.InProgress as exc:
        raise HTTPException(409, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
    if isinstance(outcome, keys.Stored):
        raise Replay(outcome)
    setattr(request.state, _STATE, outcome)


async def _header(key: str | None = Header(None, alias=keys.HEADER, description=_DESCRIPTION,
                                           json_schema_extra={"maxLength": keys.MAX_KEY_CHARS,
                                                              "pattern": "^[ -~]{1,255}$"})) -> str | None:
    # async although it awaits nothing: FastAPI runs a plain ``def`` dependency in its thread pool,
    # a thread hop on every creating POST for a function that returns its argument
    return key


def _user_principal(user_id: str) -> str:
    return f"user:{user_id}"


async def _as_user(request: Request, user: CurrentUser, key: str | None = Depends(_header)) -> None:
    await claim(request, _user_principal(user.id), key)


def idempotent_key(auth) -> Any:
    """The marker for an API-key route; ``auth`` is the route's own key dependency (one check)."""

    async def as_key_owner(request: Request, api_key=Depends(auth), key: str | None = Depends(_header)) -> None:
        principal = _user_principal(api_key.user_id) if api_key.user_id else f"api_key:{api_key.key_id}"
        await claim(request, principal, key)

    as_key_owner.idempotent = True  # type: ignore[attr-defined]
    return Depends(as_key_owner)


_as_user.idempotent = True  # type: ignore[attr-defined]
IDEMPOTENT = Depends(_as_user)


def _opted_in(dependencies) -> bool:
    return any(getattr(dep.dependency, "idempotent", False) for dep in dependencies or ())


class IdempotentRoute(APIRoute):
    """An ``APIRoute`` that stores or releases the claim of a route with the marker, and documents the
    marker's own refusals (400 for a bad header, 409 while the first request runs; 422 is FastAPI's)."""

    def __init__(self, path: str, endpoint, **kwargs: Any) -> None:
        if _opted_in(kwargs.get("dependencies")):
            kwargs["responses"] = {**refusals(400, 409), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self):
        handler = super().get_route_handler()
        if not _opted_in(self.dependencies):
            return handler

        async def idempotent_handler(request: Request) -> Response:
            setattr(request.state, _WRAPPED, True)
            try:
                response = await handler(request)
            except Replay as replay:
                return replay.response()
            except BaseException:
                await _release(request)
                raise
            taken: keys.Claim | None = getattr(request.state, _STATE, None)
            if taken is not None:
                body = getattr(response, "body", None)
                if 200 <= response.status_code < 300 and isinstance(body, bytes | bytearray | memoryview):
                    try:
                        await store_of(request).store(taken, response.status_code,
                                                      response.headers.get("content-type"), bytes(body))
                    except Exception:  # the creation happened: answer it; a repeat meets the running claim
                        log.warning("could not store the answer for Idempotency-Key on %s", request.url.path,
                                    exc_info=True)
                else:
                    await _release(request)
            return response

        return idempotent_handler


async def _release(request: Request) -> None:
    taken: keys.Claim | None = getattr(request.state, _STATE, None)
    if taken is not None:
        setattr(request.state, _STATE, None)
        await store_of(request).release(taken)
