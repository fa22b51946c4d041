"""Credential read routes (AutoGPT paths and shapes): the caller's credentials and the platform's
system credentials, as references. No route on any side ever returns a secret."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from services.domain.errors import NotFoundError
from services.domain.integrations.credentials import credentials_uuid, meta_response
from services.domain.integrations.shapes import CredentialsMetaResponse
from services.domain.integrations.system import configured_system_credentials
from services.domain.llm.providers import KNOWN_PROVIDERS
from services.infra.http import CurrentUser, json_response
from services.infra.http_errors import refusals
from services.infra.settings import Settings
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.read_models import credentials as rm

NOT_FOUND = "Credentials not found"
_FENCED = [Depends(fenced("integrations"))]


def _known(provider: str) -> None:
    if provider not in KNOWN_PROVIDERS:
        raise NotFoundError(f"Unknown provider '{provider}'")


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/api/integrations", tags=["integrations"], responses=refusals(401))
    system = [meta_response(c.id, c.provider, c.type, c.title)
              for c in configured_system_credentials(settings).values()]
    system_by_id = {item["id"]: item for item in system}

    @router.get("/credentials", summary="The caller's credentials and the platform's, as references",
                response_model=list[CredentialsMetaResponse], dependencies=_FENCED)
    async def list_all_credentials(user: CurrentUser, pool: ReadPool) -> Response:
        return json_response(await rm.list_credentials(pool, user.id) + system)

    @router.get("/providers", summary="Provider names credentials can be stored for", response_model=list[str])
    async def list_providers(_: CurrentUser) -> Response:
        return json_response(sorted(KNOWN_PROVIDERS))

    @router.get("/providers/system", summary="Providers the platform offers its own credentials for",
                response_model=list[str])
    async def list_system_providers(_: CurrentUser) -> Response:
        return json_response(sorted({item["provider"] for item in system}))

    @router.get("/{provider}/credentials", summary="The caller's credentials for one provider",
                response_model=list[CredentialsMetaResponse], responses=refusals(404), dependencies=_FENCED)
    async def list_provider_credentials(provider: str, user: CurrentUser, pool: ReadPool) -> Response:
        _known(provider)
        own = await rm.list_credentials(pool, user.id, provider)
        return json_response(own + [item for item in system if item["provider"] == provider])

    @router.get("/{provider}/credentials/{cred_id}", summary="One credential, as a reference",
                response_model=CredentialsMetaResponse, responses=refusals(404), dependencies=_FENCED)
    async def get_credentials(provider: str, cred_id: str, user: CurrentUser, pool: ReadPool) -> Response:
        _known(provider)
        parsed = credentials_uuid(cred_id)  # every credential id, system ones included, is a UUID
        found = None
        if parsed is not None:
            found = system_by_id.get(str(parsed)) or await rm.get_credentials(pool, user.id, str(parsed))
        if found is None or found["provider"] != provider:
            raise NotFoundError(NOT_FOUND)
        return json_response(found)

    return router
