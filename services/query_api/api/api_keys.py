"""API key read routes (AutoGPT paths and shapes): list the caller's keys, get one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.infra.auth import User
from services.infra.http import NotFound, UuidPath, json_response, parse_uuid, refusals
from services.query_api.read_models import api_keys as rm


def build_router(current_user, fenced) -> APIRouter:
    router = APIRouter(prefix="/api/api-keys", tags=["api-keys"], responses=refusals(401))

    @router.get("", summary="The caller's API keys (never the keys themselves)")
    async def list_api_keys(request: Request, user: User = Depends(current_user),
                            _: None = Depends(fenced("apikeys"))):
        return json_response(await rm.list_keys(request.app.state.read_pool, user.id))

    @router.get("/{key_id}", summary="One of the caller's API keys", responses=refusals(400, 404))
    async def get_api_key(key_id: UuidPath, request: Request, user: User = Depends(current_user),
                          _: None = Depends(fenced("apikeys"))):
        found = await rm.get_key(request.app.state.read_pool, user.id, parse_uuid(key_id, "key_id"))
        if found is None:
            raise NotFound(f"API key #{key_id} not found")
        return json_response(found)

    return router
