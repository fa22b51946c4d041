"""``GET /api/blocks``: every enabled block in AutoGPT's block dict shape."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from services.domain.credits.pricing import block_catalogue
from services.domain.credits.shapes import BlockInfo
from services.infra.http import CurrentUser, json_response
from services.infra.http_errors import refusals


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["blocks"], responses=refusals(401))

    @router.get("/blocks", summary="Every enabled block with its input and output schema",
                response_model=list[BlockInfo])
    async def list_blocks(_: CurrentUser) -> Response:
        return json_response(block_catalogue())

    return router
