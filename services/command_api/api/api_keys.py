"""API key write routes (AutoGPT paths): create, revoke, suspend, change permissions.

Creation is the only answer that ever contains the plain key. The routes are async so they can
add the key's last use (``api_key_usage``) to the answer; the store calls run in worker threads
because eventsourcing is synchronous.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.application.api_keys import ApiKeyCommands, key_info
from services.infra.auth import User
from services.infra.http import BODY_REFUSALS, UuidPath, parse_uuid, refusals


class CreateApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    permissions: list[str] = Field(default_factory=list, max_length=100)
    description: str | None = None


class UpdatePermissionsRequest(BaseModel):
    permissions: list[str] = Field(max_length=100)


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api/api-keys", tags=["api-keys"], responses=refusals(401))

    def commands(request: Request) -> ApiKeyCommands:
        return request.app.state.api_key_commands

    async def answer(request: Request, key) -> dict[str, Any]:
        usage = request.app.state.command_services.key_usage
        return key_info(key, await usage.last_used(key.key_id))

    @router.post("", summary="Create an API key; the only time its plain text is returned",
                 responses=refusals(*BODY_REFUSALS))
    async def create_api_key(body: CreateApiKeyRequest, request: Request,
                             user: User = Depends(current_user)) -> dict[str, Any]:
        key, plain = await asyncio.to_thread(commands(request).create, user, body.name, body.permissions,
                                             body.description)
        return {"api_key": key_info(key), "plain_text_key": plain}

    @router.delete("/{key_id}", summary="Revoke an API key", responses=refusals(400, 404, 409))
    async def revoke_api_key(key_id: UuidPath, request: Request, user: User = Depends(current_user)) -> dict[str, Any]:
        key = await asyncio.to_thread(commands(request).revoke, user, parse_uuid(key_id, "key_id"))
        return await answer(request, key)

    @router.post("/{key_id}/suspend", summary="Suspend an API key", responses=refusals(*BODY_REFUSALS, 404, 409))
    async def suspend_api_key(key_id: UuidPath, request: Request, user: User = Depends(current_user)) -> dict[str, Any]:
        key = await asyncio.to_thread(commands(request).suspend, user, parse_uuid(key_id, "key_id"))
        return await answer(request, key)

    @router.put("/{key_id}/permissions", summary="Replace an API key's permissions",
                responses=refusals(*BODY_REFUSALS, 404, 409))
    async def update_permissions(key_id: UuidPath, body: UpdatePermissionsRequest, request: Request,
                                 user: User = Depends(current_user)) -> dict[str, Any]:
        key = await asyncio.to_thread(commands(request).set_permissions, user, parse_uuid(key_id, "key_id"),
                                      body.permissions)
        return await answer(request, key)

    return router
