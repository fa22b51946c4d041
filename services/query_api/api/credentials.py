"""Credential read routes (AutoGPT paths and shapes): the caller's credentials and the platform's
system credentials, as references. No route on any side ever returns a secret."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.infra.auth import User
from services.infra.http import NotFound, json_response, refusals
from services.domain.integrations.credentials import credentials_uuid, meta_response
from services.domain.llm.providers import KNOWN_PROVIDERS
from services.domain.integrations.system import configured_system_credentials
from services.infra.settings import Settings
from services.query_api.read_models import credentials as rm

NOT_FOUND = "Credentials not found"


def build_router(current_user, fenced, settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/api/integrations", tags=["integrations"], responses=refusals(401))
    system = [meta_response(c.id, c.provider, c.type, c.title) for c in configured_system_credentials(settings).values()]
    system_by_id = {item["id"]: item for item in system}

    def known(provider: str) -> None:
        if provider not in KNOWN_PROVIDERS:
            raise NotFound(f"Unknown provider '{provider}'")

    @router.get("/credentials", summary="The caller's credentials and the platform's, as references")
    async def list_all_credentials(request: Request, user: User = Depends(current_user),
                                   _: None = Depends(fenced("integrations"))):
        return json_response(await rm.list_credentials(request.app.state.read_pool, user.id) + system)

    @router.get("/providers", summary="Provider names credentials can be stored for")
    async def list_providers(_: User = Depends(current_user)):
        return json_response(sorted(KNOWN_PROVIDERS))

    @router.get("/providers/system", summary="Providers the platform offers its own credentials for")
    async def list_system_providers(_: User = Depends(current_user)):
        return json_response(sorted({item["provider"] for item in system}))

    @router.get("/{provider}/credentials", summary="The caller's credentials for one provider",
                responses=refusals(404))
    async def list_provider_credentials(provider: str, request: Request, user: User = Depends(current_user),
                                        _: None = Depends(fenced("integrations"))):
        known(provider)
        own = await rm.list_credentials(request.app.state.read_pool, user.id, provider)
        return json_response(own + [item for item in system if item["provider"] == provider])

    @router.get("/{provider}/credentials/{cred_id}", summary="One credential, as a reference",
                responses=refusals(404))
    async def get_credentials(provider: str, cred_id: str, request: Request, user: User = Depends(current_user),
                              _: None = Depends(fenced("integrations"))):
        known(provider)
        parsed = credentials_uuid(cred_id)  # every credential id, system ones included, is a UUID
        found = None
        if parsed is not None:
            found = system_by_id.get(str(parsed)) or await rm.get_credentials(request.app.state.read_pool,
                                                                               user.id, str(parsed))
        if found is None or found["provider"] != provider:
            raise NotFound(NOT_FOUND)
        return json_response(found)

    return router
