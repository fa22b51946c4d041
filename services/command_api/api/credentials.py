"""Credential write routes (AutoGPT paths): store an API key for a provider, delete one.

Reads (list, get) are on the query side. The body is AutoGPT's ``APIKeyCredentials`` shape; the
``api_key`` goes in and never comes back out.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import Credentials, CurrentUser
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.command_api.api.responses import CredentialsDeletionResponse
from services.domain.integrations.shapes import CredentialsMetaResponse
from services.infra.http import json_response
from services.infra.http_errors import BODY_REFUSALS, refusals


class CreateCredentialsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    type: str = "api_key"
    api_key: str = Field(min_length=1, max_length=8192)
    title: str | None = Field(default=None, max_length=200)
    expires_at: int | None = Field(default=None, ge=0, le=2 ** 53)
    id: str | None = None
    provider: str | None = None  # the path wins, as in AutoGPT


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/integrations", tags=["integrations"], responses=refusals(401),
                       route_class=IdempotentRoute)

    @router.post("/{provider}/credentials", status_code=201, summary="Store an API key credential",
                 response_model=CredentialsMetaResponse, responses=refusals(*BODY_REFUSALS, 403, 404, 409),
                 dependencies=[IDEMPOTENT])
    async def create_credentials(provider: str, body: CreateCredentialsRequest, user: CurrentUser,
                                 credentials: Credentials) -> Response:
        created = await asyncio.to_thread(
            credentials.create, user, provider, api_key=body.api_key, title=body.title,
            expires_at=body.expires_at, credentials_id=body.id, type_=body.type)
        return json_response(created, status_code=201)

    @router.delete("/{provider}/credentials/{cred_id}", summary="Delete a credential",
                   response_model=CredentialsDeletionResponse, responses=refusals(403, 404, 409))
    async def delete_credentials(provider: str, cred_id: str, user: CurrentUser,
                                 credentials: Credentials) -> Response:
        return json_response(await asyncio.to_thread(credentials.delete, user, provider, cred_id))

    return router
