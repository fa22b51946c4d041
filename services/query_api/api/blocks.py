"""``GET /api/blocks`` and ``GET /api/blocks/{id}``: enabled blocks in AutoGPT's block dict shape."""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import Response

from services.domain.credits.pricing import block_catalogue
from services.domain.credits.shapes import BlockInfo
from services.domain.errors import NotFoundError
from services.infra.http import CurrentUser, json_response
from services.infra.http_errors import refusals


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["blocks"], responses=refusals(401))

    @router.get("/blocks", summary="Every enabled block with its input and output schema",
                response_model=list[BlockInfo])
    async def list_blocks(_: CurrentUser) -> Response:
        return json_response(block_catalogue())

    @router.get("/blocks/{block_id}", summary="One enabled block with its input and output schema",
                response_model=BlockInfo, responses=refusals(404))
    async def get_block(_: CurrentUser, block_id: str = Path(max_length=64)) -> Response:
        """The seed's path (AutoGPT has ``/api/builder/blocks/batch``): one entry of ``/api/blocks``."""
        for block in block_catalogue():
            if block["id"] == block_id:
                return json_response(block)
        raise NotFoundError(f"Block #{block_id} not found")

    return router
