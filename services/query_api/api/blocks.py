"""``GET /api/blocks``: every enabled block in AutoGPT's block dict shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from services.infra.auth import User
from services.infra.http import json_response, refusals
from services.domain.credits.pricing import block_catalogue


def _catalogue() -> list[dict[str, Any]]:
    return block_catalogue()


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["blocks"], responses=refusals(401))

    @router.get("/blocks", summary="Every enabled block with its input and output schema")
    async def list_blocks(user: User = Depends(current_user)):
        return json_response(_catalogue())

    return router
