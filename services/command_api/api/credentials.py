"""Credential write routes (AutoGPT paths): store an API key for a provider, delete one.

Reads (list, get) are on the query side. The body is AutoGPT's ``APIKeyCredentials`` shape; the
``api_key`` goes in and never comes back out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.application.credentials import CredentialsCommands
from services.infra.auth import User
from services.infra.http import BODY_REFUSALS, refusals


class CreateCredentialsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    type: str = "api_key"
    api_key: str = Field(min_length=1, max_length=8192)
    title: str | None = Field(default=None, max_length=200)
    expires_at: int | None = Field(default=None, ge=0, le=2 ** 53)
    id: str | None = None
    provider: str | None = None  # the path wins, as in AutoGPT


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api/integrations", tags=["integrations"], responses=refusals(401))

    def commands(request: Request) -> CredentialsCommands:
        return request.app.state.credentials_commands

    @router.post("/{provider}/credentials", status_code=201, summary="Store an API key credential",
                 responses=refusals(*BODY_REFUSALS, 403, 404, 409))
    async def create_credentials(provider: str, body: CreateCredentialsRequest, request: Request,
                                 user: User = Depends(current_user)) -> dict[str, Any]:
        return await asyncio.to_thread(
            commands(request).create, user, provider, api_key=body.api_key, title=body.title,
            expires_at=body.expires_at, credentials_id=body.id, type_=body.type)

    @router.delete("/{provider}/credentials/{cred_id}", summary="Delete a credential",
                   responses=refusals(403, 404, 409))
    async def delete_credentials(provider: str, cred_id: str, request: Request,
                                 user: User = Depends(current_user)) -> dict[str, Any]:
        return await asyncio.to_thread(commands(request).delete, user, provider, cred_id)

    return router
