"""API key write routes (AutoGPT paths): create, revoke, suspend, change permissions.

Creation is the only answer that ever contains the plain key. The routes are async so they can
add the key's last use (``api_key_usage``) to the answer; the store calls run in worker threads
because eventsourcing is synchronous.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import ApiKeys, CurrentUser, KeyUsages
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.command_api.api.responses import CreatedApiKey
from services.command_api.application.api_keys import KeyUsage, key_info
from services.domain.apikeys.api_key import ApiKey
from services.domain.apikeys.shapes import APIKeyInfo
from services.infra.http import UuidPath, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals


class CreateApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    permissions: list[str] = Field(default_factory=list, max_length=100)
    description: str | None = None


class UpdatePermissionsRequest(BaseModel):
    permissions: list[str] = Field(max_length=100)


async def _answer(key: ApiKey, usage: KeyUsage) -> Response:
    return json_response(key_info(key, await usage.last_used(key.key_id)))


async def create_api_key(body: CreateApiKeyRequest, user: CurrentUser, keys: ApiKeys) -> Response:
    """Served at ``/api/api-keys`` and at the seed's ``/api/user/api-keys``."""
    key, plain = await asyncio.to_thread(keys.create, user, body.name, body.permissions, body.description)
    return json_response({"api_key": key_info(key), "plain_text_key": plain})


CREATE_ROUTE = {"summary": "Create an API key; the only time its plain text is returned",
                "response_model": CreatedApiKey, "responses": refusals(*BODY_REFUSALS), "methods": ["POST"],
                "dependencies": [IDEMPOTENT]}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/api-keys", tags=["api-keys"], responses=refusals(401), route_class=IdempotentRoute)
    router.add_api_route("", create_api_key, **CREATE_ROUTE)

    @router.delete("/{key_id}", summary="Revoke an API key", response_model=APIKeyInfo,
                   responses=refusals(400, 404, 409))
    async def revoke_api_key(key_id: UuidPath, user: CurrentUser, keys: ApiKeys, usage: KeyUsages) -> Response:
        return await _answer(await asyncio.to_thread(keys.revoke, user, parse_uuid(key_id, "key_id")), usage)

    @router.post("/{key_id}/suspend", summary="Suspend an API key", response_model=APIKeyInfo,
                 responses=refusals(*BODY_REFUSALS, 404, 409))
    async def suspend_api_key(key_id: UuidPath, user: CurrentUser, keys: ApiKeys, usage: KeyUsages) -> Response:
        return await _answer(await asyncio.to_thread(keys.suspend, user, parse_uuid(key_id, "key_id")), usage)

    @router.put("/{key_id}/permissions", summary="Replace an API key's permissions", response_model=APIKeyInfo,
                responses=refusals(*BODY_REFUSALS, 404, 409))
    async def update_permissions(key_id: UuidPath, body: UpdatePermissionsRequest, user: CurrentUser,
                                 keys: ApiKeys, usage: KeyUsages) -> Response:
        key = await asyncio.to_thread(keys.set_permissions, user, parse_uuid(key_id, "key_id"), body.permissions)
        return await _answer(key, usage)

    user_paths = APIRouter(prefix="/api/user/api-keys", tags=["api-keys"], responses=refusals(401),
                           route_class=IdempotentRoute)
    user_paths.add_api_route("", create_api_key, **CREATE_ROUTE)
    both = APIRouter()
    both.include_router(router)
    both.include_router(user_paths)
    return both
