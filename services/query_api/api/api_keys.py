"""API key read routes (AutoGPT paths and shapes): list the caller's keys, get one."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from services.domain.apikeys.shapes import APIKeyInfo
from services.domain.errors import NotFoundError
from services.infra.http import CurrentUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.read_models import api_keys as rm


async def list_api_keys(user: CurrentUser, pool: ReadPool) -> Response:
    """Served at ``/api/api-keys`` and at the seed's ``/api/user/api-keys``."""
    return json_response(await rm.list_keys(pool, user.id))


LIST_ROUTE = {"summary": "The caller's API keys (never the keys themselves)", "response_model": list[APIKeyInfo],
              "methods": ["GET"]}


def _router(prefix: str) -> APIRouter:
    return APIRouter(prefix=prefix, tags=["api-keys"], responses=refusals(401),
                     dependencies=[Depends(fenced("apikeys"))])


def build_router() -> APIRouter:
    router = _router("/api/api-keys")
    router.add_api_route("", list_api_keys, **LIST_ROUTE)

    @router.get("/{key_id}", summary="One of the caller's API keys", response_model=APIKeyInfo,
                responses=refusals(400, 404))
    async def get_api_key(key_id: UuidPath, user: CurrentUser, pool: ReadPool) -> Response:
        found = await rm.get_key(pool, user.id, parse_uuid(key_id, "key_id"))
        if found is None:
            raise NotFoundError(f"API key #{key_id} not found")
        return json_response(found)

    user_paths = _router("/api/user/api-keys")
    user_paths.add_api_route("", list_api_keys, **LIST_ROUTE)
    both = APIRouter()
    both.include_router(router)
    both.include_router(user_paths)
    return both
